"""What the server refuses for good, against the real ``chaos`` and the real chaosiq-server.

A team the server does not know (a typo in ``CHAOSIQ_TEAM``) or a refused token
stops the sending at once, keeps the run in the outbox and says what to do in one
line; ``chaos publish --list`` shows why a run waits, ``--retarget`` sends it to the
team of the settings, ``--drop`` removes it; an execution deleted on the server (pruned)
is said once and not tried for ever; a message the server refuses (422) is kept and
said, never lost silently.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from chaosiq_server.db import Database
from chaosiq_server.store import Store
from fakes import FailingProxy
from pubhelpers import (
    events,
    expected_types,
    experiment,
    new_token,
    outbox_files,
    revoke,
    run,
    set_options,
    sign_in,
    warnings,
    write_experiment,
)

from chaosiq_core.testing import ServerProcess, Team, run_chaos, wait_until

FLUSH = 5.0


def _signed(server: ServerProcess, env: dict[str, str], tmp_path: Path) -> tuple[Team, Path]:
    team = server.new_team()
    settings = tmp_path / "settings.yaml"
    sign_in(settings, server.url, team, env)
    set_options(settings, "publish", flush_deadline=FLUSH)
    return team, settings


def _flushed(exp: Path) -> float:
    """How long the end of the run waited for the publisher (measured inside ``chaos``)."""
    log = (exp.parent / "chaostoolkit.log").read_text()
    (seconds,) = [float(x) for x in re.findall(r"publisher flushed in ([0-9.]+) s", log)]
    return seconds


def _one_error_line(result) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    return line


def test_a_team_the_server_does_not_know_is_listed_and_retargeted(
    chaosiq_server: ServerProcess, env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    team, settings = _signed(chaosiq_server, env, tmp_path)
    exp = write_experiment(tmp_path / "typo", experiment(2))
    r = run(settings, exp, {**env, "CHAOSIQ_TEAM": "sr"})
    assert r.returncode == 0, r.stderr
    (warn,) = warnings(r.stdout + r.stderr)
    assert "does not know team 'sr'" in warn and "chaos team" in warn and "--retarget" in warn
    assert _flushed(exp) < 1.0  # a refusal stops the sending at once: no wait for the deadline
    (entry,) = outbox_files(data_dir)

    # later: `chaos publish` says what the server said and what to do, every time, in one line
    for _ in range(2):
        line = _one_error_line(run_chaos("publish", settings=settings, env=env))
        assert "does not know team 'sr'" in line and "chaos publish --retarget" in line
    listed = run_chaos("publish", "--list", settings=settings, env=env)
    assert listed.returncode == 0, listed.stderr
    title = json.loads(exp.read_text())["title"]
    assert entry.stem in listed.stdout and title in listed.stdout and "created 20" in listed.stdout
    assert f"team 'sr' of organization '{team.org_name}'" in listed.stdout
    assert chaosiq_server.url in listed.stdout
    n = len(expected_types(2))
    assert f"{n + 1} message(s) pending ({n} event(s), the final journal)" in listed.stdout
    assert "last error: " in listed.stdout and "does not know team 'sr'" in listed.stdout

    # the team fixed in the settings (here: they never changed), the run goes there
    moved = run_chaos("publish", "--retarget", settings=settings, env=env)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert (
        "moved from team 'sr'" in moved.stdout
        and f"to team '{team.team_name}' ({team.team_id})" in moved.stdout
    )
    assert f"{n + 1} sent, 0 still pending" in moved.stdout
    (xn,) = team.executions()
    assert xn["status"] == "completed"
    assert [e["type"] for e in events(team, xn)] == expected_types(2)
    assert outbox_files(data_dir) == []


def test_an_execution_pruned_on_the_server_is_said_and_not_retried_for_ever(
    chaosiq_server: ServerProcess, env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    team = chaosiq_server.new_team()
    proxy = FailingProxy(chaosiq_server.url)  # the run's events are answered 500: they wait
    try:
        settings = tmp_path / "settings.yaml"
        sign_in(settings, proxy.url, team, env)
        set_options(settings, "publish", flush_deadline=1.0)
        exp = write_experiment(tmp_path / "pruned", experiment(2))
        assert run(settings, exp, env).returncode == 0
        (entry,) = outbox_files(data_dir)
        (xn,) = team.executions()
        database = Database(chaosiq_server.database_url, pool_size=1)
        try:  # what `chaosiq-server prune` does to an execution
            Store(database).retention.delete(xn["id"])
        finally:
            database.dispose()
        proxy.fail_events = False
        for _ in range(2):  # every time: one line, exit 1, nothing sent
            line = _one_error_line(run_chaos("publish", settings=settings, env=env))
            assert f"no longer has execution {xn['id']}" in line and "HTTP 404" in line
            assert f"chaos publish --drop {entry.stem}" in line
        listed = run_chaos("publish", "--list", settings=settings, env=env).stdout
        assert entry.stem in listed and "last error: " in listed and "no longer has execution" in listed
        gone = run_chaos("publish", "--drop", entry.stem, "--yes", settings=settings, env=env)
        assert gone.returncode == 0, gone.stdout + gone.stderr
        assert outbox_files(data_dir) == [] and team.executions() == []
    finally:
        proxy.close()


def test_drop_removes_a_run_after_confirmation(
    chaosiq_server: ServerProcess, env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    team, settings = _signed(chaosiq_server, env, tmp_path)
    exp = write_experiment(tmp_path / "drop", experiment(1))
    assert run(settings, exp, {**env, "CHAOSIQ_TEAM": "nope"}).returncode == 0
    (entry,) = outbox_files(data_dir)
    no = run_chaos("publish", "--drop", entry.stem[:8], settings=settings, env=env, input="n\n")
    assert no.returncode == 1 and "nothing dropped" in no.stderr and entry.exists()
    unknown = run_chaos("publish", "--drop", "0" * 40, settings=settings, env=env)
    assert unknown.returncode == 2 and "no run in the outbox" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    yes = run_chaos("publish", "--drop", entry.stem[:8], settings=settings, env=env, input="y\n")
    assert yes.returncode == 0 and f"Run {entry.stem} dropped" in yes.stdout
    assert outbox_files(data_dir) == []
    assert run_chaos("publish", settings=settings, env=env).stdout.startswith("Nothing to publish")
    assert team.executions() == []


def test_a_refused_token_stops_sending_at_once(
    chaosiq_server: ServerProcess, env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    team, settings = _signed(chaosiq_server, env, tmp_path)
    revoke(team)
    wait_until(lambda: team.api("GET", "/executions").status_code == 401, what="the token refused")
    exp = write_experiment(tmp_path / "revoked", experiment(2))
    r = run(settings, exp, env)
    assert r.returncode == 0, r.stderr
    (warn,) = warnings(r.stdout + r.stderr)
    assert "refused the token (HTTP 401)" in warn and "chaos signin" in warn and "kept in" in warn
    assert _flushed(exp) < 1.0  # not the 5 s flush deadline
    line = _one_error_line(run_chaos("publish", settings=settings, env=env))
    assert "refused the token (HTTP 401)" in line and "chaos signin" in line
    assert "refused the token" in run_chaos("publish", "--list", settings=settings, env=env).stdout
    fresh = new_token(team)
    team.token = fresh
    ok = run_chaos("publish", settings=settings, env={**env, "CHAOSIQ_TOKEN": fresh})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (xn,) = team.executions()
    assert [e["type"] for e in events(team, xn)] == expected_types(2)


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_messages_the_server_refuses_are_kept_and_said(
    chaosiq_server: ServerProcess, env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    """An activity output nested deeper than the server takes: its event, the method's and the
    experiment's last events and the final journal are refused (422); one line says so and they
    stay on disk."""
    team, settings = _signed(chaosiq_server, env, tmp_path)
    doc = experiment(0)
    doc["method"] = [{"type": "action", "name": "deep", "provider": {
        "type": "python", "module": "json", "func": "loads", "arguments": {"s": _deep(80)}}}]  # fmt: skip
    exp = write_experiment(tmp_path / "deep", doc)
    r = run(settings, exp, env)
    assert r.returncode == 0, r.stderr
    (warn,) = warnings(r.stdout + r.stderr)
    assert (
        "the server refused 4 message(s) of this run for good: the final journal (PUT" in warn
        and "422" in warn
    )
    assert "chaos publish --list" in warn
    (entry,) = outbox_files(data_dir)
    listed = run_chaos("publish", "--list", settings=settings, env=env).stdout
    assert "0 message(s) pending" in listed and "4 refused for good" in listed and "422" in listed
    again = run_chaos("publish", settings=settings, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "keeps 4 message(s) the server refused for good" in again.stdout
    assert f"chaos publish --drop {entry.stem}" in again.stdout
    (xn,) = team.executions()
    types = [e["type"] for e in events(team, xn)]
    assert "experiment-finished" not in types and "method-finished" not in types
    assert types.count("activity-finished") == 3
    assert run_chaos("publish", "--drop", entry.stem, "--yes", settings=settings, env=env).returncode == 0
    assert outbox_files(data_dir) == []
