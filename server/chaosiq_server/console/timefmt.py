"""Parsing and showing the timestamps that clients and the server write."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO 8601 text; naive text is taken as UTC."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def show_time(value: Any) -> str:
    """``2024-01-02 03:04:05 UTC``, or the raw value if it is not a timestamp."""
    parsed = value if isinstance(value, datetime) else parse_time(value)
    if parsed is None:
        return "" if value is None else str(value)
    return parsed.strftime("%Y-%m-%d %H:%M:%S UTC")


def show_clock(value: Any) -> str:
    """``03:04:05.123`` (UTC): a time of day, for rows under a date shown once."""
    parsed = value if isinstance(value, datetime) else parse_time(value)
    if parsed is None:
        return "" if value is None else str(value)
    return parsed.strftime("%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}"


def show_duration(seconds: Any) -> str:
    """``850 ms``, ``12.3 s``, ``4 min 05 s``, ``2 h 03 min``; empty if unknown."""
    if not isinstance(seconds, (int, float)) or seconds < 0:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
