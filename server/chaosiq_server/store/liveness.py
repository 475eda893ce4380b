"""When a running execution last showed life, and which running ones count as alive.

A ``chaos run`` shows life when it asks its safeguard verdict (``GET …/policies``,
every second by default) or sends new events. ``executions.last_seen_at`` keeps the
newest of these: the event writer sets it in the transaction that stores new events,
and :meth:`Liveness.seen` after a verdict, at most once every :data:`HEARTBEAT`
seconds per execution and process (a verdict stays a read).

A concurrency limit counts a running execution only while it was seen (or created)
within the last :data:`STALE` seconds: a run killed without a word (SIGKILL, a lost
machine) stops holding a place after two minutes, instead of refusing every later run
of its team until someone notices it.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, update

from .. import models as m
from ..db import Database, utc_iso, utcnow

HEARTBEAT = 15.0
"""Seconds between two writes of ``last_seen_at`` for one execution's verdicts, per process."""
STALE = 120.0
"""Seconds without a sign of life after which a running execution no longer counts."""
_REMEMBERED = 10_000  # executions whose last write a process remembers (then it starts over)


class Liveness:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._written: dict[str, float] = {}

    def due(self, xid: str) -> bool:
        """Whether a verdict for ``xid`` should write its sign of life now."""
        last = self._written.get(xid)
        return last is None or time.monotonic() - last >= HEARTBEAT

    def seen(self, xid: str) -> None:
        """``xid`` showed life now (only a running execution's time is written)."""
        if len(self._written) >= _REMEMBERED:
            self._written.clear()
        self._written[xid] = time.monotonic()
        x = m.executions
        with self.db.write() as conn:
            running = update(x).where(x.c.id == xid, x.c.outcome == "running")
            conn.execute(running.values(last_seen_at=utcnow()))


def alive(now: datetime) -> ColumnElement[bool]:
    """The executions seen, or created, within :data:`STALE` seconds of ``now``."""
    x = m.executions
    return func.coalesce(x.c.last_seen_at, x.c.created_at) >= utc_iso(now - timedelta(seconds=STALE))
