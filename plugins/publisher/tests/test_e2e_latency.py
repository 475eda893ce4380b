"""Against a server answering every request 20 ms late: everything arrives by the end of the run."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pubhelpers import (
    events,
    expected_types,
    experiment,
    outbox_files,
    run,
    run_ids,
    sign_in,
    warnings,
    write_experiment,
)

from chaosiq_core.testing import ServerProcess, start_server


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = start_server(tmp_path_factory.mktemp("slow-server"), "--response-delay-ms", "20")
    yield srv
    srv.stop()


def test_every_event_is_delivered_by_the_end_of_the_run(
    slow_server: ServerProcess, env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    team = slow_server.new_team()
    settings = tmp_path / "settings.yaml"
    sign_in(settings, slow_server.url, team, env)
    exp = write_experiment(tmp_path / "slow", experiment(40))
    result = run(settings, exp, env)
    assert result.returncode == 0, result.stderr
    assert not warnings(result.stdout + result.stderr)
    # right after `chaos run` exited: nothing left to send, all stored, in order, final status
    assert outbox_files(data_dir) == []
    _eid, xid = run_ids(exp)
    (xn,) = [x for x in team.executions() if x["id"] == xid]
    assert xn["status"] == "completed"
    assert [e["type"] for e in events(team, xn)] == expected_types(40)


@pytest.fixture(scope="module")
def far_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = start_server(tmp_path_factory.mktemp("far-server"), "--response-delay-ms", str(int(FAR * 1000)))
    yield srv
    srv.stop()


FAR = 1.5
"""Seconds a far server takes to answer any request."""


def test_the_end_of_a_run_does_not_wait_behind_a_batch_in_flight(
    far_server: ServerProcess, env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    """The run ends while the server is still answering a batch sent during it.

    The first batch leaves once the execution exists (≈ FAR s in), and the run
    ends about 0.5 s later: the last events and the journal go at once beside it,
    so the end of the run waits about one answer (FAR s), not the rest of the
    first one plus another (about 1.7 FAR s).
    """
    team = far_server.new_team()
    settings = tmp_path / "settings.yaml"
    sign_in(settings, far_server.url, team, env)
    exp = write_experiment(tmp_path / "far", experiment(2, sleep=FAR + 0.5))
    result = run(settings, exp, env)
    assert result.returncode == 0, result.stderr
    assert not warnings(result.stdout + result.stderr)
    log = (exp.parent / "chaostoolkit.log").read_text()
    (flushed,) = [float(x) for x in re.findall(r"publisher flushed in ([0-9.]+) s", log)]
    assert flushed < FAR * 1.4, f"the end of the run took {flushed:.2f} s against {FAR} s per answer"
    assert outbox_files(data_dir) == []
    _eid, xid = run_ids(exp)
    (xn,) = [x for x in team.executions() if x["id"] == xid]
    assert xn["status"] == "completed"
    assert [e["type"] for e in events(team, xn)] == expected_types(2, sleep=True)
