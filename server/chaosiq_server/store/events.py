"""The CloudEvents of an execution: storage rows, writes (group commit) and the timeline."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import and_, or_, select
from starlette.concurrency import run_in_threadpool

from .. import models as m
from .. import strict_json
from ..db import Database, utcnow
from ..errors import BadInput
from ..jsonutil import decode_cursor, dumps, encode_cursor, loads, time_key
from .event_writer import EventWriter, Row
from .executions import Executions
from .paging import Page, clamp


def stored_data(event: dict[str, Any]) -> str:
    """The JSON text stored for a CloudEvent's ``data``.

    A JSON string in ``data`` (what chaosiq-cloud sends) is read by the rules of
    :mod:`..strict_json` and stored as it came, which saves encoding it again; a
    string that is not JSON is stored as a JSON string. Raises :class:`BadInput`
    for JSON those rules refuse (duplicate keys, NaN, too deep, …).
    """
    data = event.get("data")
    if isinstance(data, str):
        ctype = event.get("datacontenttype")
        if ctype is None or "json" in ctype.lower():
            try:
                strict_json.parse(data)
            except json.JSONDecodeError:
                return dumps(data)
            except strict_json.JsonRefused as exc:
                raise BadInput(f"CloudEvent 'data' refused: {exc}") from exc
            return data
        return dumps(data)
    if data is None and event.get("data_base64") is not None:
        return dumps({"data_base64": event["data_base64"]})
    return dumps(data)


def prepare_events(xid: str, events: list[dict[str, Any]]) -> list[Row]:
    """Storage rows for validated CloudEvents; a repeated id in the list is kept once.

    Raises :class:`BadInput` (naming the event of a batch) for a ``time`` that is
    not RFC 3339 or ``data`` that cannot be stored.
    """
    now = utcnow()
    rows: dict[str, Row] = {}
    for index, ev in enumerate(events):
        eid = ev["id"]
        if eid in rows:
            continue
        when = ev.get("time")
        try:
            rows[eid] = (xid, eid, ev["type"], ev["source"], when, time_key(when, now), stored_data(ev), now)
        except BadInput as exc:
            if len(events) > 1:
                raise BadInput(f"event #{index}: {exc.detail}") from exc
            raise
    return list(rows.values())


class Events:
    def __init__(self, db: Database, executions: Executions) -> None:
        self.db = db
        self.executions = executions
        self.writer = EventWriter(db)

    async def store(self, team_id: str, eid: str | None, xid: str, events: list[dict[str, Any]]) -> int:
        """Store validated CloudEvents of the team's execution; how many were new.

        Answers after the commit (group-committed with concurrent requests): a
        stored event is durable. A repeated id (in the list or stored before) is
        stored once.
        """
        if self.db.is_sqlite:
            self.executions.check(team_id, xid, eid)  # a cached or short indexed read
        elif not self.executions.cached(team_id, xid, eid):  # a hit costs no thread hop
            await run_in_threadpool(self.executions.check, team_id, xid, eid)
        try:
            return await self.writer.submit(xid, prepare_events(xid, events))
        except Exception:
            # The cache may hold an execution deleted since (by `prune`, in another
            # process): then the insert broke its foreign key. Look again: 404.
            self.executions.forget(xid)
            await run_in_threadpool(self.executions.check, team_id, xid, eid)
            raise

    def add(self, team_id: str, eid: str | None, xid: str, events: list[dict[str, Any]]) -> int:
        """:meth:`store` without the event loop, in its own transaction (CLI, tests)."""
        self.executions.check(team_id, xid, eid)
        return self.writer.write_now(xid, prepare_events(xid, events))

    def list(self, team_id: str, eid: str | None, xid: str, limit: int | None, cursor: str | None) -> Page:
        """The execution's timeline: by event time (UTC), then arrival."""
        n = clamp(limit)
        t = m.events
        with self.db.read() as conn:
            self.executions.require(conn, team_id, xid, eid)
            q = select(t.c.seq, t.c.event_id, t.c.type, t.c.source, t.c.time, t.c.time_key, t.c.data)
            q = q.where(t.c.execution_id == xid)
            if cursor:
                key, seq = decode_cursor(cursor, 2)
                q = q.where(or_(t.c.time_key > str(key), and_(t.c.time_key == str(key), t.c.seq > int(seq))))
            rows = conn.execute(q.order_by(t.c.time_key, t.c.seq).limit(n + 1)).all()
            total = conn.execute(
                select(m.executions.c.events_count).where(m.executions.c.id == xid)
            ).scalar_one()
        more = len(rows) > n
        rows = rows[:n]
        items = [
            {"id": r.event_id, "type": r.type, "source": r.source, "time": r.time, "data": loads(r.data)}
            for r in rows
        ]
        nxt = encode_cursor(rows[-1].time_key, rows[-1].seq) if more and rows else None
        return Page(items, nxt, total)
