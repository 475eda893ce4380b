"""Verifications and verification runs: what `chaos verify` creates and reports to."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from ..schemas import (
    VerificationOut,
    VerificationPage,
    VerificationRunEventIn,
    VerificationRunEventOut,
    VerificationRunEventPage,
    VerificationRunFinishedIn,
    VerificationRunIn,
    VerificationRunOut,
    VerificationRunPage,
)
from .deps import ERRORS, TEAM, CursorQ, LimitQ, Member, Viewer, page
from .json_route import JsonRoute

router = APIRouter(
    prefix=TEAM + "/verifications", tags=["verifications"], responses=ERRORS, route_class=JsonRoute
)

Vid = Annotated[str, Path(max_length=200)]
Rid = Annotated[str, Path(max_length=200)]
ClientRid = Annotated[str, Path(pattern=r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")]
VER = "/{vid}"


def _run(scope: Any, run: dict[str, Any]) -> dict[str, Any]:
    return {**run, "org_id": scope.org_id, "team_id": scope.team_id}


@router.get("", response_model=VerificationPage)
def list_verifications(scope: Viewer, limit: LimitQ = None, cursor: CursorQ = None) -> Any:
    """Verifications of the team (created by their first run), newest first."""
    return page(scope.store.verifications.list(scope.team_id, scope.org_id, limit, cursor))


@router.get(VER, response_model=VerificationOut)
def get_verification(scope: Viewer, vid: Vid) -> Any:
    """One verification."""
    return scope.store.verifications.get(scope.team_id, scope.org_id, vid)


@router.post(VER + "/runs", status_code=201, response_model=VerificationRunOut)
def start_run(body: VerificationRunIn, scope: Member, vid: Vid) -> Any:
    """Start a verification run (creates the verification on first use)."""
    return _run(scope, scope.store.verifications.start_run(scope.team_id, vid, body.model_dump())[1])


@router.put(
    VER + "/runs/{rid}",
    status_code=201,
    response_model=VerificationRunOut,
    responses={200: {"model": VerificationRunOut, "description": "Already started: unchanged"}},
)
def start_run_with_id(
    body: VerificationRunIn, scope: Member, vid: Vid, rid: ClientRid, response: Response
) -> Any:
    """Extension ``verification-run-put``: start a run under an id the client chose
    (a UUID), so a client that could not reach the server when the run started
    can queue this request and the run's events, and send them later. 201 when
    created, 200 when that run already exists (a replay)."""
    created, run = scope.store.verifications.start_run(scope.team_id, vid, body.model_dump(), rid=rid)
    if not created:
        response.status_code = 200
    return _run(scope, run)


@router.get(VER + "/runs", response_model=VerificationRunPage)
def list_runs(scope: Viewer, vid: Vid, limit: LimitQ = None, cursor: CursorQ = None) -> Any:
    """Runs of a verification, newest first (paged)."""
    found = scope.store.verifications.list_runs(scope.team_id, vid, limit, cursor)
    return {**page(found), "items": [_run(scope, r) for r in found.items]}


@router.get(VER + "/runs/{rid}", response_model=VerificationRunOut)
def get_run(scope: Viewer, vid: Vid, rid: Rid) -> Any:
    """One verification run."""
    return _run(scope, scope.store.verifications.get_run(scope.team_id, vid, rid))


@router.post(VER + "/runs/{rid}/events", status_code=201, response_model=VerificationRunEventOut)
def add_run_event(body: VerificationRunEventIn, scope: Member, vid: Vid, rid: Rid) -> Any:
    """A verification-run event: ``{"category", "payload"?}``."""
    return scope.store.verifications.add_run_event(scope.team_id, vid, rid, body.category, body.payload)


@router.get(VER + "/runs/{rid}/events", response_model=VerificationRunEventPage)
def list_run_events(scope: Viewer, vid: Vid, rid: Rid, limit: LimitQ = None, cursor: CursorQ = None) -> Any:
    """Events of a verification run, in arrival order (paged)."""
    return page(scope.store.verifications.list_run_events(scope.team_id, vid, rid, limit, cursor))


@router.post(VER + "/runs/{rid}/finished", status_code=204)
def finish_run(body: VerificationRunFinishedIn, scope: Member, vid: Vid, rid: Rid) -> Response:
    """Mark the run finished with its final journal, status and results."""
    scope.store.verifications.finish_run(scope.team_id, vid, rid, body.model_dump(exclude_none=True))
    return Response(status_code=204)
