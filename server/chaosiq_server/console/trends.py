"""What the history pages show, without routes: the executions list's filter (form
values, links that keep it) and a verification's deviated-samples chart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request

from ..errors import BadInput, NotFound
from ..outcome import WORDS
from ..store import ExecutionFilter, Store
from ..store.history import TREND
from ..store.tokens import TeamRef
from .auth import ConsoleNotFound
from .timefmt import show_time


def experiment_path(ref: TeamRef, eid: str) -> str:
    return f"{ref.path}/experiments/{quote(eid, safe='')}"


def list_url(ref: TeamRef, where: ExecutionFilter, cursor: str | None = None) -> str:
    """The executions list with the filter ``where`` (and the page at ``cursor``)."""
    params = where.params()
    if cursor:
        params["cursor"] = cursor
    return f"{ref.path}/executions" + (f"?{urlencode(params)}" if params else "")


# ----------------------------------------------------------- executions list
@dataclass(frozen=True)
class ListFilter:
    """The executions list's filter form: the filter, or the one clear line why not."""

    where: ExecutionFilter
    error: str | None

    @classmethod
    def of(cls, request: Request) -> ListFilter:
        q = request.query_params
        try:
            where = ExecutionFilter.parse(
                q.get("outcome"),
                q.get("experiment"),
                q.get("tag"),
                q.get("since"),
                q.get("until"),
                q.get("q"),
            )
        except BadInput as exc:
            return cls(ExecutionFilter(), exc.detail)
        return cls(where, None)


def filter_form(store: Store, ref: TeamRef, where: ExecutionFilter) -> dict[str, Any]:
    """What the filter form shows: the outcome words, the team's experiments (by title)
    and the current values."""
    return {
        "words": WORDS,
        "experiments": store.experiments.titles(ref.team_id),
        "values": where.params(),
        "active": where.active,
    }


# ----------------------------------------------------------- verification chart
CHART_W, CHART_H, PAD_L, PAD_B, PAD_T = 760, 180, 34, 22, 10


def trend_chart(store: Store, ref: TeamRef, vid: str, base: str) -> dict[str, Any]:
    """The bars of a verification's deviated samples per run (newest runs, oldest left):
    each bar is the run's deviated samples over the same scale, behind it a pale bar of
    all its samples; a run without results (not finished, or none sent) is a grey tick."""
    try:
        trend = store.history.verification(ref.team_id, vid, TREND)
    except NotFound as exc:
        raise ConsoleNotFound("verification") from exc
    runs = trend["runs"]
    top = max([r["total_number_of_samples"] or r["deviated_samples"] or 0 for r in runs] + [1])
    inner_w, inner_h = CHART_W - PAD_L - 8, CHART_H - PAD_B - PAD_T
    step = inner_w / max(len(runs), 1)
    width = max(min(step * 0.7, 24), 2)
    bars = []
    for i, run in enumerate(runs):
        x = PAD_L + i * step + (step - width) / 2
        total, deviated = run["total_number_of_samples"], run["deviated_samples"]
        scale = inner_h / top
        bars.append(
            {
                **run,
                "url": f"{base}/runs/{quote(run['id'], safe='')}",
                "x": round(x, 1),
                "w": round(width, 1),
                "has_results": deviated is not None,
                "total_h": round((total or 0) * scale, 1),
                "dev_h": round((deviated or 0) * scale, 1),
                "base_y": PAD_T + inner_h,
                "label": _label(run),
            }
        )
    return {
        "bars": bars,
        "top": top,
        "runs_count": trend["runs_count"],
        "w": CHART_W,
        "h": CHART_H,
        "pad_l": PAD_L,
        "pad_t": PAD_T,
        "base_y": PAD_T + inner_h,
        "first": show_time(runs[0]["created_at"]) if runs else "",
        "last": show_time(runs[-1]["created_at"]) if runs else "",
    }


def _label(run: dict[str, Any]) -> str:
    when = show_time(run["created_at"])
    if run["deviated_samples"] is None:
        return f"{when}: no results ({run['state']})"
    of = f" of {run['total_number_of_samples']}" if run["total_number_of_samples"] is not None else ""
    return f"{when}: {run['deviated_samples']}{of} samples deviated"
