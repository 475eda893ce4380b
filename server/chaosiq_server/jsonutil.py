"""JSON helpers: strict dumping, canonical hashing, cursors, timestamps."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import datetime, timezone
from typing import Any

from .errors import BadInput
from .strict_json import SURROGATE, SURROGATE_ESCAPE, holds_lone_surrogate


def dumps(value: Any) -> str:
    """Serialise for storage; NaN/Infinity are refused (they are not JSON)."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError as exc:
        raise BadInput(f"body is not valid JSON for storage: {exc}") from exc
    except RecursionError as exc:
        raise BadInput("body is nested too deeply") from exc


UNREADABLE = {"chaosiq_server": "not shown: nested too deeply to read (stored by an earlier version)"}


def loads(text: str | None) -> Any:
    """A stored JSON document, made safe to serve.

    Everything the server stores now passed :mod:`.strict_json`; rows written by
    earlier versions may not have: a lone surrogate in a string is served as
    U+FFFD (it cannot be encoded in a response), and a document nested too deeply
    for Python's decoder is served as :data:`UNREADABLE` (an object saying so), so no row
    makes a read fail.
    """
    if text is None:
        return None
    try:
        value = json.loads(text)
    except RecursionError:
        return dict(UNREADABLE)
    if SURROGATE_ESCAPE.search(text) is not None and holds_lone_surrogate(value):
        mended = SURROGATE.sub("\ufffd", json.dumps(value, ensure_ascii=False))
        value = json.loads(mended)
    return value


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def encode_cursor(*parts: Any) -> str:
    raw = json.dumps(list(parts), separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        parts = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise BadInput("invalid cursor", 400) from exc
    if not isinstance(parts, list) or len(parts) != arity or not all(map(_cursor_part, parts)):
        raise BadInput("invalid cursor", 400)
    return parts


def _cursor_part(part: Any) -> bool:
    """A part the database can compare: a short string of text without NUL, or a 64-bit integer."""
    if type(part) is int:
        return -(2**63) <= part < 2**63
    if type(part) is not str or len(part) > 200 or "\x00" in part:
        return False
    try:
        part.encode("utf-8")  # no lone surrogate
    except UnicodeEncodeError:
        return False
    return True


_SECONDS: dict[str, str] = {}
"""``YYYY-MM-DDTHH:MM:SS±HH:MM`` → that second's UTC key: events come many to the second."""


def time_key(value: str | None, fallback: str) -> str:
    """A sortable UTC key for an RFC 3339 timestamp (``fallback`` when absent)."""
    if value is None:
        return fallback
    # the common shape (what chaosiq sends): YYYY-MM-DDTHH:MM:SS.ffffff±HH:MM
    if len(value) == 32 and value[19] == "." and value[26] in "+-":
        fraction = value[20:26]
        head = _SECONDS.get(value[:19] + value[26:])
        if head is not None and fraction.isascii() and fraction.isdigit():
            return f"{head}.{fraction}Z"
        key = _time_key(value)
        if fraction.isascii() and fraction.isdigit():
            if len(_SECONDS) >= 4096:
                _SECONDS.clear()
            _SECONDS[value[:19] + value[26:]] = key[:-8]
        return key
    return _time_key(value)


def _time_key(value: str) -> str:
    try:
        parsed = datetime.fromisoformat(value)
    except (ValueError, TypeError) as exc:
        raise BadInput(f"CloudEvent 'time' is not an RFC 3339 timestamp: {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        parsed = parsed.astimezone(timezone.utc)
    except (OverflowError, ValueError) as exc:
        raise BadInput(f"CloudEvent 'time' is out of range: {value!r}") from exc
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.%fZ").rjust(27, "0")
