"""Executions: created from the initial journal, the final journal stored, read."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from ..schemas import (
    ExecutionCreatedOut,
    ExecutionOut,
    ExecutionPage,
    ExecutionWithExperimentIn,
    IdOut,
    JournalIn,
)
from .deps import ERRORS, TEAM, CursorQ, Eid, LimitQ, Scope, StoreDep, Xid, page

router = APIRouter(prefix=TEAM, tags=["executions"], responses=ERRORS)

EXEC = "/experiments/{eid}/executions/{xid}"


def _execution_response(location: str, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, headers={"Content-Location": location})


@router.post("/experiments/{eid}/executions", status_code=201, response_model=IdOut)
def create_execution(body: JournalIn, scope: Scope, store: StoreDep, request: Request, eid: Eid) -> Response:
    """Create an execution from the initial journal. ``Content-Location`` is the
    absolute URL of the execution resource."""
    xid = store.executions.create(scope.team_id, eid, body.journal)
    location = scope.url(request, "experiments", eid, "executions", xid)
    return JSONResponse({"id": xid}, status_code=201, headers={"Content-Location": location})


@router.post("/executions", status_code=201, response_model=ExecutionCreatedOut)
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


@router.put(EXEC, status_code=204)
def put_execution(
    body: JournalIn, scope: Scope, store: StoreDep, request: Request, eid: Eid, xid: Xid
) -> Response:
    """Replace the journal (the final one at the end of a run); status from journal.status."""
    store.executions.update(scope.team_id, eid, xid, body.journal)
    location = scope.url(request, "experiments", eid, "executions", xid)
    return Response(status_code=204, headers={"Content-Location": location})


@router.get(EXEC, response_model=ExecutionOut)
def get_execution(scope: Scope, store: StoreDep, request: Request, eid: Eid, xid: Xid) -> Any:
    """One execution with its journal."""
    data = store.executions.get(scope.team_id, xid, eid)
    return _execution_response(scope.url(request, "experiments", eid, "executions", xid), data)


@router.get("/executions", response_model=ExecutionPage)
def list_executions(scope: Scope, store: StoreDep, limit: LimitQ = None, cursor: CursorQ = None) -> Any:
    """Executions of the team, newest first (paged)."""
    return page(store.executions.list(scope.team_id, limit, cursor))


@router.get("/executions/{xid}", response_model=ExecutionOut)
def get_execution_short(scope: Scope, store: StoreDep, request: Request, xid: Xid) -> Any:
    """One execution, without knowing its experiment id."""
    data = store.executions.get(scope.team_id, xid)
    location = scope.url(request, "experiments", data["experiment_id"], "executions", xid)
    return _execution_response(location, data)
