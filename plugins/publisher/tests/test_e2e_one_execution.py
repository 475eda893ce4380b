"""One run is one execution on the server, however and in whatever order it is published.

The real ``chaos run`` (with the server down, or up), then ``chaos publish`` (the
outbox) and ``chaos publish journal.json`` in every order, against the real
chaosiq-server: the run id in the journal and in the creation request finds the
run's execution.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pubhelpers import events, expected_types, experiment, outbox_files, run, sign_in, write_experiment

from chaosiq_core.testing import ServerProcess, Team, run_chaos, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = start_server(tmp_path_factory.mktemp("one-execution-server"))
    yield srv
    srv.stop()


@pytest.fixture
def team(server: ServerProcess) -> Team:
    if server.proc is None or server.proc.poll() is not None:
        server.start()
    return server.new_team()


def _offline_run(server: ServerProcess, team: Team, env: dict[str, str], tmp_path: Path) -> tuple[Path, Path]:
    """A run made while the server is down; the server is up again on return."""
    settings = tmp_path / "settings.yaml"
    sign_in(settings, server.url, team, env)
    exp = write_experiment(tmp_path / "offline", experiment(2))
    server.stop()
    try:
        assert run(settings, exp, env).returncode == 0
    finally:
        server.start()
    return settings, exp


def _journal(exp: Path) -> Path:
    return exp.parent / "journal.json"


def _publish(settings: Path, env: dict[str, str], *args: str) -> None:
    r = run_chaos("publish", *args, settings=settings, env=env)
    assert r.returncode == 0, r.stdout + r.stderr


def _one_complete_execution(team: Team, exp: Path) -> dict:
    (xn,) = team.executions()
    assert xn["status"] == "completed"
    assert sorted(e["type"] for e in events(team, xn)) == sorted(expected_types(2))
    stored = team.api("GET", f"/executions/{xn['id']}").json()["journal"]
    assert stored["status"] == "completed" and stored["run"]  # the final journal, not the initial one
    return xn


def test_the_journal_names_its_run(
    server: ServerProcess, team: Team, env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    _settings, exp = _offline_run(server, team, env, tmp_path)
    ext = next(e for e in json.loads(_journal(exp).read_text())["extensions"] if e["name"] == "chaosiq")
    (entry,) = outbox_files(data_dir)
    assert ext["run_id"] == entry.stem and ext["execution_id"] is None


def test_outbox_replay_then_journal_publish_twice(
    server: ServerProcess, team: Team, env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    settings, exp = _offline_run(server, team, env, tmp_path)
    _publish(settings, env)  # creates the execution from the outbox
    assert outbox_files(data_dir) == []
    _publish(settings, env, str(_journal(exp)))  # the file has no execution id: the run id finds it
    xn = _one_complete_execution(team, exp)
    _publish(settings, env, str(_journal(exp)))  # the ids are in the file now
    assert _one_complete_execution(team, exp)["id"] == xn["id"]


def test_journal_publish_then_outbox_replay(
    server: ServerProcess, team: Team, env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    settings, exp = _offline_run(server, team, env, tmp_path)
    _publish(settings, env, str(_journal(exp)))
    _publish(settings, env)
    assert outbox_files(data_dir) == []
    _one_complete_execution(team, exp)


def test_journal_publish_twice_without_the_ids_written_back(
    server: ServerProcess, team: Team, env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    """A copy of the journal taken before the first publish wrote the ids into it."""
    settings, exp = _offline_run(server, team, env, tmp_path)
    copy = tmp_path / "copy.json"
    copy.write_text(_journal(exp).read_text())
    _publish(settings, env, str(_journal(exp)))
    _publish(settings, env, str(copy))
    (xn,) = team.executions()
    assert xn["status"] == "completed"


def test_online_run_then_journal_publish(
    server: ServerProcess, team: Team, env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    settings = tmp_path / "settings.yaml"
    sign_in(settings, server.url, team, env)
    exp = write_experiment(tmp_path / "online", experiment(2))
    assert run(settings, exp, env).returncode == 0
    xn = _one_complete_execution(team, exp)
    _publish(settings, env, str(_journal(exp)))
    # and with the ids taken out of the file (a journal copied or edited): the run id finds it
    doc = json.loads(_journal(exp).read_text())
    ext = next(e for e in doc["extensions"] if e["name"] == "chaosiq")
    ext["experiment_id"] = ext["execution_id"] = None
    _journal(exp).write_text(json.dumps(doc))
    _publish(settings, env, str(_journal(exp)))
    assert _one_complete_execution(team, exp)["id"] == xn["id"]
