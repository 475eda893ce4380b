"""The original's HTTP tolerances (``value`` is the probe's output)."""

from __future__ import annotations

from typing import Any

__all__ = ["response_time_above", "response_time_under", "status_in_range", "status_must_be"]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def status_must_be(value: Any = None, expected: int = 200) -> bool:
    """``True`` when the status code equals ``expected``."""
    return bool(value == expected)


def status_in_range(value: Any = None, lower: int = 100, upper: int = 600) -> bool:
    """``True`` when ``lower <= value <= upper`` (inclusive); ``False`` for a non-number."""
    v = _number(value)
    return v is not None and lower <= v <= upper


def response_time_under(value: Any = None, duration: float = 0) -> bool:
    """``True`` when the response time (ms) is at most ``duration``; ``False`` for a non-number."""
    v = _number(value)
    return v is not None and v <= duration


def response_time_above(value: Any = None, duration: float = 0) -> bool:
    """``True`` when the response time (ms) is at least ``duration``; ``False`` for a non-number."""
    v = _number(value)
    return v is not None and v >= duration
