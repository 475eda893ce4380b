"""Executions: created from the initial journal, the final journal stored, read."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from ..schemas import (
    ExecutionCreatedOut,
    ExecutionIn,
    ExecutionOut,
    ExecutionPage,
    ExecutionWithExperimentIn,
    JournalIn,
)
from ..store import ExecutionFilter
from .deps import ERRORS, TEAM, CursorQ, Eid, LimitQ, Member, TeamScope, Viewer, Xid, page
from .json_route import JsonRoute

router = APIRouter(prefix=TEAM, tags=["executions"], responses=ERRORS, route_class=JsonRoute)

EXEC = "/experiments/{eid}/executions/{xid}"


def _execution_response(location: str, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, headers={"Content-Location": location})


def _created(scope: TeamScope, created: tuple[str, str, bool]) -> Response:
    xid, eid, new = created
    location = scope.url("experiments", eid, "executions", xid)
    body = {"id": xid, "experiment_id": eid}
    return JSONResponse(body, status_code=201 if new else 200, headers={"Content-Location": location})


SEEN_RUN = {
    200: {"model": ExecutionCreatedOut, "description": "The run (``run_id``) has this execution already"}
}


@router.post(
    "/experiments/{eid}/executions", status_code=201, response_model=ExecutionCreatedOut, responses=SEEN_RUN
)
def create_execution(body: ExecutionIn, scope: Member, eid: Eid) -> Response:
    """Create an execution from the initial journal. ``Content-Location`` is the
    absolute URL of the execution resource. Extension ``execution-run-id``: a
    ``run_id`` the team has seen already answers 200 with that run's execution
    and its experiment id, unchanged."""
    return _created(scope, scope.store.executions.create_run(scope.team_id, eid, body.journal, body.run_id))


@router.post("/executions", status_code=201, response_model=ExecutionCreatedOut, responses=SEEN_RUN)
def create_execution_with_experiment(body: ExecutionWithExperimentIn, scope: Member) -> Response:
    """Extension ``execution-with-experiment``: store (or match) the experiment and
    create its execution in one request, one round trip instead of two. The
    experiment is handled as ``POST …/experiments`` does; ``Content-Location`` is
    the execution's absolute URL. A ``run_id`` the team has seen already answers
    200 with that run's execution, unchanged (the experiment is not stored)."""
    if body.run_id and (found := scope.store.executions.of_run(scope.team_id, body.run_id)):
        return _created(scope, (*found, False))
    _outcome, eid = scope.store.experiments.upsert(scope.team_id, body.experiment)
    return _created(scope, scope.store.executions.create_run(scope.team_id, eid, body.journal, body.run_id))


@router.put(EXEC, status_code=204)
def put_execution(body: JournalIn, scope: Member, eid: Eid, xid: Xid) -> Response:
    """Replace the journal (the final one at the end of a run); status from journal.status."""
    scope.store.executions.update(scope.team_id, eid, xid, body.journal)
    location = scope.url("experiments", eid, "executions", xid)
    return Response(status_code=204, headers={"Content-Location": location})


@router.get(EXEC, response_model=ExecutionOut)
def get_execution(scope: Viewer, eid: Eid, xid: Xid) -> Any:
    """One execution with its journal."""
    data = scope.store.executions.get(scope.team_id, xid, eid)
    return _execution_response(scope.url("experiments", eid, "executions", xid), data)


NO_NUL = "^[^\\x00]*$"
# a day as YYYY-MM-DD only (pydantic's date would also take "0", a Unix time)
DAY: dict[str, Any] = {"pattern": r"^\d{4}-\d{2}-\d{2}$", "json_schema_extra": {"format": "date"}}
OutcomeQ = Literal["passed", "failed", "deviated", "interrupted", "aborted", "running", "unknown"]


def execution_filter(
    outcome: Annotated[OutcomeQ | None, Query(description="Only this outcome.")] = None,
    experiment: Annotated[
        str | None, Query(max_length=200, pattern=NO_NUL, description="Only this experiment's (its id).")
    ] = None,
    tag: Annotated[
        str | None, Query(max_length=200, pattern=NO_NUL, description="Only of experiments with this tag.")
    ] = None,
    since: Annotated[str | None, Query(description="Received on this UTC day or later.", **DAY)] = None,
    until: Annotated[str | None, Query(description="Received on this UTC day or earlier.", **DAY)] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, pattern=NO_NUL, description="Experiment title contains this (any case)."),
    ] = None,
) -> ExecutionFilter:
    return ExecutionFilter.parse(outcome, experiment, tag, since, until, q)


@router.get("/executions", response_model=ExecutionPage)
def list_executions(
    scope: Viewer,
    where: Annotated[ExecutionFilter, Depends(execution_filter)],
    limit: LimitQ = None,
    cursor: CursorQ = None,
) -> Any:
    """Executions of the team, newest first (paged), filtered by outcome, experiment,
    tag, date range (UTC days, both included) and title; the cursor is used with the
    same filters."""
    return page(scope.store.executions.list(scope.team_id, limit, cursor, where))


@router.get("/executions/{xid}", response_model=ExecutionOut)
def get_execution_short(scope: Viewer, xid: Xid) -> Any:
    """One execution, without knowing its experiment id."""
    data = scope.store.executions.get(scope.team_id, xid)
    location = scope.url("experiments", data["experiment_id"], "executions", xid)
    return _execution_response(location, data)
