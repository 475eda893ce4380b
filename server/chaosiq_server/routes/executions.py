"""Executions, their CloudEvents timeline and their safeguard policies."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..errors import BadInput
from ..ingest import SPEC_VERSIONS
from ..schemas import (
    BatchAck,
    CloudEventIn,
    EventAck,
    EventPage,
    ExecutionCreatedOut,
    ExecutionOut,
    ExecutionPage,
    ExecutionWithExperimentIn,
    IdOut,
    JournalIn,
    Policies,
    PolicyIn,
    PolicyOut,
    StopIn,
)
from .deps import ERRORS, TEAM, Scope, StoreDep

router = APIRouter()

Eid = Annotated[str, Path(max_length=200)]
Xid = Annotated[str, Path(max_length=200)]
LimitQ = Annotated[int | None, Query(ge=1, le=1000)]
CursorQ = Annotated[str | None, Query(max_length=500)]
EXEC = TEAM + "/experiments/{eid}/executions/{xid}"


def _event(ev: CloudEventIn, index: int | None = None) -> dict[str, Any]:
    if ev.specversion not in SPEC_VERSIONS:
        where = "" if index is None else f" (event #{index})"
        raise BadInput(f"unsupported CloudEvents specversion {ev.specversion!r}{where}")
    return {
        "id": ev.id,
        "type": ev.type,
        "source": ev.source,
        "time": ev.time,
        "datacontenttype": ev.datacontenttype,
        "data": ev.data,
        "data_base64": ev.data_base64,
    }


def _execution_response(location: str, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, headers={"Content-Location": location})


# ------------------------------------------------------------------ executions
@router.post(
    TEAM + "/experiments/{eid}/executions",
    status_code=201,
    response_model=IdOut,
    responses=ERRORS,
    tags=["executions"],
)
def create_execution(body: JournalIn, scope: Scope, store: StoreDep, request: Request, eid: Eid) -> Response:
    """Create an execution from the initial journal. ``Content-Location`` is the
    absolute URL of the execution resource."""
    xid = store.executions.create(scope.team_id, eid, body.journal)
    location = scope.url(request, "experiments", eid, "executions", xid)
    return JSONResponse({"id": xid}, status_code=201, headers={"Content-Location": location})


@router.post(
    TEAM + "/executions",
    status_code=201,
    response_model=ExecutionCreatedOut,
    responses=ERRORS,
    tags=["executions"],
)
def create_execution_with_experiment(
    body: ExecutionWithExperimentIn, scope: Scope, store: StoreDep, request: Request
) -> Response:
    """Extension ``execution-with-experiment``: store (or match) the experiment and
    create its execution in one request, one round trip instead of two. The
    experiment is handled as ``POST …/experiments`` does; ``Content-Location`` is
    the execution's absolute URL."""
    _outcome, eid = store.experiments.upsert(scope.team_id, body.experiment)
    xid = store.executions.create(scope.team_id, eid, body.journal)
    location = scope.url(request, "experiments", eid, "executions", xid)
    return JSONResponse(
        {"id": xid, "experiment_id": eid}, status_code=201, headers={"Content-Location": location}
    )


@router.put(EXEC, status_code=204, responses=ERRORS, tags=["executions"])
def put_execution(
    body: JournalIn, scope: Scope, store: StoreDep, request: Request, eid: Eid, xid: Xid
) -> Response:
    """Replace the journal (the final one at the end of a run); status from journal.status."""
    store.executions.update(scope.team_id, eid, xid, body.journal)
    location = scope.url(request, "experiments", eid, "executions", xid)
    return Response(status_code=204, headers={"Content-Location": location})


@router.get(EXEC, response_model=ExecutionOut, responses=ERRORS, tags=["executions"])
def get_execution(scope: Scope, store: StoreDep, request: Request, eid: Eid, xid: Xid) -> Any:
    """One execution with its journal."""
    data = store.executions.get(scope.team_id, xid, eid)
    location = scope.url(request, "experiments", eid, "executions", xid)
    return _execution_response(location, data)


@router.get(TEAM + "/executions", response_model=ExecutionPage, responses=ERRORS, tags=["executions"])
def list_executions(scope: Scope, store: StoreDep, limit: LimitQ = None, cursor: CursorQ = None) -> Any:
    """Executions of the team, newest first (paged)."""
    page = store.executions.list(scope.team_id, limit, cursor)
    return {"items": page.items, "next_cursor": page.next_cursor, "total": page.total}


@router.get(TEAM + "/executions/{xid}", response_model=ExecutionOut, responses=ERRORS, tags=["executions"])
def get_execution_short(scope: Scope, store: StoreDep, request: Request, xid: Xid) -> Any:
    """One execution, without knowing its experiment id."""
    data = store.executions.get(scope.team_id, xid)
    location = scope.url(request, "experiments", data["experiment_id"], "executions", xid)
    return _execution_response(location, data)


# ---------------------------------------------------------------------- events
@router.post(
    EXEC + "/events",
    status_code=201,
    response_model=EventAck,
    responses={**ERRORS, 200: {"model": EventAck, "description": "Duplicate event id: not stored again"}},
    tags=["events"],
)
async def post_event(
    event: Annotated[CloudEventIn, Body(media_type="application/cloudevents+json")],
    scope: Scope,
    store: StoreDep,
    eid: Eid,
    xid: Xid,
) -> Response:
    """One CloudEvent (structured mode). ``data`` may be a JSON string. A repeated
    ``id`` for the same execution is stored once (200 instead of 201). The answer
    comes after the commit: an acknowledged event is durable."""
    stored = await store.events.store(scope.team_id, eid, xid, [_event(event)])
    return JSONResponse({"id": event.id, "stored": bool(stored)}, status_code=201 if stored else 200)


@router.post(
    EXEC + "/events/batch",
    response_model=BatchAck,
    responses=ERRORS,
    tags=["events"],
)
async def post_events_batch(
    events: Annotated[list[CloudEventIn], Body(media_type="application/cloudevents-batch+json")],
    scope: Scope,
    store: StoreDep,
    eid: Eid,
    xid: Xid,
) -> Any:
    """A JSON array of structured CloudEvents (extension ``events-batch``).
    All or nothing: one invalid event rejects the batch."""
    rows = [_event(ev, i) for i, ev in enumerate(events)]
    stored = await store.events.store(scope.team_id, eid, xid, rows)
    return {"received": len(rows), "stored": stored}


@router.get(EXEC + "/events", response_model=EventPage, responses=ERRORS, tags=["events"])
def list_events(
    scope: Scope, store: StoreDep, eid: Eid, xid: Xid, limit: LimitQ = None, cursor: CursorQ = None
) -> Any:
    """The execution's timeline, ordered by event time then arrival (paged)."""
    page = store.events.list(scope.team_id, eid, xid, limit, cursor)
    return {"items": page.items, "next_cursor": page.next_cursor, "total": page.total}


@router.get(TEAM + "/executions/{xid}/events", response_model=EventPage, responses=ERRORS, tags=["events"])
def list_events_short(
    scope: Scope, store: StoreDep, xid: Xid, limit: LimitQ = None, cursor: CursorQ = None
) -> Any:
    """The execution's timeline without knowing its experiment id (same paging
    as ``…/experiments/{eid}/executions/{xid}/events``)."""
    page = store.events.list(scope.team_id, None, xid, limit, cursor)
    return {"items": page.items, "next_cursor": page.next_cursor, "total": page.total}


# -------------------------------------------------------------------- policies
def _policies(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"allowed": all(p["allowed"] for p in items), "policies": items}


@router.get(EXEC + "/policies", response_model=Policies, responses=ERRORS, tags=["safeguards"])
async def get_policies(scope: Scope, store: StoreDep, eid: Eid, xid: Xid) -> Any:
    """Safeguard verdict: ``allowed`` is false when any policy denies the run."""
    if store.db.is_sqlite:
        return _policies(store.policies.list(scope.team_id, xid, eid))
    return _policies(await run_in_threadpool(store.policies.list, scope.team_id, xid, eid))


@router.post(
    EXEC + "/policies", status_code=201, response_model=PolicyOut, responses=ERRORS, tags=["safeguards"]
)
def add_policy(body: PolicyIn, scope: Scope, store: StoreDep, eid: Eid, xid: Xid) -> Any:
    """Attach a policy to an execution (``allowed: false`` stops the run at its
    next safeguard check). Extension ``policies-write``."""
    return store.policies.add(
        scope.team_id, xid, eid, body.name, body.allowed, body.reason, scope.principal.name
    )


@router.post(
    TEAM + "/executions/{xid}/stop",
    status_code=201,
    response_model=PolicyOut,
    responses=ERRORS,
    tags=["safeguards"],
)
def stop_execution(scope: Scope, store: StoreDep, xid: Xid, body: StopIn | None = None) -> Any:
    """Ask a running execution to stop (extension ``stop``): adds a denying
    policy named ``stopped-by-user``."""
    reason = (body.reason if body else None) or f"stopped by {scope.principal.name}"
    return store.policies.add(
        scope.team_id, xid, None, "stopped-by-user", False, reason, scope.principal.name
    )
