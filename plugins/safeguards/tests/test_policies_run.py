"""Team policies and pauses with the real ``chaos run``, publisher and chaosiq-server,
on SQLite and on PostgreSQL: a window refuses a run at its start and stops one when it
opens, a concurrency limit refuses the newer of two runs, a tag scopes a policy, a
pause holds a run until it is resumed (or stops it after its timeout)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from chaosiq_core.testing import ServerProcess, Team, chaosiq_server_each_database, gate_activity, wait_until

from .helpers import ChaosRun, action, chaosiq_ext, experiment, set_options

chaosiq_server = chaosiq_server_each_database  # the policies' reads differ by database


def _doc(tmp: Path, method: list[dict[str, Any]], tags: list[str] | None = None, **kw: Any) -> Path:
    path = experiment(tmp, method, **kw)
    if tags:
        doc = json.loads(path.read_text())
        path.write_text(json.dumps({**doc, "tags": tags}))
    return path


def _wait_log(cwd: Path, marker: str, timeout: float = 30) -> None:
    log = cwd / "chaostoolkit.log"
    wait_until(lambda: log.exists() and marker in log.read_text(), timeout=timeout, what=marker)


def _xid(team: Team, count: int = 1) -> str:
    items = wait_until(
        lambda: len(team.executions()) >= count and team.executions(), timeout=30, what="execution"
    )
    return str(min(items, key=lambda x: x["created_at"])["id"] if count == 1 else items[0]["id"])


def _window(start: datetime, end: datetime, name: str = "Friday freeze") -> dict[str, Any]:
    return {
        "name": name,
        "kind": "window",
        "start_day": start.weekday(),
        "start_time": start.strftime("%H:%M:%S"),
        "end_day": end.weekday(),
        "end_time": end.strftime("%H:%M:%S"),
        "time_zone": "UTC",
    }


def _policy(team: Team, body: dict[str, Any]) -> dict[str, Any]:
    resp = team.api("POST", "/policies", json=body)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def _refused_at_start(run: ChaosRun, words: str) -> dict[str, Any]:
    """The run was stopped by the server before its first activity (docs/safeguards.md)."""
    assert run.wait(60) == 1, run.output
    journal = run.journal
    assert journal["run"] == [], run.output
    assert journal["status"] == "interrupted"
    assert journal["interruption"]["kind"] == "safeguard" and journal["interruption"]["name"] == "server"
    assert words in journal["interruption"]["reason"], journal["interruption"]
    return journal


def test_a_window_refuses_a_run_at_its_start(signed_in: Path, chaosiq_team: Team, tmp_path: Path) -> None:
    now = datetime.now(timezone.utc)
    _policy(chaosiq_team, {**_window(now - timedelta(hours=1), now + timedelta(hours=1)), "reason": "freeze"})
    run = ChaosRun(signed_in, _doc(tmp_path, [action("never", 0)]), tmp_path)
    journal = _refused_at_start(run, "window 'Friday freeze' (")
    assert "is open: freeze" in journal["interruption"]["reason"]
    assert [p["name"] for p in chaosiq_ext(journal)["safeguards"]] == ["Friday freeze"]


def test_a_window_opening_during_the_run_stops_it(
    signed_in: Path, chaosiq_team: Team, tmp_path: Path
) -> None:
    flag = tmp_path / "never"
    run = ChaosRun(signed_in, _doc(tmp_path, [action("first", 0), gate_activity("waits", flag)]), tmp_path)
    _wait_log(tmp_path, "Action: waits")
    # A window is set to the second: the one opening here starts at `opens`, not a fraction later.
    opens = (datetime.now(timezone.utc) + timedelta(seconds=3)).replace(microsecond=0)
    _policy(chaosiq_team, _window(opens, opens + timedelta(hours=1)))
    assert run.wait(60) == 1, run.output
    journal = run.journal
    assert [r["activity"]["name"] for r in journal["run"]][:1] == ["first"]
    assert journal["status"] == "interrupted"
    assert "window 'Friday freeze'" in journal["interruption"]["reason"]
    stopped = datetime.fromisoformat(journal["end"]).astimezone(timezone.utc)
    assert stopped >= opens  # not before the window opened


def test_a_concurrency_limit_refuses_the_newer_of_two_runs(
    signed_in: Path, chaosiq_team: Team, tmp_path: Path
) -> None:
    _policy(chaosiq_team, {"name": "one at a time", "kind": "concurrency", "max_runs": 1})
    older_dir, newer_dir = tmp_path / "older", tmp_path / "newer"
    older_dir.mkdir()
    newer_dir.mkdir()
    flag = tmp_path / "go"
    older = ChaosRun(signed_in, _doc(older_dir, [gate_activity("holds", flag)]), older_dir)
    _wait_log(older_dir, "Action: holds")
    newer = ChaosRun(signed_in, _doc(newer_dir, [action("never", 0)]), newer_dir)
    _refused_at_start(newer, "limit 'one at a time': at most 1 run at a time")
    flag.touch()
    assert older.wait(60) == 0, older.output  # the older run was never stopped by the newer one
    assert older.journal["status"] == "completed"


def _silent_since(server: ServerProcess, xid: str, seconds: float) -> None:
    """Make ``xid``'s last sign of life ``seconds`` old, in the server's database (the
    minutes a dead run stays silent are moved back, not waited for)."""
    from chaosiq_server.db import utc_iso
    from sqlalchemy import create_engine, text

    then = utc_iso(datetime.now(timezone.utc) - timedelta(seconds=seconds))
    engine = create_engine(server.database_url)
    with engine.begin() as conn:
        sql = "UPDATE executions SET created_at = :t, last_seen_at = :t WHERE id = :x"
        assert conn.execute(text(sql), {"t": then, "x": xid}).rowcount == 1
    engine.dispose()


def test_a_killed_run_stops_holding_its_place_once_silent(
    chaosiq_server: ServerProcess, signed_in: Path, chaosiq_team: Team, tmp_path: Path
) -> None:
    from chaosiq_server.store.liveness import STALE

    _policy(chaosiq_team, {"name": "one at a time", "kind": "concurrency", "max_runs": 1})
    dead_dir, refused_dir, later_dir = tmp_path / "dead", tmp_path / "refused", tmp_path / "later"
    for folder in (dead_dir, refused_dir, later_dir):
        folder.mkdir()
    flag = tmp_path / "go"
    dead = ChaosRun(signed_in, _doc(dead_dir, [gate_activity("holds", flag)]), dead_dir)
    try:
        _wait_log(dead_dir, "Action: holds")
        xid = _xid(chaosiq_team)
        dead.proc.kill()  # SIGKILL: no journal, no last event, the execution stays "running"
        dead.wait(30)
        # just killed, it was seen moments ago: it still holds the place
        _refused_at_start(
            ChaosRun(signed_in, _doc(refused_dir, [action("a", 0)]), refused_dir), "one at a time"
        )
        _silent_since(chaosiq_server, xid, STALE + 5)
        later = ChaosRun(signed_in, _doc(later_dir, [action("a", 0)]), later_dir)
        assert later.wait(60) == 0, later.output
        assert later.journal["status"] == "completed"
        assert (
            chaosiq_team.api("GET", f"/executions/{xid}").json()["outcome"] == "running"
        )  # still shown as is
    finally:
        flag.touch()


def test_a_policy_scoped_to_a_tag(signed_in: Path, chaosiq_team: Team, tmp_path: Path) -> None:
    _policy(chaosiq_team, {"name": "prod freeze", "kind": "deny", "tag": "prod"})
    dev_dir, prod_dir = tmp_path / "dev", tmp_path / "prod"
    dev_dir.mkdir()
    prod_dir.mkdir()
    dev = ChaosRun(signed_in, _doc(dev_dir, [action("a", 0)], tags=["dev"]), dev_dir)
    assert dev.wait(60) == 0, dev.output
    prod = ChaosRun(signed_in, _doc(prod_dir, [action("a", 0)], tags=["prod", "eu"]), prod_dir)
    _refused_at_start(prod, "policy 'prod freeze' denies every run now")


def _types(team: Team, xid: str) -> list[tuple[str, str]]:
    """(type, activity name) of the execution's events on the server, in order."""
    out = []
    for event in team.events(xid):
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        context = data.get("context") if isinstance(data.get("context"), dict) else {}
        out.append((str(event.get("type")), str(context.get("name") or "")))
    return out


def test_pause_holds_the_run_until_resumed(signed_in: Path, chaosiq_team: Team, tmp_path: Path) -> None:
    set_options(signed_in, interval=0.3)
    flag = tmp_path / "go"
    run = ChaosRun(signed_in, _doc(tmp_path, [gate_activity("first", flag), action("second", 0)]), tmp_path)
    _wait_log(tmp_path, "Action: first")
    xid = _xid(chaosiq_team)
    resp = chaosiq_team.api("POST", f"/executions/{xid}/pause", json={"reason": "look first", "timeout": 60})
    assert resp.status_code == 201, resp.text
    _wait_log(tmp_path, "'server' pauses the run: paused-by-user: look first")
    flag.touch()  # the first activity ends; the run must hold before the second
    wait_until(lambda: ("run-paused", "") in _types(chaosiq_team, xid), timeout=30, what="run-paused")
    held_since = datetime.now(timezone.utc)
    _wait_log(tmp_path, "the run is paused by 'server'")
    # while it is paused, nothing more happens (checked for two safeguard intervals and more)
    wait_until(lambda: datetime.now(timezone.utc) - held_since > timedelta(seconds=2), timeout=5)
    assert ("starting-activity", "second") not in _types(chaosiq_team, xid)
    assert run.proc.poll() is None
    resp = chaosiq_team.api("POST", f"/executions/{xid}/resume")
    assert resp.status_code == 200, resp.text
    assert run.wait(60) == 0, run.output
    journal = run.journal
    assert journal["status"] == "completed"
    assert [r["activity"]["name"] for r in journal["run"]] == ["first", "second"]
    [pause] = chaosiq_ext(journal)["pauses"]
    assert pause["by"] == "server" and pause["ended"] == "resumed" and "look first" in pause["reason"]
    assert pause["timeout"] == 60
    types = wait_until(
        lambda: (t := _types(chaosiq_team, xid)) and ("experiment-finished", "") in t and t, timeout=30
    )
    order = [
        t for t in types if t[0] in ("run-paused", "run-resumed") or t == ("starting-activity", "second")
    ]
    assert order == [("run-paused", ""), ("run-resumed", ""), ("starting-activity", "second")]


def test_a_pause_that_times_out_stops_the_run_as_a_safeguard(
    signed_in: Path, chaosiq_team: Team, tmp_path: Path
) -> None:
    set_options(signed_in, interval=0.3)
    flag = tmp_path / "go"
    marker = tmp_path / "rolled-back"
    rollback = {
        "type": "action",
        "name": "rb",
        "provider": {"type": "process", "path": "touch", "arguments": str(marker)},
    }
    exp = _doc(tmp_path, [gate_activity("first", flag), action("second", 0)], rollbacks=[rollback])
    run = ChaosRun(signed_in, exp, tmp_path)
    _wait_log(tmp_path, "Action: first")
    xid = _xid(chaosiq_team)
    assert chaosiq_team.api("POST", f"/executions/{xid}/pause", json={"timeout": 2}).status_code == 201
    _wait_log(tmp_path, "'server' pauses the run")
    flag.touch()
    assert run.wait(60) == 1, run.output
    journal = run.journal
    assert [r["activity"]["name"] for r in journal["run"]] == ["first"]
    assert journal["status"] == "interrupted"
    assert journal["interruption"]["kind"] == "safeguard" and journal["interruption"]["name"] == "server"
    assert "paused for 2 s without being resumed" in journal["interruption"]["reason"]
    [pause] = chaosiq_ext(journal)["pauses"]
    assert pause["ended"] == "timeout"
    assert marker.exists()  # safeguards.rollbacks: play
