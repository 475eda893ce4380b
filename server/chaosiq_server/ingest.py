"""A lean front door for ``POST …/events`` (one CloudEvent): the route's own
function, called without FastAPI's routing and dependency injection.

Those cost about as much as storing the event (a few hundred µs a request): at
50 clients, 3,100-3,200 single-event POSTs/s through the app alone, about 6,400
through this door (benchmarks/RESULTS.md). A batch is worth its routing, so
``…/events/batch`` has no door.

This door implements nothing of the endpoint: when the token is valid (checked
by the API's own ``authenticated``) and of the role the route declares, the
execution is the team's and in the cache, and the body is JSON, it reads the body
with :func:`..strict_json.parse` and validates it with the route's own body type,
as the app does, then calls the route's own function and answers with its
response. Anything else (a bad token, a role that is not enough, a cache miss,
another media type, a body that does not validate, a ``BadInput`` or any error
from the function) goes to the app with the body replayed, so every error answer
is the app's one; the route functions are idempotent (events are stored once per
id), so a second call after an error changes nothing.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .auth import authenticated
from .middleware import read_body, replay_body
from .roles import allows
from .routes import events
from .routes.deps import TeamScope, declared_roles
from .strict_json import JsonRefused, parse

log = logging.getLogger("chaosiq_server.ingest")

EVENTS_PATH = re.compile(
    r"^/api/v1/organizations/(?P<org>[^/]+)/teams/(?P<team>[^/]+)"
    r"/experiments/(?P<eid>[^/]+)/executions/(?P<xid>[^/]+)/events$"
)
# The media types chaosiq and the CloudEvents SDKs send: other types go to the app.
JSON_TYPES = frozenset(
    {"application/json", "application/cloudevents+json", "application/cloudevents-batch+json"}
)
EVENT = TypeAdapter(events.CloudEventIn)  # the route's body type


class EventFrontDoor:
    """ASGI middleware in front of the app for ``POST …/events``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.answered = 0  # requests this door answered itself (tests, benchmarks)
        self.route = self._route()
        (self.needed,) = declared_roles(self.route.dependant)  # the route's role (member)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = (
            EVENTS_PATH.match(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        if match is None:
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:
            return  # the client went away
        response = await self._answer(scope, match, body)
        if response is None:
            await self.app(scope, replay_body(body, receive), send)
        else:
            await response(scope, receive, send)

    async def _answer(self, scope: Scope, match: re.Match[str], body: bytes) -> Response | None:
        """The route function's response, or None to let the app answer."""
        request = Request(scope)
        state = request.app.state
        state.event_front_door = self
        try:
            principal = await authenticated(request)  # the API's own authentication
        except HTTPException:
            return None  # the app answers 401
        org, team, eid, xid = match["org"], match["team"], match["eid"], match["xid"]
        if principal.teams.get(team) != org or not allows(principal.role, self.needed):
            return None  # the app answers 404 or 403
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if not state.store.executions.cached(team, xid, eid) or media_type not in JSON_TYPES:
            return None
        try:
            event = EVENT.validate_python(parse(body))
        except (ValueError, ValidationError, JsonRefused):  # JSONDecodeError is a ValueError
            return None
        try:
            team_scope = TeamScope.of(principal, org, team, request)
            response = await events.post_event(event=event, scope=team_scope, eid=eid, xid=xid)
        except Exception as exc:  # the app calls the route again and answers the error
            log.debug("event front door hands %s to the app: %r", scope["path"], exc)
            return None
        self.answered += 1
        scope["route"] = self.route  # the route's template, for the metrics
        return response

    @staticmethod
    def _route() -> Any:
        """The ``post_event`` route of the events router (its template is the label)."""
        return next(r for r in events.router.routes if getattr(r, "endpoint", None) is events.post_event)
