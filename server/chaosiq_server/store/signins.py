"""Slowing down guesses at the console's sign-in form.

API tokens are 256-bit random secrets, so guessing one is hopeless; the limit
keeps a script from filling the log and the database with failed attempts. It
counts failed sign-ins per client address in a sliding window, in the database:
every server process (``--workers``, replicas on one PostgreSQL) shares the
count. The client address is the TCP peer's, or the one a trusted reverse proxy
forwarded (``serve --forwarded-allow-ips``); a forwarded header from anyone
else is ignored.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import delete, insert, select

from .. import models as m
from ..db import Database

MAX_FAILURES = 10
WINDOW_SECONDS = 60.0
ADDRESS_MAX = 64


class FailedSignins:
    """At most ``limit`` failures per address within ``window`` seconds."""

    def __init__(
        self,
        db: Database,
        limit: int = MAX_FAILURES,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db, self.limit, self.window, self.clock = db, limit, window, clock

    def retry_after(self, address: str) -> int:
        """Seconds until ``address`` may try again; 0 when it may now."""
        now = self.clock()
        t = m.signin_failures
        with self.db.read() as conn:
            times = (
                conn.execute(
                    select(t.c.at)
                    .where(t.c.address == address[:ADDRESS_MAX], t.c.at > now - self.window)
                    .order_by(t.c.at)
                )
                .scalars()
                .all()
            )
        if len(times) < self.limit:
            return 0
        # Allowed again when fewer than ``limit`` failures are left in the window.
        oldest_to_expire = times[len(times) - self.limit]
        return max(1, int(oldest_to_expire + self.window - now + 0.999))

    def failed(self, address: str) -> None:
        now = self.clock()
        t = m.signin_failures
        with self.db.write() as conn:
            conn.execute(delete(t).where(t.c.at <= now - self.window))  # forget the old ones
            conn.execute(insert(t).values(address=address[:ADDRESS_MAX], at=now))

    def succeeded(self, address: str) -> None:
        t = m.signin_failures
        with self.db.write() as conn:
            conn.execute(delete(t).where(t.c.address == address[:ADDRESS_MAX]))
