"""A replica dies, or the replicas are restarted one at a time, while ten real ``chaos run``s
of 100 activities publish through HAProxy: every run ends as with publishing off, and every
execution is complete on the server, no event lost or stored twice."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from replica_helpers import (
    ChaosRun,
    Replicas,
    chaos_env,
    expected_types,
    publish_warnings,
    signed_in,
    sleep_action,
    write_experiment,
)

from chaosiq_core.testing import Team, run_chaos, wait_until

RUNS, ACTIVITIES = 10, 100
METHOD = [sleep_action(f"a{n}", 0.03) for n in range(ACTIVITIES)]


def _stored_events(team: Team) -> int:
    """Events the server holds for the team's executions (asked of whichever replica is up)."""
    try:
        xids = [x["id"] for x in team.executions()]
        return sum(int(team.api("GET", f"/executions/{xid}").json()["events_count"]) for xid in xids)
    except Exception:  # a request the proxy could not place while a replica goes: ask again
        return 0


def _runs_through(replicas: Replicas, tmp_path: Path, disturb: Callable[[Team], None]) -> list[ChaosRun]:
    """Ten runs publishing through the proxy while ``disturb`` acts on the replicas; then
    ``chaos publish`` of anything kept; checks what the server holds; the runs."""
    team = replicas.server.new_team()
    env = chaos_env(tmp_path, "safeguards", "verification")  # one data directory (outbox) for all
    settings = signed_in(team, env)
    off = write_experiment(tmp_path / "off", METHOD, "publishing off")
    none = tmp_path / "none.yaml"  # no settings: no chaosiq control, publishing off
    baseline = run_chaos(
        "--settings", str(none), "run", "--journal-path", str(off.parent / "j.json"), str(off),
        env=env, timeout=120,
    )  # fmt: skip
    runs = [
        ChaosRun(settings, write_experiment(tmp_path / f"run{n}", METHOD, f"run {n}"), env)
        for n in range(RUNS)
    ]
    try:
        disturb(team)
        codes = [run.wait(120) for run in runs]
    finally:
        for run in runs:
            run.kill()
    done = run_chaos("publish", settings=settings, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    off_status = json.loads((off.parent / "j.json").read_text())["status"]
    assert codes == [baseline.returncode] * RUNS, [r.output[-2000:] for r in runs]
    executions = {x["id"]: x for x in team.executions()}
    assert len(executions) == RUNS
    for run in runs:
        journal = run.journal
        assert journal["status"] == off_status == "completed"
        xid = run.execution_id
        assert xid in executions
        stored = team.events(xid)
        assert [e["type"] for e in stored] == expected_types(ACTIVITIES)  # none lost, none twice
        assert len({e["id"] for e in stored}) == len(stored)
        full = team.api("GET", f"/executions/{xid}").json()
        assert full["status"] == "completed" and len(full["journal"]["run"]) == len(journal["run"])
    return runs


def test_a_replica_killed_mid_way_loses_nothing(replicas: Replicas, tmp_path: Path) -> None:
    def kill_one(team: Team) -> None:
        wait_until(lambda: _stored_events(team) > 0, timeout=60, interval=0.2, what="events on the server")
        held = _stored_events(team)
        replicas.kill(0)
        wait_until(lambda: _stored_events(team) > held + 200, timeout=60, interval=0.2, what="more events")
        replicas.start(0)

    _runs_through(replicas, tmp_path, kill_one)


def test_a_rolling_restart_loses_nothing_and_clients_see_no_error(replicas: Replicas, tmp_path: Path) -> None:
    def rolling(team: Team) -> None:
        wait_until(lambda: _stored_events(team) > 0, timeout=60, interval=0.2, what="events on the server")
        for i in (0, 1):
            replicas.stop(i)
            replicas.start(i)

    runs = _runs_through(replicas, tmp_path, rolling)
    for run in runs:
        assert publish_warnings(run.output) == [], run.output[-2000:]
