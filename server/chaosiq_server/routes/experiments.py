"""Experiments: publish (create / unchanged / update), list, read."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from ..schemas import ExperimentIn, ExperimentOut, ExperimentPage, IdOut
from .deps import ERRORS, TEAM, Scope, StoreDep

router = APIRouter(tags=["experiments"])

Eid = Annotated[str, Path(max_length=200)]


@router.post(
    TEAM + "/experiments",
    status_code=201,
    response_model=IdOut,
    responses={
        **ERRORS,
        200: {"model": IdOut, "description": "Experiment (by its chaosiq experiment_id) updated"},
        204: {"description": "Identical experiment already stored; see Content-Location"},
    },
)
def publish_experiment(body: ExperimentIn, scope: Scope, store: StoreDep, request: Request) -> Response:
    """Store an experiment. 201 when new, 204 (with ``Content-Location``) when an
    identical one is already stored in the team, 200 when the experiment carries
    the ``experiment_id`` of a stored one whose content changed."""
    outcome, eid = store.experiments.upsert(scope.team_id, body.experiment)
    location = scope.url(request, "experiments", eid)
    if outcome == "unchanged":
        return Response(status_code=204, headers={"Content-Location": location})
    return JSONResponse(
        {"id": eid},
        status_code=201 if outcome == "created" else 200,
        headers={"Content-Location": location},
    )


@router.get(TEAM + "/experiments", response_model=ExperimentPage, responses=ERRORS)
def list_experiments(
    scope: Scope,
    store: StoreDep,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Any:
    """Experiments of the team, newest first (paged)."""
    page = store.experiments.list(scope.team_id, limit, cursor)
    return {"items": page.items, "next_cursor": page.next_cursor, "total": page.total}


@router.get(TEAM + "/experiments/{eid}", response_model=ExperimentOut, responses=ERRORS)
def get_experiment(scope: Scope, store: StoreDep, eid: Eid) -> Any:
    """One experiment."""
    return store.experiments.get(scope.team_id, eid)
