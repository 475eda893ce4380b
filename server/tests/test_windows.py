"""Weekly windows in a time zone, across midnight, the week's end and DST changes."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from chaosiq_server.windows import Window

UTC = timezone.utc
FREEZE = Window(4, "16:00", 0, "08:00", "Europe/Paris")  # Friday 16:00 to Monday 08:00


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "utc,open_",
    [
        ("2026-06-05T13:59", False),  # Fri 15:59 CEST
        ("2026-06-05T14:00", True),  # Fri 16:00 CEST: opens
        ("2026-06-06T23:00", True),  # Sunday 01:00, past midnight
        ("2026-06-08T05:59", True),  # Mon 07:59 CEST
        ("2026-06-08T06:00", False),  # Mon 08:00 CEST: closed
        ("2026-06-10T12:00", False),  # Wednesday
        # winter (CET, UTC+1): the same local bounds are an hour later in UTC
        ("2026-01-09T14:30", False),  # Fri 15:30 CET
        ("2026-01-09T15:00", True),  # Fri 16:00 CET
        ("2026-01-12T06:59", True),  # Mon 07:59 CET
        ("2026-01-12T07:00", False),
    ],
)
def test_friday_freeze_follows_paris_time_summer_and_winter(utc: str, open_: bool) -> None:
    assert FREEZE.is_open(at(utc)) is open_


def test_a_freeze_over_the_weekend_the_clocks_go_forward_ends_at_monday_8_local() -> None:
    # Paris goes from CET to CEST on Sunday 2026-03-29 at 02:00 local (01:00 UTC)
    assert FREEZE.is_open(at("2026-03-27T15:00"))  # Fri 16:00 CET
    assert not FREEZE.is_open(at("2026-03-27T14:59"))
    assert FREEZE.is_open(at("2026-03-30T05:59"))  # Mon 07:59 CEST
    assert not FREEZE.is_open(at("2026-03-30T06:00"))  # Mon 08:00 CEST (07:00 UTC would be CET)


def test_a_window_in_the_skipped_hour_is_shorter_in_real_time() -> None:
    # Sunday 01:00 to 04:00 local on the day 02:00-03:00 does not exist: 2 real hours
    w = Window(6, "01:00", 6, "04:00", "Europe/Paris")
    assert not w.is_open(at("2026-03-28T23:59"))  # 00:59 CET
    assert w.is_open(at("2026-03-29T00:00"))  # 01:00 CET
    assert w.is_open(at("2026-03-29T01:00"))  # 03:00 CEST (02:00 never happened)
    assert w.is_open(at("2026-03-29T01:59"))  # 03:59 CEST
    assert not w.is_open(at("2026-03-29T02:00"))  # 04:00 CEST
    # one starting inside the gap opens when the clocks jump past it
    gap = Window(6, "02:30", 6, "05:00", "Europe/Paris")
    assert not gap.is_open(at("2026-03-29T00:59"))  # 01:59 CET
    assert gap.is_open(at("2026-03-29T01:00"))  # 03:00 CEST


def test_a_window_over_the_repeated_hour_is_longer_in_real_time() -> None:
    # 2026-10-25: 03:00 CEST → 02:00 CET at 01:00 UTC; Sunday 01:00 to 04:00 local is 4 real hours
    w = Window(6, "01:00", 6, "04:00", "Europe/Paris")
    assert not w.is_open(at("2026-10-24T22:59"))  # 00:59 CEST
    assert w.is_open(at("2026-10-24T23:00"))  # 01:00 CEST
    assert w.is_open(at("2026-10-25T00:30"))  # 02:30 CEST
    assert w.is_open(at("2026-10-25T01:30"))  # 02:30 CET, the repeat
    assert w.is_open(at("2026-10-25T02:59"))  # 03:59 CET
    assert not w.is_open(at("2026-10-25T03:00"))  # 04:00 CET
    # a window of the repeated hour alone is open both times it happens
    repeat = Window(6, "02:00", 6, "03:00", "Europe/Paris")
    assert repeat.is_open(at("2026-10-25T00:15")) and repeat.is_open(at("2026-10-25T01:15"))
    assert not repeat.is_open(at("2026-10-25T02:00"))


def test_southern_hemisphere_and_a_daily_overnight_window() -> None:
    # Sydney: DST ends on 2026-04-05 (AEDT UTC+11 → AEST UTC+10)
    w = Window(5, "22:00", 6, "06:00", "Australia/Sydney")  # Sat 22:00 to Sun 06:00
    assert w.is_open(at("2026-04-04T11:00"))  # Sat 22:00 AEDT
    assert w.is_open(at("2026-04-04T19:59"))  # Sun 05:59 AEST
    assert not w.is_open(at("2026-04-04T20:00"))  # Sun 06:00 AEST


def test_wraps_past_sunday_midnight_and_describes_itself() -> None:
    w = Window(6, "22:00", 0, "02:00", "UTC")
    assert w.is_open(at("2026-06-07T23:00")) and w.is_open(at("2026-06-08T01:59"))
    assert not w.is_open(at("2026-06-08T02:00")) and not w.is_open(at("2026-06-07T21:59"))
    assert FREEZE.describe() == "Fri 16:00 \N{EN DASH} Mon 08:00 Europe/Paris"


@pytest.mark.parametrize(
    "args,words",
    [
        ((4, "16:00", 0, "08:00", "Europe/Pariss"), "unknown time zone"),
        ((4, "16:00", 0, "08:00", ""), "unknown time zone"),
        ((7, "16:00", 0, "08:00", "UTC"), "a day is 0"),
        ((4, "16:60", 0, "08:00", "UTC"), "HH:MM"),
        ((4, "16:00", 4, "16:00", "UTC"), "must not start when it ends"),
    ],
)
def test_bad_windows_say_what_is_wrong(args: tuple, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Window(*args)
