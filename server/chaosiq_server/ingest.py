"""The event-ingestion hot path: row preparation, group commit and a lean ASGI route.

* :func:`prepare_events` turns validated CloudEvents into storage rows.
* :class:`EventWriter` commits the rows of concurrent requests in one
  transaction (group commit) and answers each request only after that commit:
  an acknowledged event is durable. SQLite writes (and the fast path's journal) run inline on the event loop
  under the process's write lock (one writer anyway; a thread hop costs more
  than the write); PostgreSQL writes run in the thread pool, one transaction at
  a time per process while the next group gathers.
* :class:`EventFastPath` answers the happy path of ``POST …/events``,
  ``POST …/events/batch`` and the final journal's ``PUT …/executions/{id}``
  (the last request of every run: its time is the run's) without FastAPI's
  routing, dependency and pydantic machinery.
  Anything unusual (bad token, foreign ids, an execution not yet in
  the cache, malformed JSON or CloudEvents) is handed to the FastAPI app with
  the body replayed, so every error answer stays exactly the documented one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import binary_mode
from .db import Database, utcnow
from .errors import BadInput
from .jsonutil import dumps, time_key

log = logging.getLogger("chaosiq_server.ingest")

SPEC_VERSIONS = frozenset({"1.0", "0.3"})
EVENT_COLUMNS = ("execution_id", "event_id", "type", "source", "time", "time_key", "data", "received_at")
Row = tuple[Any, ...]  # values in EVENT_COLUMNS order
PG_CHUNK = 500  # rows per PostgreSQL INSERT (8 parameters each; the limit is 65,535)


# ------------------------------------------------------------------ rows
class _NotStorable(ValueError):
    """A JSON string in ``data`` holding NaN/Infinity (not JSON, refused)."""


def _refuse_constant(_name: str) -> Any:
    raise _NotStorable("NaN and Infinity are not JSON")


def _checked_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _NotStorable("number out of range")
    return value


# Built once: json.loads(..., parse_constant=...) would build a decoder per call.
_DATA_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_checked_float)


def stored_data(event: dict[str, Any]) -> str:
    """The JSON text stored for a CloudEvent's ``data``.

    A JSON string in ``data`` (what chaosiq-cloud sends) is checked and stored
    as it came, which saves decoding and re-encoding it; a string that is not
    JSON is stored as a JSON string. Raises :class:`BadInput` for values JSON
    cannot hold (NaN, Infinity, too deep).
    """
    data = event.get("data")
    if isinstance(data, str):
        ctype = event.get("datacontenttype")
        if ctype is None or "json" in str(ctype).lower():
            try:
                orjson.loads(data)  # the fast check: valid JSON without NaN/Infinity
                return data
            except orjson.JSONDecodeError:
                pass  # let the standard decoder tell what is wrong
            try:
                _DATA_DECODER.decode(data)
            except _NotStorable as exc:
                raise BadInput(f"CloudEvent 'data' is not valid JSON for storage: {exc}") from exc
            except RecursionError as exc:
                raise BadInput("CloudEvent 'data' is nested too deeply") from exc
            except ValueError:
                return dumps(data)
            return data
        return dumps(data)
    if data is None and event.get("data_base64") is not None:
        return dumps({"data_base64": event["data_base64"]})
    return dumps(data)


def prepare_events(xid: str, events: list[dict[str, Any]]) -> list[Row]:
    """Storage rows for validated CloudEvents; a repeated id in the list is kept once."""
    now = utcnow()
    rows: dict[str, Row] = {}
    for ev in events:
        eid = ev["id"]
        if eid in rows:
            continue
        when = ev.get("time")
        rows[eid] = (xid, eid, ev["type"], ev["source"], when, time_key(when, now), stored_data(ev), now)
    return list(rows.values())


def _str(value: Any, max_length: int) -> bool:
    return type(value) is str and 0 < len(value) <= max_length


def is_plain_event(ev: Any) -> bool:
    """True when ``ev`` surely passes ``CloudEventIn`` validation (the fast path's check).

    False means "let pydantic decide" (it answers 422 with the details), not
    necessarily invalid.
    """
    return (
        type(ev) is dict
        and type(ev.get("specversion")) is str
        and ev["specversion"] in SPEC_VERSIONS
        and _str(ev.get("id"), 200)
        and _str(ev.get("source"), 500)
        and _str(ev.get("type"), 200)
        and (ev.get("time") is None or (type(ev["time"]) is str and len(ev["time"]) <= 64))
        and (ev.get("datacontenttype") is None or type(ev["datacontenttype"]) is str)
        and (ev.get("data_base64") is None or type(ev["data_base64"]) is str)
    )


# ---------------------------------------------------------- group commit
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
        self._count = f"UPDATE executions SET events_count = events_count + {mark} WHERE id = {mark}"
        self._multi: dict[int, str] = {}  # PostgreSQL multi-row INSERTs by row count
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
        for start in range(0, len(rows), PG_CHUNK):
            chunk = rows[start : start + PG_CHUNK]
            sql = self._multi.get(len(chunk))
            if sql is None:
                sql = self._multi[len(chunk)] = _multi_row_insert(len(chunk))
            cur.execute(sql, [v for row in chunk for v in row])
            stored += max(cur.rowcount, 0)
        return stored

    def _write(self, jobs: list[tuple[str, list[Row]]]) -> list[int]:
        counts: list[int] = []
        per_execution: dict[str, int] = {}
        with self.db.write() as conn:
            cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                for xid, rows in jobs:
                    n = self._insert_rows(cur, rows)
                    counts.append(n)
                    per_execution[xid] = per_execution.get(xid, 0) + n
                # Sorted: two PostgreSQL workers lock execution rows in the same order.
                for xid in sorted(per_execution):
                    if per_execution[xid]:
                        cur.execute(self._count, (per_execution[xid], xid))
            finally:
                cur.close()
        self.groups += 1
        self.db.note_writes(sum(counts))
        return counts


def _multi_row_insert(rows: int) -> str:
    """One ``INSERT … VALUES (…), (…) ON CONFLICT DO NOTHING`` for ``rows`` rows
    (PostgreSQL plans and executes it once instead of once per row)."""
    one = "(" + ", ".join(["%s"] * len(EVENT_COLUMNS)) + ")"
    return (
        f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES {', '.join([one] * rows)} "
        "ON CONFLICT (execution_id, event_id) DO NOTHING"
    )


def _settle(jobs: list[_Job], results: list[Any]) -> None:
    for job, result in zip(jobs, results, strict=True):
        if job.future.done():
            continue
        if isinstance(result, BaseException):
            job.future.set_exception(result)
        else:
            job.future.set_result(result)


# ------------------------------------------------------------- fast path
EVENTS_PATH = re.compile(
    r"^/api/v1/organizations/([^/]{1,200})/teams/([^/]{1,200})"
    r"/experiments/([^/]{1,200})/executions/([^/]{1,200})/events(/batch)?$"
)
EXECUTION_PATH = re.compile(
    r"^/api/v1/organizations/([^/]{1,200})/teams/([^/]{1,200})/experiments/([^/]{1,200})/executions/([^/]{1,200})$"
)
_JSON_HEADERS = [(b"content-type", b"application/json")]
_JOURNAL_HEAD = b'{"journal": '


class EventFastPath:
    """Pure ASGI front of the app for the two event-ingestion routes."""

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state  # the FastAPI app.state: auth, store, writer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"] if scope["type"] == "http" else None
        if method == "POST":
            match, handle = EVENTS_PATH.match(scope["path"]), self._handle
        elif method == "PUT":
            match, handle = EXECUTION_PATH.match(scope["path"]), self._handle_journal
        else:
            match = None
        if match is None:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # client went away
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if method == "POST" and not match.group(5) and binary_mode.is_binary(scope):
            scope, body = binary_mode.to_structured(scope, body)
        answer = await handle(scope, match, body)
        if answer is None:
            await self.app(scope, _replay(body, receive), send)
            return
        status, payload = answer
        if status == 204:  # the journal's PUT: no body, where it is
            headers = [(b"content-location", payload.encode("latin-1"))]
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*_JSON_HEADERS, (b"content-length", str(len(data)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": data})

    def _known(self, scope: Scope, org: str, team: str, xid: str, eid: str | None) -> bool:
        """The token is cached and may use the team, and ``xid`` is the team's execution of ``eid``."""
        token = _bearer(scope)
        if token is None:
            return False
        principal = self.state.auth.cached(token)
        if principal is None or principal.teams.get(team) != org:
            return False
        return bool(self.state.store.execution_cached(team, xid, eid))

    async def _handle_journal(
        self, scope: Scope, match: re.Match[str], body: bytes
    ) -> tuple[int, Any] | None:
        """``PUT …/executions/{xid}`` ``{"journal": {...}}``: (204, Content-Location), or None.

        The body is decoded once, refusing NaN/Infinity as storage does; when it
        is exactly ``{"journal": <journal>}`` (what chaosiq sends), the journal's
        text is stored as it came instead of being encoded again.
        """
        org, team, eid, xid = match.groups()
        if not self._known(scope, org, team, xid, eid):
            return None
        try:
            parsed = orjson.loads(body)  # NaN and Infinity refused, as storage does
        except orjson.JSONDecodeError:
            return None
        if type(parsed) is not dict or type(parsed.get("journal")) is not dict:
            return None
        text = None
        if len(parsed) == 1 and body.startswith(_JOURNAL_HEAD) and body.endswith(b"}"):
            text = body[len(_JOURNAL_HEAD) : -1].decode("utf-8").strip()
        store = self.state.store
        try:
            if self.state.writer.inline:  # SQLite: one writer anyway; inline, as event inserts are
                store.update_execution(team, eid, xid, parsed["journal"], text)
            else:
                await run_in_threadpool(store.update_execution, team, eid, xid, parsed["journal"], text)
        except Exception as exc:
            log.error("storing a journal failed on %s: %r", scope["path"], exc, exc_info=exc)
            return 500, {"detail": "internal server error"}
        base = str(Request(scope).base_url).rstrip("/")  # as the app's TeamScope.url writes it
        return 204, f"{base}/api/v1/organizations/{org}/teams/{team}/experiments/{eid}/executions/{xid}"

    async def _handle(self, scope: Scope, match: re.Match[str], body: bytes) -> tuple[int, Any] | None:
        """(status, body) for the happy path, None to let the app answer."""
        org, team, eid, xid, batch = match.groups()
        if not self._known(scope, org, team, xid, eid):
            return None
        try:
            parsed = orjson.loads(body)  # anything it refuses gets the app's own answer
        except orjson.JSONDecodeError:
            return None
        events = parsed if batch else [parsed]
        if type(events) is not list or not all(is_plain_event(ev) for ev in events):
            return None
        try:
            rows = prepare_events(xid, events)
        except BadInput:
            return None
        try:
            stored = await self.state.writer.submit(xid, rows)
        except Exception as exc:
            log.error("storing events failed on %s: %r", scope["path"], exc, exc_info=exc)
            return 500, {"detail": "internal server error"}
        if batch:
            return 200, {"received": len(events), "stored": stored}
        return (201 if stored else 200), {"id": parsed["id"], "stored": bool(stored)}


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


def _replay(body: bytes, receive: Receive) -> Callable[[], Any]:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
