"""Safeguards with the real `chaos run`, the real publisher and a real chaosiq-server."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from chaosiq_core.testing import Team, start_server, wait_until

from .helpers import ChaosRun, action, chaosiq_ext, experiment, set_options


def _execution_id(team: Team) -> str:
    items = wait_until(team.executions, timeout=20, what="the execution on the server")
    return str(items[0]["id"])


def _wait_log(tmp_path: Path, marker: str) -> None:
    log = tmp_path / "chaostoolkit.log"
    wait_until(lambda: log.exists() and marker in log.read_text(), timeout=20, what=marker)


def _run(signed_in: Path, tmp_path: Path, method: list[dict[str, Any]], **kw: Any) -> ChaosRun:
    exp = experiment(tmp_path, method, **kw)
    return ChaosRun(signed_in, exp, tmp_path)


def test_server_stop_ends_a_30s_action_within_a_second_and_a_half(
    signed_in: Path, chaosiq_team: Team, tmp_path: Path
) -> None:
    run = _run(signed_in, tmp_path, [action("long-sleep", 30)])
    xid = _execution_id(chaosiq_team)
    _wait_log(tmp_path, "Action: long-sleep")
    stop_set = time.monotonic()
    assert chaosiq_team.stop(xid, reason="game day over").status_code < 300
    assert run.wait(30) == 1, run.output
    assert run.ended - stop_set <= 1.5 + 0.5, run.output  # goal 1.5 s; slack for a loaded CI box
    journal = run.journal
    assert journal["status"] == "interrupted"
    assert journal["interruption"]["kind"] == "safeguard"
    assert journal["interruption"]["name"] == "server"
    assert "game day over" in journal["interruption"]["reason"]
    policies = chaosiq_ext(journal)["safeguards"]
    assert [p["name"] for p in policies] == ["stopped-by-user"]

    # the published execution shows it
    def published() -> Any:
        body = chaosiq_team.api("GET", f"/executions/{xid}").json()
        return (
            body
            if (body.get("status") or (body.get("journal") or {}).get("status")) == "interrupted"
            else None
        )

    body = wait_until(published, timeout=15, what="the interrupted execution on the server")
    assert body


def test_a_denying_policy_before_the_start(signed_in: Path, chaosiq_team: Team, tmp_path: Path) -> None:
    """A policy added while the run waits for its first verdict (a 3 s local probe): the method never runs."""
    set_options(signed_in, start_timeout=10)
    slow_gate = {
        "type": "probe",
        "name": "gate",
        "tolerance": 0,
        "provider": {"type": "process", "path": "sleep", "arguments": "3"},
    }
    run = _run(signed_in, tmp_path, [action("never", 0)], probes=[slow_gate])
    xid = _execution_id(chaosiq_team)
    experiments = chaosiq_team.api("GET", "/executions?limit=1").json()["items"]
    eid = experiments[0].get("experiment_id")
    resp = chaosiq_team.api(
        "POST",
        f"/experiments/{eid}/executions/{xid}/policies",
        json={"name": "freeze", "reason": "change freeze"},
    )
    assert resp.status_code == 201, resp.text
    code = run.wait(30)
    journal = run.journal
    assert code == 1
    assert journal["run"] == []
    assert journal["status"] == "interrupted"
    assert journal["interruption"]["reason"] == "freeze: change freeze"


def test_stop_during_rollbacks_lets_them_finish(signed_in: Path, chaosiq_team: Team, tmp_path: Path) -> None:
    run = _run(signed_in, tmp_path, [action("short", 0.1)], rollbacks=[action("rb-sleep", 2.5)])
    xid = _execution_id(chaosiq_team)
    _wait_log(tmp_path, "Rollback: rb-sleep")
    chaosiq_team.stop(xid, reason="stop in rollbacks")
    assert run.wait(30) == 1, run.output
    journal = run.journal
    assert journal["status"] == "interrupted"
    assert journal["interruption"]["name"] == "server"
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded"]


def test_stop_during_rollbacks_with_skip_cuts_them(
    signed_in: Path, chaosiq_team: Team, tmp_path: Path
) -> None:
    set_options(signed_in, rollbacks="skip")
    run = _run(signed_in, tmp_path, [action("short", 0.1)], rollbacks=[action("rb-sleep", 30)])
    xid = _execution_id(chaosiq_team)
    _wait_log(tmp_path, "Rollback: rb-sleep")
    stop_set = time.monotonic()
    chaosiq_team.stop(xid)
    assert run.wait(30) == 1, run.output
    assert run.ended - stop_set < 3
    assert run.journal["status"] == "interrupted"
    assert run.journal["interruption"]["kind"] == "safeguard"


@pytest.fixture
def own_server(tmp_path: Path) -> Any:
    server = start_server(tmp_path / "server")
    yield server
    server.stop()


def _sign_in(tmp_path: Path, team: Team) -> Path:
    from chaosiq_core.testing import sign_in

    return sign_in(team, tmp_path / "settings.yaml")


@pytest.mark.usefixtures("chaos_home")
def test_server_down_fail_open_warns_once_and_completes(tmp_path: Path, own_server: Any) -> None:
    team = own_server.new_team()
    settings = set_options(_sign_in(tmp_path, team), interval=0.2)
    run = ChaosRun(settings, experiment(tmp_path, [action("a", 1.0), action("b", 2.0)]), tmp_path)
    _execution_id(team)
    _wait_log(tmp_path, "Action: a")
    own_server.kill()
    assert run.wait(60) == 0, run.output
    assert run.journal["status"] == "completed"
    assert "interruption" not in run.journal
    assert run.output.count("cannot get the server's policies") == 1, run.output


@pytest.mark.usefixtures("chaos_home")
def test_server_down_fail_closed_stops_the_run(tmp_path: Path, own_server: Any) -> None:
    team = own_server.new_team()
    settings = set_options(_sign_in(tmp_path, team), on_error="fail-closed", fail_closed_after=1)
    run = ChaosRun(settings, experiment(tmp_path, [action("long-sleep", 30)]), tmp_path)
    _execution_id(team)
    _wait_log(tmp_path, "Action: long-sleep")
    down = time.monotonic()
    own_server.kill()
    _wait_log(tmp_path, "Experiment ended with status: interrupted")
    assert time.monotonic() - down < 4.5  # fail_closed_after 1 s + interval + grace
    assert run.wait(60) == 1, run.output
    journal = run.journal
    assert journal["status"] == "interrupted"
    assert journal["interruption"]["name"] == "server"
    assert "fail-closed" in journal["interruption"]["reason"]
