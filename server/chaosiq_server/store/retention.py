"""Retention: deleting old finished executions with their events, policies and pauses.

A verification run keeps its own journal and results: it outlives the execution
it ran as, and only forgets the link (the console shows no link to a page that
is gone).

Deletes run in short transactions (at most ``batch`` event rows each, then one
for the execution's policies and row), so a server ingesting at the same time
waits for one of them at most (on SQLite, one writer at a time), never for the
whole prune.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import delete, select, update

from .. import models as m
from ..db import Database

DELETE_BATCH = 2000  # event rows per transaction (a few ms on SQLite)


@dataclass
class PruneCandidate:
    id: str
    team_id: str
    events_count: int


class Retention:
    def __init__(self, db: Database) -> None:
        self.db = db

    def candidates(self, before: str, team_ids: list[str] | None = None) -> list[PruneCandidate]:
        """Finished executions (status set and not ``running``) not updated since ``before``."""
        t = m.executions
        q = select(t.c.id, t.c.team_id, t.c.events_count).where(
            t.c.updated_at < before, t.c.status.is_not(None), t.c.status != "running"
        )
        if team_ids is not None:
            q = q.where(t.c.team_id.in_(team_ids))
        with self.db.read() as conn:
            return [
                PruneCandidate(r.id, r.team_id, r.events_count)
                for r in conn.execute(q.order_by(t.c.updated_at))
            ]

    def delete(self, xid: str, batch: int = DELETE_BATCH) -> int:
        """Delete execution ``xid``, its events, policies and pauses (verification runs that
        ran as it forget the link); how many events went."""
        deleted = 0
        for n in self._event_batches(xid, batch):
            deleted += n
        with self.db.write() as conn:  # what arrived since, the policies and the row
            deleted += conn.execute(delete(m.events).where(m.events.c.execution_id == xid)).rowcount
            conn.execute(delete(m.policies).where(m.policies.c.execution_id == xid))
            conn.execute(delete(m.execution_pauses).where(m.execution_pauses.c.execution_id == xid))
            runs = m.verification_runs
            conn.execute(update(runs).where(runs.c.execution_id == xid).values(execution_id=None))
            conn.execute(delete(m.executions).where(m.executions.c.id == xid))
        return deleted

    def _event_batches(self, xid: str, batch: int) -> Iterator[int]:
        e = m.events
        while True:
            with self.db.write() as conn:
                oldest = select(e.c.seq).where(e.c.execution_id == xid).order_by(e.c.seq).limit(batch)
                n = conn.execute(delete(e).where(e.c.seq.in_(oldest))).rowcount
            if not n:
                return
            yield n
