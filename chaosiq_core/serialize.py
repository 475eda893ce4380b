"""Tolerant JSON encoding of experiments, journals and activity outputs.

Journals may hold ``datetime``s, ``Decimal``s, ``UUID``s, chaostoolkit-lib's
``Dry`` enum during ``--dry`` runs and arbitrary activity outputs: anything
the standard encoder does not know becomes its string form instead of failing.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import enum
import json
import uuid
from typing import Any


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


def dumps(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` that never fails on an unknown type."""
    if not kwargs:  # the common case: one encoder for every call (json.dumps builds one per call)
        return _ENCODER.encode(obj)
    return json.dumps(obj, default=_default, ensure_ascii=False, **kwargs)


def to_jsonable(obj: Any) -> Any:
    """A deep, JSON-safe copy of ``obj`` (safe to hand to another thread)."""
    return json.loads(dumps(obj))
