"""The console's experiment page: its executions over time (the outcome strip), its
last 30 days (pass rate, median duration) and its last deviation."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..errors import NotFound
from ..outcome import WORDS
from ..store import ExecutionFilter
from . import pages
from .auth import ConsoleNotFound, store_of
from .trends import list_url
from .views import User, render

router = APIRouter(include_in_schema=False)

EXPERIMENT = "/organizations/{org}/teams/{team}/experiments/{eid}"


@router.get(EXPERIMENT)
def experiment(request: Request, org: str, team: str, eid: str, user: User) -> Response:
    ref = user.team(org, team)
    try:
        history = store_of(request).history.experiment(ref.team_id, eid)
    except NotFound as exc:
        raise ConsoleNotFound("experiment") from exc
    marks = [{**x, "path": pages.execution_path(ref, eid, x["id"])} for x in history["executions"]]
    last = history["last_deviation"]
    return render(
        request,
        "experiment.html",
        {
            "ref": ref,
            "current_team": ref,
            "eid": eid,
            "title": history["title"] or "(untitled experiment)",
            "count": history["executions_count"],
            "marks": marks,
            "stats": history["last_30_days"],
            "last_deviation": {**last, "path": pages.execution_path(ref, eid, last["id"])} if last else None,
            "list_url": list_url(ref, ExecutionFilter(experiment_id=eid)),
            "words": [w for w in WORDS if history["last_30_days"]["by_outcome"].get(w)],
        },
        user=user,
    )
