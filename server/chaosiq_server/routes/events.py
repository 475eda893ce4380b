"""The CloudEvents of an execution: one, a batch, the timeline."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from fastapi.responses import JSONResponse

from ..schemas import BatchAck, CloudEventIn, EventAck, EventPage
from .deps import ERRORS, TEAM, CursorQ, Eid, LimitQ, Member, Viewer, Xid, page
from .json_route import JsonRoute

router = APIRouter(prefix=TEAM, tags=["events"], responses=ERRORS, route_class=JsonRoute)

EVENTS = "/experiments/{eid}/executions/{xid}/events"
# The request bodies, as the routes declare them (the front door of POST …/events,
# ingest.py, validates with EventBody's type).
EventBody = Annotated[CloudEventIn, Body(media_type="application/cloudevents+json")]
BatchBody = Annotated[list[CloudEventIn], Body(media_type="application/cloudevents-batch+json")]


def _event(ev: CloudEventIn) -> dict[str, Any]:
    return {
        "id": ev.id,
        "type": ev.type,
        "source": ev.source,
        "time": ev.time,
        "datacontenttype": ev.datacontenttype,
        "data": ev.data,
        "data_base64": ev.data_base64,
    }


@router.post(
    EVENTS,
    status_code=201,
    response_model=EventAck,
    responses={200: {"model": EventAck, "description": "Duplicate event id: not stored again"}},
)
async def post_event(event: EventBody, scope: Member, eid: Eid, xid: Xid) -> Response:
    """One CloudEvent (structured mode). ``data`` may be a JSON string. A repeated
    ``id`` for the same execution is stored once (200 instead of 201). The answer
    comes after the commit: an acknowledged event is durable."""
    stored = await scope.store.events.store(scope.team_id, eid, xid, [_event(event)])
    return JSONResponse({"id": event.id, "stored": bool(stored)}, status_code=201 if stored else 200)


@router.post(EVENTS + "/batch", response_model=BatchAck)
async def post_events_batch(events: BatchBody, scope: Member, eid: Eid, xid: Xid) -> Response:
    """A JSON array of structured CloudEvents (extension ``events-batch``).
    All or nothing: one invalid event rejects the batch."""
    rows = [_event(ev) for ev in events]
    stored = await scope.store.events.store(scope.team_id, eid, xid, rows)
    return JSONResponse({"received": len(rows), "stored": stored})


@router.get(EVENTS, response_model=EventPage)
def list_events(scope: Viewer, eid: Eid, xid: Xid, limit: LimitQ = None, cursor: CursorQ = None) -> Any:
    """The execution's timeline, ordered by event time then arrival (paged)."""
    return page(scope.store.events.list(scope.team_id, eid, xid, limit, cursor))


@router.get("/executions/{xid}/events", response_model=EventPage)
def list_events_short(scope: Viewer, xid: Xid, limit: LimitQ = None, cursor: CursorQ = None) -> Any:
    """The execution's timeline without knowing its experiment id (same paging
    as ``…/experiments/{eid}/executions/{xid}/events``)."""
    return page(scope.store.events.list(scope.team_id, None, xid, limit, cursor))
