"""How the server reads JSON it is sent: one set of rules for every request body
and for every JSON text inside a CloudEvent's ``data``.

* The text must be UTF-8 (an initial byte-order mark is ignored) and well-formed
  JSON; otherwise :class:`json.JSONDecodeError` (the API answers 400).
* Anything well-formed that the server would not store and serve back exactly is
  refused with :class:`JsonRefused` (the API answers 422, saying which rule):

  - a key twice in one object (parsers disagree on which one wins, so no
    member is silently dropped);
  - ``NaN``, ``Infinity``, ``-Infinity``, or a number too large for a double
    (``1e400``);
  - an integer of more than 4,300 digits (smaller ones are kept exact);
  - arrays and objects nested more than :data:`MAX_DEPTH` deep;
  - a lone UTF-16 surrogate in a string (an unpaired ``\\ud800`` to ``\\udfff``
    escape: not Unicode text, and no database or JSON encoder takes it).

Written here rather than found in a library: the standard decoder reports none of
these (orjson neither reports duplicates nor keeps integers beyond 64 bits), and
its C scanner with two small hooks is the fastest way to check them.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64
"""The deepest nesting of arrays and objects accepted in one JSON document."""


class JsonRefused(ValueError):
    """Well-formed JSON that breaks one of the rules above; ``str(exc)`` says which."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                # ascii(): the key may hold anything; the message must stay encodable
                raise JsonRefused(f"the key {ascii(key)[:80]} appears twice in one object")
            seen.add(key)
    return obj


def _constant(name: str) -> Any:
    raise JsonRefused(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise JsonRefused(f"the number {text[:40]} is too large for a double")
    return value


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_constant, parse_float=_float)
# Text that may hold a surrogate escape; only then is the decoded value searched.
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
SURROGATE = re.compile("[\ud800-\udfff]")


def parse(raw: bytes | str) -> Any:
    """The value of the JSON document ``raw``, read by the rules of this module."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise json.JSONDecodeError("the body is not UTF-8 text", "", exc.start) from exc
    else:
        text = raw
    try:
        value = _DECODER.decode(text)
    except RecursionError as exc:
        raise JsonRefused(f"arrays and objects are nested more than {MAX_DEPTH} deep") from exc
    except (json.JSONDecodeError, JsonRefused):
        raise
    except ValueError as exc:  # int(): "Exceeds the limit (4300 digits) for integer string conversion"
        raise JsonRefused("an integer has more than 4300 digits") from exc
    # Each bracket opens at most one level: few brackets, no walk.
    if text.count("[") + text.count("{") > MAX_DEPTH and depth_exceeds(value, MAX_DEPTH):
        raise JsonRefused(f"arrays and objects are nested more than {MAX_DEPTH} deep")
    if SURROGATE_ESCAPE.search(text) is not None and holds_lone_surrogate(value):
        raise JsonRefused("a string holds a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape)")
    return value


def depth_exceeds(value: Any, limit: int) -> bool:
    """True when arrays and objects in ``value`` nest more than ``limit`` deep (no recursion)."""
    stack = [(value, 1)] if type(value) in (dict, list) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if type(node) is dict else node:
            if type(child) in (dict, list):
                stack.append((child, depth + 1))
    return False


def holds_lone_surrogate(value: Any) -> bool:
    """True when a string (key or value) in ``value`` holds a surrogate code point.

    Decoding joins a valid ``\\ud83d\\ude00`` pair into one character, so any
    surrogate left after decoding has no partner.
    """
    text = json.dumps(value, ensure_ascii=False, check_circular=False)
    return SURROGATE.search(text) is not None
