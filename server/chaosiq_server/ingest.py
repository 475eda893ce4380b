"""The event-ingestion hot path: a lean ASGI route in front of the app.

:class:`EventFastPath` answers the happy path of ``POST …/events``,
``POST …/events/batch`` and the final journal's ``PUT …/executions/{id}``
(the last request of every run: its time is the run's) without FastAPI's
routing, dependency and pydantic machinery. Anything unusual (bad token,
foreign ids, an execution not yet in the cache, malformed JSON or CloudEvents)
is handed to the FastAPI app with the body replayed, so every error answer
stays exactly the documented one.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import binary_mode
from .errors import BadInput
from .store.events import prepare_events

log = logging.getLogger("chaosiq_server.ingest")

SPEC_VERSIONS = frozenset({"1.0", "0.3"})


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
        self.state = state  # the FastAPI app.state: auth, store

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
        return self.state.store.executions.cached(team, xid, eid)

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
            if store.db.is_sqlite:  # one writer anyway; inline, as event inserts are
                store.executions.update(team, eid, xid, parsed["journal"], text)
            else:
                await run_in_threadpool(store.executions.update, team, eid, xid, parsed["journal"], text)
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
            stored = await self.state.store.events.writer.submit(xid, rows)
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
