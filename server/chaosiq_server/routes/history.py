"""History and trends: an experiment's executions over time, a verification's
deviated samples per run (the data of the console's history pages, as JSON)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from ..schemas import ExperimentHistoryOut, VerificationTrendOut
from ..store.history import TREND
from .deps import ERRORS, TEAM, Eid, Viewer
from .json_route import JsonRoute

router = APIRouter(prefix=TEAM, tags=["history"], responses=ERRORS, route_class=JsonRoute)

Vid = Annotated[str, Path(max_length=200)]


@router.get("/experiments/{eid}/history", response_model=ExperimentHistoryOut)
def experiment_history(scope: Viewer, eid: Eid) -> Any:
    """The experiment's newest 100 executions (oldest first) with their outcome, its
    pass rate and median duration over the last 30 days, and its last deviation."""
    return scope.store.history.experiment(scope.team_id, eid)


@router.get("/verifications/{vid}/trend", response_model=VerificationTrendOut)
def verification_trend(scope: Viewer, vid: Vid, limit: Annotated[int, Query(ge=1, le=1000)] = TREND) -> Any:
    """The verification's newest runs (oldest first) with their sample counts: deviated,
    successful and not run, as ``chaos verify`` reported them (null before it did)."""
    return scope.store.history.verification(scope.team_id, vid, limit)
