"""Replays what a ``chaos run`` publishes and what ``chaos verify`` sends (its run,
events and results), through the HTTP API, with controlled timestamps."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

Api = Callable[..., Any]  # api(method, path_relative_to_team, json=..., headers=...) -> response

CE = {"content-type": "application/cloudevents+json"}


def experiment(title: str) -> dict[str, Any]:
    probe = {
        "type": "probe",
        "name": "service-is-up",
        "tolerance": True,
        "provider": {"type": "python", "module": "os.path", "func": "exists", "arguments": {"path": "/"}},
    }
    return {
        "version": "1.0.0",
        "title": title,
        "description": "console test",
        "steady-state-hypothesis": {"title": "all good", "probes": [probe]},
        "method": [
            {"type": "action", "name": "stress-cpu", "provider": {"type": "process", "path": "true"}},
            {"type": "action", "name": "kill-pod", "provider": {"type": "process", "path": "false"}},
        ],
        "rollbacks": [{"type": "action", "name": "restore", "provider": {"type": "process", "path": "true"}}],
    }


def _event(etype: str, when: datetime, context: Any = None, state: Any = None) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "chaosiq-cloud",
        "type": etype,
        "datacontenttype": "application/json",
        "time": when.isoformat(),
        "data": json.dumps({"context": context, "state": state}),
    }


def _run(
    activity: dict[str, Any],
    start: datetime,
    seconds: float,
    status: str = "succeeded",
    tolerance_met: bool | None = None,
) -> dict[str, Any]:
    run = {
        "activity": activity,
        "status": status,
        "output": "ok" if status == "succeeded" else None,
        "start": start.replace(tzinfo=None).isoformat(),
        "end": (start + timedelta(seconds=seconds)).replace(tzinfo=None).isoformat(),
        "duration": seconds,
    }
    if status == "failed":
        run["exception"] = ["Traceback...", "ActivityFailed: exit 1"]
    if tolerance_met is not None:
        run["tolerance_met"] = tolerance_met
    return run


def create(api: Api, title: str) -> tuple[str, str, dict[str, Any]]:
    """POST the experiment and the execution; returns (eid, xid, experiment)."""
    exp = experiment(title)
    resp = api("POST", "/experiments", json={"experiment": exp})
    assert resp.status_code in (200, 201), resp.text
    eid = resp.json()["id"]
    journal = {"experiment": exp, "status": "running", "start": datetime.now(timezone.utc).isoformat()}
    resp = api("POST", f"/experiments/{eid}/executions", json={"journal": journal})
    assert resp.status_code == 201, resp.text
    return eid, resp.json()["id"], exp


def post(api: Api, eid: str, xid: str, event: dict[str, Any]) -> None:
    resp = api("POST", f"/experiments/{eid}/executions/{xid}/events", content=json.dumps(event), headers=CE)
    assert resp.status_code in (200, 201), resp.text


def replay_run(
    api: Api, title: str = "Checkout survives a pod kill", finish: bool = True, t0: datetime | None = None
) -> tuple[str, str]:
    """A full run: steady state, two actions (one fails), steady state after, rollback."""
    eid, xid, exp = create(api, title)
    t = t0 or datetime.now(timezone.utc) - timedelta(seconds=12)
    probe = exp["steady-state-hypothesis"]["probes"][0]
    a1, a2 = exp["method"]
    rb = exp["rollbacks"][0]

    def hyp(at: datetime) -> datetime:
        post(api, eid, xid, _event("starting-hypothesis", at, exp["steady-state-hypothesis"]))
        post(api, eid, xid, _event("starting-activity", at, probe))
        run = _run(probe, at, 0.4, tolerance_met=True)
        post(api, eid, xid, _event("activity-finished", at + timedelta(seconds=0.4), probe, run))
        state = {"steady_state_met": True, "probes": [run]}
        post(api, eid, xid, _event("hypothesis-finished", at + timedelta(seconds=0.5), None, state))
        return at + timedelta(seconds=0.5)

    post(api, eid, xid, _event("starting-experiment", t, exp))
    t = hyp(t)
    post(api, eid, xid, _event("starting-method", t, exp))
    post(api, eid, xid, _event("starting-activity", t, a1))
    post(api, eid, xid, _event("activity-finished", t + timedelta(seconds=4), a1, _run(a1, t, 4)))
    t += timedelta(seconds=4)
    post(api, eid, xid, _event("starting-activity", t, a2))
    post(api, eid, xid, _event("activity-finished", t + timedelta(seconds=2), a2, _run(a2, t, 2, "failed")))
    t += timedelta(seconds=2)
    post(api, eid, xid, _event("method-finished", t, exp, []))
    t = hyp(t)
    post(api, eid, xid, _event("starting-rollback", t, exp))
    post(api, eid, xid, _event("starting-activity", t, rb))
    post(api, eid, xid, _event("activity-finished", t + timedelta(seconds=1), rb, _run(rb, t, 1)))
    t += timedelta(seconds=1)
    post(api, eid, xid, _event("rollback-finished", t, exp, []))
    if finish:
        journal = {
            "experiment": exp,
            "status": "completed",
            "deviated": False,
            "duration": 8.5,
            "start": (t0 or t).isoformat(),
            "end": t.isoformat(),
            "steady_states": {
                "before": {"steady_state_met": True, "probes": []},
                "after": {"steady_state_met": True, "probes": []},
            },
            "run": [],
            "rollbacks": [],
            "extensions": [{"name": "chaosiq", "execution_id": xid, "experiment_id": eid}],
        }
        post(api, eid, xid, _event("experiment-finished", t, exp, journal))
        resp = api("PUT", f"/experiments/{eid}/executions/{xid}", json={"journal": journal})
        assert resp.status_code in (200, 204), resp.text
    return eid, xid


def replay_verification(api: Api, vid: str = "latency-under-load", *, finish: bool = True) -> tuple[str, str]:
    """A verification run: warm-up, conditions, samples (met/deviated/not run), finished
    (``finish=False``: still running, after its samples)."""
    eid, xid, exp = create(api, "Checkout latency stays under 200 ms")
    exp["extensions"] = [
        {
            "name": "chaosiq",
            "experiment_id": eid,
            "verification": {
                "id": vid,
                "warm-up-duration": 2,
                "frequency-of-measurement": 1,
                "duration-of-conditions": 3,
                "cool-down-duration": 0,
            },
        }
    ]
    resp = api(
        "POST",
        f"/verifications/{vid}/runs",
        json={"journal": {"experiment": exp}, "status": "started", "experiment_id": eid, "execution_id": xid},
    )
    assert resp.status_code == 201, resp.text
    rid = resp.json()["id"]
    base = datetime.now(timezone.utc) - timedelta(seconds=20)

    def ev(category: str, at: float, payload: Any = None) -> None:
        body: dict[str, Any] = {"category": category}
        p = dict(payload or {})
        p["time"] = (base + timedelta(seconds=at)).isoformat()
        body["payload"] = p
        r = api("POST", f"/verifications/{vid}/runs/{rid}/events", json=body)
        assert r.status_code == 201, r.text

    ev("verification-hypothesis-before-method-started", 0)
    ev("verification-hypothesis-before-method-completed", 0.5)
    ev("verification-sample-started", 0.6, {"frequency": 1})
    outcomes = [True, True, True, False, False, True, None, True, True, True, True]
    for i, met in enumerate(outcomes, start=1):
        if i == 3:
            ev("verification-condition-started", 2.6)
        if i == 6:
            ev("verification-condition-completed", 5.7, {"state": []})
        state = None if met is None else {"steady_state_met": met, "probes": []}
        ev("verification-sample", 0.6 + i, {"iteration": i, "state": state})
    if not finish:
        return vid, rid
    ev("verification-sampling-completed", 12)
    ev("verification-cooldown-started", 12.1, {"duration": 2})
    ev("verification-cooldown-completed", 14)
    ev("verification-completed", 14.5)
    results = {
        "successful_samples": 8,
        "deviated_samples": 2,
        "not_run_samples": 1,
        "total_number_of_samples": 11,
        "total_duration": 14.5,
    }
    r = api(
        "POST",
        f"/verifications/{vid}/runs/{rid}/finished",
        json={
            "journal": {"experiment": exp, "status": "completed"},
            "status": "completed",
            "results": results,
        },
    )
    assert r.status_code == 204, r.text
    return vid, rid
