"""Against a server answering every request 20 ms late: everything arrives by the end of the run."""

from __future__ import annotations

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
