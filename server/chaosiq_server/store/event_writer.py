"""Group commit of event inserts: the rows of concurrent requests in one transaction.

Every request is answered only after the commit that holds its rows, so an
acknowledged event is durable. SQLite writes (one writer anyway; a thread hop
costs more than the write) run inline on the event loop under the process's
write lock; PostgreSQL writes run in the thread pool, one transaction at a time
per process while the next group gathers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool

from ..db import Database, utcnow
from ..metrics import EVENTS_INGESTED

EVENT_COLUMNS = ("execution_id", "event_id", "type", "source", "time", "time_key", "data", "received_at")
Row = tuple[Any, ...]  # values in EVENT_COLUMNS order
PG_CHUNK = 500  # rows per PostgreSQL INSERT (8 parameters each; the limit is 65,535)


@dataclass
class _Job:
    xid: str
    rows: list[Row]
    future: asyncio.Future[int]


class EventWriter:
    """Group commit of event inserts; ``await submit(xid, rows)`` → rows newly stored.

    Idempotency: ``INSERT … ON CONFLICT (execution_id, event_id) DO NOTHING``;
    the driver's row count says how many were new, and ``executions.events_count``
    grows by that many in the same transaction.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.inline = db.is_sqlite
        mark = "?" if db.is_sqlite else "%s"
        self._insert = (
            f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) "
            f"VALUES ({', '.join([mark] * len(EVENT_COLUMNS))}) "
            "ON CONFLICT (execution_id, event_id) DO NOTHING"
        )
        self._count = (
            f"UPDATE executions SET events_count = events_count + {mark}, last_seen_at = {mark} "
            f"WHERE id = {mark}"
        )
        self._multi: dict[tuple[int, bool], str] = {}  # PostgreSQL multi-row INSERTs
        self._pending: list[_Job] = []
        self._running = False
        self._drainer: asyncio.Task[None] | None = None
        self.groups = 0  # commits so far (for tests and benchmarks)

    async def submit(self, xid: str, rows: list[Row]) -> int:
        if not rows:
            return 0
        loop = asyncio.get_running_loop()
        job = _Job(xid, rows, loop.create_future())
        self._pending.append(job)
        if not self._running:
            self._running = True
            if self.inline:
                # Runs after the callbacks already queued: every request parsed in
                # this loop iteration joins the group.
                loop.call_soon(self._flush_inline)
            else:
                self._drainer = loop.create_task(self._drain())
        return await job.future

    def write_now(self, xid: str, rows: list[Row]) -> int:
        """Synchronous write of one job (CLI, tests); same transaction rules."""
        return self._write([(xid, rows)])[0]

    # -- flushing
    def _flush_inline(self) -> None:
        try:
            while self._pending:
                jobs, self._pending = self._pending, []
                _settle(jobs, self._commit(jobs))
        finally:
            self._running = False

    async def _drain(self) -> None:
        try:
            while self._pending:
                jobs, self._pending = self._pending, []
                try:
                    results = await run_in_threadpool(self._commit, jobs)
                except BaseException as exc:  # cancelled at shutdown
                    _settle(jobs, [exc if isinstance(exc, Exception) else RuntimeError(str(exc))] * len(jobs))
                    raise
                _settle(jobs, results)
        finally:
            self._running = False

    def _commit(self, jobs: list[_Job]) -> list[int | Exception]:
        """Write ``jobs`` in one transaction; if that fails, each alone (one bad job
        does not fail the others)."""
        try:
            return list(self._write([(j.xid, j.rows) for j in jobs]))
        except Exception as exc:
            if len(jobs) == 1:
                return [exc]
        out: list[int | Exception] = []
        for job in jobs:
            try:
                out.append(self._write([(job.xid, job.rows)])[0])
            except Exception as exc:
                out.append(exc)
        return out

    def _insert_rows(self, cur: Any, rows: list[Row]) -> int:
        """Insert ``rows``; returns how many were new (conflicting ids are skipped)."""
        if len(rows) == 1:
            cur.execute(self._insert, rows[0])
            return max(cur.rowcount, 0)
        if self.inline:  # SQLite: one prepared statement stepped per row is the fast way
            cur.executemany(self._insert, rows)
            return max(cur.rowcount, 0)
        stored = 0
        for _ in self._insert_chunks(cur, rows, returning=False):
            stored += max(cur.rowcount, 0)
        return stored

    def _insert_jobs(self, cur: Any, jobs: list[tuple[str, list[Row]]]) -> list[int]:
        """Insert the rows of ``jobs``; how many of each job's were new.

        On PostgreSQL the rows of a group of small jobs (single events) go in one
        statement (a round trip per statement is what a group commit saves) that
        returns the keys of the new ones; batches are big enough to go one by one."""
        if self.inline or len(jobs) == 1 or sum(len(rows) for _, rows in jobs) > PG_CHUNK:
            return [self._insert_rows(cur, rows) for _, rows in jobs]
        new: set[tuple[str, str]] = set()
        # In key order: two processes inserting the same keys lock them in the same order.
        rows = sorted((row for _, rows in jobs for row in rows), key=lambda row: (row[0], row[1]))
        for _ in self._insert_chunks(cur, rows, returning=True):
            new.update(cur.fetchall())
        counts = []
        for _, rows in jobs:
            mine = {(row[0], row[1]) for row in rows} & new
            new -= mine  # an id in two jobs of the group counts for the first
            counts.append(len(mine))
        return counts

    def _insert_chunks(self, cur: Any, rows: list[Row], *, returning: bool) -> Iterator[None]:
        """PostgreSQL: multi-row INSERTs of ``PG_CHUNK`` rows; yields after each."""
        for start in range(0, len(rows), PG_CHUNK):
            chunk = rows[start : start + PG_CHUNK]
            key = (len(chunk), returning)
            if key not in self._multi:
                self._multi[key] = _multi_row_insert(*key)
            cur.execute(self._multi[key], [v for row in chunk for v in row])
            yield

    def _write(self, jobs: list[tuple[str, list[Row]]]) -> list[int]:
        per_execution: dict[str, int] = {}
        with self.db.write() as conn:
            cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                counts = self._insert_jobs(cur, jobs)
                for (xid, _), n in zip(jobs, counts, strict=True):
                    per_execution[xid] = per_execution.get(xid, 0) + n
                # Sorted: two PostgreSQL workers lock execution rows in the same order.
                # New events are a sign of life of the run (store/liveness.py).
                now = utcnow()
                for xid in sorted(per_execution):
                    if per_execution[xid]:
                        cur.execute(self._count, (per_execution[xid], now, xid))
            finally:
                cur.close()
        self.groups += 1
        stored = sum(counts)
        EVENTS_INGESTED.inc(stored)
        self.db.note_writes(stored)
        return counts


def _multi_row_insert(rows: int, returning: bool) -> str:
    """One ``INSERT … VALUES (…), (…) ON CONFLICT DO NOTHING`` for ``rows`` rows
    (PostgreSQL plans and executes it once instead of once per row), returning the
    keys of the rows it stored when asked."""
    one = "(" + ", ".join(["%s"] * len(EVENT_COLUMNS)) + ")"
    return (
        f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES {', '.join([one] * rows)} "
        "ON CONFLICT (execution_id, event_id) DO NOTHING"
        + (" RETURNING execution_id, event_id" if returning else "")
    )


def _settle(jobs: list[_Job], results: list[Any]) -> None:
    for job, result in zip(jobs, results, strict=True):
        if job.future.done():
            continue
        if isinstance(result, BaseException):
            job.future.set_exception(result)
        else:
            job.future.set_result(result)
