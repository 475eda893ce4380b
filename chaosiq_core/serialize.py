"""Tolerant JSON encoding of experiments, journals and activity outputs.

Journals may hold ``datetime``s, ``Decimal``s, ``UUID``s, chaostoolkit-lib's
``Dry`` enum during ``--dry`` runs and arbitrary activity outputs: anything
the standard encoder does not know becomes its string form instead of failing.

Encoding is done by `orjson <https://github.com/ijl/orjson>`_: the publisher
encodes every event of a run, and orjson does it about ten times faster than
the standard library (benchmarks/RESULTS.md). Its output is compact JSON;
``NaN`` and infinities become ``null`` (they are not JSON: a server refuses
them). What orjson cannot encode (integers beyond 64 bits, surrogates, cycles)
goes through the standard encoder, as before.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import enum
import json
import uuid
from typing import Any

import orjson


def _default(obj: Any) -> Any:
    if isinstance(obj, (_dt.datetime, _dt.date, _dt.time)):
        return obj.isoformat()
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, decimal.Decimal):
        return str(obj)
    if isinstance(obj, uuid.UUID):
        return str(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", errors="replace")
    if isinstance(obj, BaseException):
        return f"{type(obj).__name__}: {obj}"
    return str(obj)


_ENCODER = json.JSONEncoder(default=_default, ensure_ascii=False)
_OPTIONS = orjson.OPT_NON_STR_KEYS  # int, float, bool, None keys become strings, as json.dumps does


def dumps(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` that never fails on an unknown type (compact, through orjson)."""
    if not kwargs:
        try:
            return orjson.dumps(obj, default=_default, option=_OPTIONS).decode()
        except TypeError:  # orjson.JSONEncodeError: big integers, surrogates, cycles, odd keys
            return _ENCODER.encode(obj)
    return json.dumps(obj, default=_default, ensure_ascii=False, **kwargs)


def loads(text: str | bytes) -> Any:
    """``json.loads`` through orjson (the standard decoder for what orjson refuses, e.g. a big integer)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def to_jsonable(obj: Any) -> Any:
    """A deep, JSON-safe copy of ``obj`` (safe to hand to another thread)."""
    return loads(dumps(obj))
