"""What the execution and verification pages show, gathered from the store."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from ..errors import NotFound
from ..store import Store, TeamRef
from .auth import ConsoleNotFound
from .stops import safeguard_stops
from .timefmt import parse_time, show_clock, show_duration, show_time
from .timeline import OUTCOME_LABELS, activity_outcome, build_timeline, render_timeline
from .vchart import build_chart, render_chart

MAX_EVENTS = 5000
OUTPUT_PREVIEW = 200
TREE_DEPTH = 12
"""Levels of the journal tree shown as nested lists; deeper values are shown as JSON text."""
TOO_DEEP = "(nested too deeply to show here: download the journal)"


def compact_json(value: Any) -> str:
    """JSON text on one line; never fails (the console must render whatever was stored)."""
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (RecursionError, ValueError):
        return TOO_DEEP


def pretty_json(value: Any) -> str:
    """Indented JSON text; the indenting encoder recurses in Python, so a document
    too deep for it is given on one line (the C encoder goes deeper)."""
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (RecursionError, ValueError):
        return compact_json(value)


def execution_path(ref: TeamRef, eid: str, xid: str) -> str:
    return f"{ref.path}/experiments/{eid}/executions/{xid}"


def all_events(store: Store, team_id: str, eid: str | None, xid: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while len(items) < MAX_EVENTS:
        page = store.events.list(team_id, eid, xid, 1000, cursor)
        items.extend(page.items)
        cursor = page.next_cursor
        if not cursor:
            break
    return items


def _preview(value: Any) -> str:
    text = value if isinstance(value, str) else compact_json(value)
    return text if len(text) <= OUTPUT_PREVIEW else text[: OUTPUT_PREVIEW - 1] + "…"


def _steady(state: Any) -> dict[str, Any] | None:
    if not isinstance(state, dict):
        return None
    probes = []
    for probe in state.get("probes") or []:
        if not isinstance(probe, dict):
            continue
        activity = probe.get("activity") if isinstance(probe.get("activity"), dict) else {}
        probes.append(
            {
                "name": activity.get("name") or "(unnamed probe)",
                "status": probe.get("status") or "",
                "tolerance_met": probe.get("tolerance_met"),
                "output": _preview(probe.get("output")) if "output" in probe else "",
                "exception": _preview(probe.get("exception")) if probe.get("exception") else "",
            }
        )
    return {"met": state.get("steady_state_met"), "probes": probes}


def steady_states(journal: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """Before/after results: from the journal, else from hypothesis-finished events."""
    found: dict[str, Any] = {"before": None, "after": None}
    steady = journal.get("steady_states")
    if isinstance(steady, dict):
        found["before"] = _steady(steady.get("before"))
        found["after"] = _steady(steady.get("after"))
    if found["before"] is None and found["after"] is None:
        states = [
            (e.get("data") or {}).get("state")
            for e in events
            if e.get("type") == "hypothesis-finished" and isinstance(e.get("data"), dict)
        ]
        if states:
            found["before"] = _steady(states[0])
        if len(states) > 1:
            found["after"] = _steady(states[1])
    return found


def event_rows(events: list[dict[str, Any]]) -> list[dict[str, str]]:
    rows = []
    for e in events:
        data = e.get("data") if isinstance(e.get("data"), dict) else {}
        ctx = data.get("context") if isinstance(data.get("context"), dict) else {}
        state = data.get("state") if isinstance(data.get("state"), dict) else {}
        name = ctx.get("name") or ctx.get("title") or ""
        outcome = state.get("status") or ""
        if e.get("type") == "activity-finished":
            outcome = OUTCOME_LABELS[activity_outcome(data.get("state"))]
        elif e.get("type") in ("safeguard-triggered", "run-paused"):
            name, outcome = ctx.get("source") or "", ctx.get("reason") or ""
        elif e.get("type") == "run-resumed":
            name, outcome = ctx.get("by") or "", ctx.get("ended") or ""
        rows.append(
            {
                "time": show_time(e.get("time")),
                "clock": show_clock(e.get("time")),
                "type": str(e.get("type")),
                "name": str(name)[:120],
                "outcome": str(outcome)[:300],
            }
        )
    return rows


def execution_view(store: Store, ref: TeamRef, eid: str, xid: str, title: str | None) -> dict[str, Any]:
    """Everything the execution page (and its live fragment) renders."""
    try:
        execution = store.executions.get(ref.team_id, xid, eid)
        events = all_events(store, ref.team_id, eid, xid)
        policies = store.policies.list(ref.team_id, xid, eid)
        pause = store.pauses.current(ref.team_id, xid, eid)
    except NotFound as exc:
        raise ConsoleNotFound("execution") from exc
    journal = execution["journal"] if isinstance(execution["journal"], dict) else {}
    status = execution["status"] or "unknown"
    running = status == "running"
    timeline = build_timeline(events, policies, running=running, status=status)
    start = parse_time(journal.get("start")) or parse_time(execution["created_at"])
    duration = journal.get("duration")
    if not isinstance(duration, (int, float)) and timeline.start and timeline.end:
        duration = (timeline.end - timeline.start).total_seconds()
    stopped = [p for p in policies if not p.get("allowed", True)]
    path = execution_path(ref, eid, xid)
    return {
        "ref": ref,
        "eid": eid,
        "xid": xid,
        "title": journal.get("experiment", {}).get("title")
        if isinstance(journal.get("experiment"), dict)
        else None,
        "experiment_title": title or "(untitled experiment)",
        "status": status,
        "outcome": execution["outcome"],
        "outcome_reasons": execution["outcome_reasons"],
        "running": running,
        "stops": safeguard_stops(journal, events),
        "start": show_time(start),
        "duration": show_duration(duration),
        "updated_at": show_time(execution["updated_at"]),
        "timeline": render_timeline(timeline),
        "bars": timeline.bars,
        "truncated": timeline.truncated,
        "events": event_rows(events),
        "events_count": len(events),
        "policies": [{**p, "created_at": show_time(p.get("created_at"))} for p in policies],
        "stop_requested": bool(stopped),
        "steady": steady_states(journal, events),
        "journal": journal,
        "journal_text": pretty_json(journal),
        "path": path,
        "live_url": path + "/live.json",
        "journal_url": path + "/journal.json",
        "stop_url": path + "/stop",
        "pause": {**pause, "created_at": show_time(pause["created_at"])} if pause else None,
        "pause_url": path + "/pause",
        "resume_url": path + "/resume",
        "paused_now": _last_of(events, ("run-paused", "run-resumed")) == "run-paused",
    }


def _last_of(events: list[dict[str, Any]], types: tuple[str, ...]) -> str | None:
    """The type of the last event among ``types``."""
    for event in reversed(events):
        if event.get("type") in types:
            return str(event["type"])
    return None


def run_events(store: Store, team_id: str, vid: str, rid: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while len(items) < MAX_EVENTS:
        page = store.verifications.list_run_events(team_id, vid, rid, 1000, cursor)
        items.extend(page.items)
        cursor = page.next_cursor
        if not cursor:
            break
    return items


def run_view(store: Store, ref: TeamRef, vid: str, rid: str) -> dict[str, Any]:
    try:
        run = store.verifications.get_run(ref.team_id, vid, rid)
        events = run_events(store, ref.team_id, vid, rid)
    except NotFound as exc:
        raise ConsoleNotFound("verification run") from exc
    chart = build_chart(run, events)
    results = run.get("results") if isinstance(run.get("results"), dict) else {}
    journal = run.get("journal") if isinstance(run.get("journal"), dict) else {}
    experiment = journal.get("experiment") if isinstance(journal.get("experiment"), dict) else {}
    return {
        "ref": ref,
        "vid": vid,
        "run": run,
        "outcome": run["outcome"],
        "outcome_reasons": run["outcome_reasons"],
        "title": experiment.get("title") or vid,
        "results": results,
        "duration": show_duration(results.get("total_duration")),
        "created_at": show_time(run.get("created_at")),
        "finished_at": show_time(run.get("finished_at")),
        "chart": render_chart(chart),
        "counts": {k: chart.count(k) for k in ("met", "deviated", "not-run")},
        "phases": [
            {"kind": p.kind, "start": show_time(p.start), "end": show_time(p.end)} for p in chart.phases
        ],
        "events": [{"time": show_time(e.get("created_at")), "category": e.get("category")} for e in events],
        "execution_path": execution_path(ref, run["experiment_id"], run["execution_id"])
        if run.get("experiment_id") and run.get("execution_id")
        else None,
        "running": run.get("state") == "running",
        "live_url": f"{ref.path}/verifications/{quote(vid, safe='')}/runs/{quote(rid, safe='')}/live.json",
    }


def run_summary(run: dict[str, Any]) -> dict[str, Any]:
    results = run.get("results") if isinstance(run.get("results"), dict) else {}
    return {
        "id": run["id"],
        "status": run.get("status") or "",
        "outcome": run["outcome"],
        "outcome_reasons": run["outcome_reasons"],
        "created_at": show_time(run.get("created_at")),
        "successful": results.get("successful_samples"),
        "deviated": results.get("deviated_samples"),
        "not_run": results.get("not_run_samples"),
        "total": results.get("total_number_of_samples"),
        "duration": show_duration(results.get("total_duration")),
    }
