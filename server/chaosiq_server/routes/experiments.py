"""Experiments: publish (create / unchanged / update), list, read."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from ..schemas import ExperimentIn, ExperimentOut, ExperimentPage, IdOut
from .deps import ERRORS, TEAM, CursorQ, Eid, LimitQ, Member, Viewer, page
from .json_route import JsonRoute

router = APIRouter(
    prefix=TEAM + "/experiments", tags=["experiments"], responses=ERRORS, route_class=JsonRoute
)


@router.post(
    "",
    status_code=201,
    response_model=IdOut,
    responses={
        200: {"model": IdOut, "description": "Experiment (by its chaosiq experiment_id) updated"},
        204: {"description": "Identical experiment already stored; see Content-Location"},
    },
)
def publish_experiment(body: ExperimentIn, scope: Member) -> Response:
    """Store an experiment. 201 when new, 204 (with ``Content-Location``) when an
    identical one is already stored in the team, 200 when the experiment carries
    the ``experiment_id`` of a stored one whose content changed."""
    outcome, eid = scope.store.experiments.upsert(scope.team_id, body.experiment)
    location = scope.url("experiments", eid)
    if outcome == "unchanged":
        return Response(status_code=204, headers={"Content-Location": location})
    return JSONResponse(
        {"id": eid},
        status_code=201 if outcome == "created" else 200,
        headers={"Content-Location": location},
    )


@router.get("", response_model=ExperimentPage)
def list_experiments(scope: Viewer, limit: LimitQ = None, cursor: CursorQ = None) -> Any:
    """Experiments of the team, newest first (paged)."""
    return page(scope.store.experiments.list(scope.team_id, limit, cursor))


@router.get("/{eid}", response_model=ExperimentOut)
def get_experiment(scope: Viewer, eid: Eid) -> Any:
    """One experiment."""
    return scope.store.experiments.get(scope.team_id, eid)
