"""Weekly time windows in a time zone ("Friday 16:00 to Monday 08:00, Europe/Paris").

A window is local wall-clock time in an IANA time zone: ``now`` is converted
with :mod:`zoneinfo` and compared as a second of the local week, so daylight
saving changes move the window's real-time bounds with the clocks: a bound in
an hour the clocks skip takes effect when they jump past it, and a local time
the clocks repeat is inside (or outside) the window both times. A window may
span days, midnight and the end of the week (a start after the end wraps).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?$")


@lru_cache(maxsize=1)
def time_zones() -> frozenset[str]:
    """Every IANA time zone name this machine knows (``zoneinfo.available_timezones``)."""
    return frozenset(available_timezones())


def zone(name: str) -> ZoneInfo:
    """The time zone ``name``; ``ValueError`` with one clear line when there is no such zone."""
    if not isinstance(name, str) or name not in time_zones():
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as Europe/Paris or UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # pragma: no cover - listed but unreadable
        raise ValueError(f"unknown time zone {name!r}") from exc


def seconds(hhmm: str) -> int:
    """``"16:30"`` → 59400 (seconds into the day); ``ValueError`` unless it is HH:MM or
    HH:MM:SS from 00:00 to 23:59:59."""
    found = TIME.match(hhmm) if isinstance(hhmm, str) else None
    if not found:
        raise ValueError(f"time {hhmm!r} is not HH:MM (00:00 to 23:59)")
    return int(found.group(1)) * 3600 + int(found.group(2)) * 60 + int(found.group(3) or 0)


@dataclass(frozen=True)
class Window:
    """From ``start_day start_time`` to ``end_day end_time`` every week (days: 0 = Monday;
    times HH:MM or HH:MM:SS)."""

    start_day: int
    start_time: str
    end_day: int
    end_time: str
    time_zone: str

    def __post_init__(self) -> None:
        for day in (self.start_day, self.end_day):
            if not isinstance(day, int) or isinstance(day, bool) or not 0 <= day <= 6:
                raise ValueError("a day is 0 (Monday) to 6 (Sunday)")
        zone(self.time_zone)
        if self._start == self._end:
            raise ValueError("a window must not start when it ends")

    @property
    def _start(self) -> int:
        return self.start_day * 86400 + seconds(self.start_time)

    @property
    def _end(self) -> int:
        return self.end_day * 86400 + seconds(self.end_time)

    def is_open(self, now: datetime | None = None) -> bool:
        """Whether the window is open at ``now`` (aware; default: the current time)."""
        moment = (now or datetime.now(timezone.utc)).astimezone(zone(self.time_zone))
        m = moment.weekday() * 86400 + moment.hour * 3600 + moment.minute * 60 + moment.second
        start, end = self._start, self._end
        if start < end:
            return start <= m < end
        return m >= start or m < end  # wraps past Sunday midnight

    def describe(self) -> str:
        """``Fri 16:00 \N{EN DASH} Mon 08:00 Europe/Paris``."""
        start = f"{DAYS[self.start_day]} {self.start_time}"
        return f"{start} \N{EN DASH} {DAYS[self.end_day]} {self.end_time} {self.time_zone}"
