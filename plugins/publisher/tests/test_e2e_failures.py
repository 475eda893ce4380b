"""Failure tests against the real chaosiq-server and the real ``chaos run``.

In every case: the run keeps its exit code, is not delayed beyond the flush
deadline, says so in one WARNING line, and ``chaos publish`` later delivers
every event exactly once.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from chaosiq_publisher.outbox import read_log
from fakes import FailingProxy
from pubhelpers import (
    events,
    expected_types,
    experiment,
    new_token,
    outbox_files,
    revoke,
    set_options,
    sign_in,
    warnings,
    write_experiment,
)

from chaosiq_core.testing import ServerProcess, Team, executable, run_chaos, start_server, wait_until

DEADLINE = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = start_server(tmp_path_factory.mktemp("failures-server"))
    yield srv
    srv.stop()


@pytest.fixture
def running(server: ServerProcess) -> ServerProcess:
    """The module's server, started again if a previous test left it down."""
    if server.proc is None or server.proc.poll() is not None:
        server.start()
    return server


@pytest.fixture
def team(running: ServerProcess) -> Team:
    return running.new_team()


def signed(url: str, team: Team, env: dict[str, str], tmp_path: Path) -> Path:
    settings = tmp_path / "settings.yaml"
    sign_in(settings, url, team, env)
    set_options(settings, "publish", flush_deadline=DEADLINE)
    return settings


class TimedRun:
    """``chaos run`` in a subprocess, with its exit time."""

    def __init__(self, settings: Path, exp: Path, env: dict[str, str]) -> None:
        self.exp = exp
        self.proc = subprocess.Popen(
            [executable("chaos"), "--no-version-check", "--settings", str(settings), "run",
             "--journal-path", str(exp.parent / "journal.json"), str(exp)],
            cwd=exp.parent, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True,
        )  # fmt: skip
        self.output = ""
        self.exited_at = 0.0

    def wait(self, timeout: float = 60) -> int:
        out, err = self.proc.communicate(timeout=timeout)
        self.exited_at = time.time()
        self.output = out + err
        return self.proc.returncode

    @property
    def journal(self) -> dict:
        return json.loads((self.exp.parent / "journal.json").read_text())


def check_degraded_run(run: TimedRun, sleep: float = 0.0) -> None:
    """Exit code as without the extension, no delay beyond the deadline, one WARNING."""
    assert run.proc.returncode == 0, run.output
    journal = run.journal
    assert journal["status"] == "completed"
    assert journal["duration"] < sleep + 1.5, journal["duration"]  # nothing waited on the network
    # measured inside chaos: the flush at the end of the run kept to its deadline
    log = (run.exp.parent / "chaostoolkit.log").read_text()
    flushed = [float(x) for x in re.findall(r"publisher flushed in ([0-9.]+) s", log)]
    assert len(flushed) == 1 and flushed[0] <= DEADLINE + 0.25, flushed
    # and seen from outside (loose: process exit on a busy 2-core machine varies)
    end = dt.datetime.fromisoformat(journal["end"]).timestamp()
    tail = run.exited_at - end
    assert tail < DEADLINE + 3.0, f"{tail:.2f} s between the end of the experiment and the exit"
    warns = warnings(run.output)
    assert len(warns) == 1, run.output
    assert "not published yet" in warns[0] and "chaos publish" in warns[0]


def publish_and_check(
    settings: Path, team: Team, env: dict[str, str], data_dir: Path, types: list[str]
) -> dict:
    """``chaos publish`` delivers everything once; a second one has nothing to do."""
    r = run_chaos("publish", settings=settings, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert outbox_files(data_dir) == []
    (xn,) = team.executions()
    evs = events(team, xn)
    assert sorted(e["type"] for e in evs) == sorted(types)
    assert len({e["id"] for e in evs}) == len(evs)
    r = run_chaos("publish", settings=settings, env=env)
    assert r.returncode == 0 and "outbox is empty" in r.stdout
    assert len(events(team, xn)) == len(evs)
    return xn


def test_server_down_from_the_start(
    running: ServerProcess, team: Team, env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    settings = signed(running.url, team, env, tmp_path)
    running.stop()
    exp = write_experiment(tmp_path / "down", experiment(2))
    run = TimedRun(settings, exp, env)
    run.wait()
    check_degraded_run(run)
    assert "cannot reach" in warnings(run.output)[0]
    assert len(outbox_files(data_dir)) == 1
    journal = run.journal
    ext = next(e for e in journal["extensions"] if e["name"] == "chaosiq")
    assert ext["execution_id"] is None

    running.start()
    xn = publish_and_check(settings, team, env, data_dir, expected_types(2))
    assert xn["status"] == "completed"


def test_server_killed_mid_run_and_restarted(
    running: ServerProcess, team: Team, env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    settings = signed(running.url, team, env, tmp_path)
    exp = write_experiment(tmp_path / "killed", experiment(2, sleep=2))
    run = TimedRun(settings, exp, env)
    wait_until(lambda: team.executions(), timeout=30, what="the execution on the server")
    running.kill()
    run.wait()
    check_degraded_run(run, sleep=2)
    running.start()
    xn = publish_and_check(settings, team, env, data_dir, expected_types(2, sleep=True))
    assert xn["status"] == "completed"


def test_server_that_never_answers(
    running: ServerProcess, team: Team, env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    settings = signed(running.url, team, env, tmp_path)
    running.stop()
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    silent.bind(("127.0.0.1", running.port))
    silent.listen(64)  # accepts connections (backlog), never answers
    try:
        exp = write_experiment(tmp_path / "silent", experiment(2))
        run = TimedRun(settings, exp, env)
        run.wait()
        check_degraded_run(run)
    finally:
        silent.close()
    running.start()
    publish_and_check(settings, team, env, data_dir, expected_types(2))


def test_server_answering_500_to_events(
    running: ServerProcess, team: Team, env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    proxy = FailingProxy(running.url)
    try:
        settings = signed(proxy.url, team, env, tmp_path)
        exp = write_experiment(tmp_path / "five-hundred", experiment(2))
        run = TimedRun(settings, exp, env)
        run.wait()
        check_degraded_run(run)
        assert "HTTP 500" in warnings(run.output)[0]
        assert proxy.failed >= 1
        proxy.fail_events = False
        xn = publish_and_check(settings, team, env, data_dir, expected_types(2))
        assert xn["status"] == "completed"
    finally:
        proxy.close()


def test_token_revoked_mid_run(
    running: ServerProcess, team: Team, env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    settings = signed(running.url, team, env, tmp_path)
    exp = write_experiment(tmp_path / "revoked", experiment(2, sleep=4))
    run = TimedRun(settings, exp, env)
    wait_until(lambda: team.executions(), timeout=30, what="the execution on the server")
    revoke(team)
    # the server caches token lookups for a second: wait until the revocation bites
    wait_until(lambda: team.api("GET", "/executions").status_code == 401, what="the token refused")
    run.wait()
    check_degraded_run(run, sleep=4)
    assert "refused the token" in warnings(run.output)[0]
    fresh = new_token(team)
    team.token = fresh
    xn = publish_and_check(
        settings, team, {**env, "CHAOSIQ_TOKEN": fresh}, data_dir, expected_types(2, sleep=True)
    )
    assert xn["status"] == "completed"


def test_kill_9_of_chaos_run_leaves_its_events_in_the_outbox(
    running: ServerProcess, team: Team, env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    settings = signed(running.url, team, env, tmp_path)
    running.stop()  # nothing can be delivered: everything emitted must be on disk
    exp = write_experiment(tmp_path / "kill9", experiment(2, sleep=30))
    run = TimedRun(settings, exp, env)

    def sleeping_in_outbox() -> bool:
        files = outbox_files(data_dir)
        if not files:
            return False
        for message in read_log(files[0]).pending.values():
            body = message.get("json") or {}
            if (
                body.get("type") == "starting-activity"
                and json.loads(body["data"])["context"]["name"] == "sleep"
            ):
                return True
        return False

    wait_until(sleeping_in_outbox, timeout=30, what="the sleep action's start in the outbox")
    os.killpg(run.proc.pid, signal.SIGKILL)
    run.proc.wait(timeout=10)
    running.start()
    r = run_chaos("publish", settings=settings, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 still pending" in r.stdout, r.stdout
    (xn,) = team.executions()
    types = [e["type"] for e in events(team, xn)]
    # everything up to the start of the sleep (1 no-op action before it)
    assert types == expected_types(2, sleep=True)[: len(types)]
    assert types[-1] == "starting-activity" and len(types) == 9
    assert outbox_files(data_dir) == []
    # the execution does not stay "running" for good: the dead run is marked interrupted
    assert "marked interrupted" in r.stdout
    assert xn["status"] == "interrupted"
    assert run_chaos("publish", settings=settings, env=env).returncode == 0  # nothing more to do
    assert [x["status"] for x in team.executions()] == ["interrupted"]
