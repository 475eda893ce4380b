"""``chaos publish`` replays an outbox written by an earlier version of the publisher.

``fixtures/outbox-0088ee3.jsonl`` is the log a ``chaos run`` of 2 actions left
with the server down, written by the publisher as of commit 0088ee3 (before it
was rebuilt around typed messages); only its server URL and team ids are
placeholders. The file format on disk is a promise to users: a log left by one
version must be sent by the next.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pubhelpers import events, expected_types, outbox_files, sign_in

from chaosiq_core.testing import ServerProcess, run_chaos

FIXTURE = Path(__file__).parent / "fixtures" / "outbox-0088ee3.jsonl"


def test_an_outbox_left_by_the_previous_format_is_replayed(
    chaosiq_server: ServerProcess, env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    team = chaosiq_server.new_team()
    settings = tmp_path / "settings.yaml"
    sign_in(settings, chaosiq_server.url, team, env)
    text = FIXTURE.read_text()
    text = text.replace("__URL__", chaosiq_server.url).replace("__ORG__", team.org_id)
    text = text.replace("__TEAM__", team.team_id)
    keys = [r["key"] for r in map(json.loads, text.splitlines()) if r.get("kind") == "event"]
    (data_dir / "outbox").mkdir(parents=True)
    (data_dir / "outbox" / "5d219f469bcf423bba5718e7fca59091.jsonl").write_text(text)

    r = run_chaos("publish", settings=settings, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{len(keys) + 1} sent, 0 still pending" in r.stdout, r.stdout
    assert outbox_files(data_dir) == []
    (xn,) = team.executions()
    assert xn["status"] == "completed"
    evs = events(team, xn)
    assert [e["type"] for e in evs] == expected_types(2)
    assert [e["id"] for e in evs] == keys
    assert run_chaos("publish", settings=settings, env=env).stdout.startswith("Nothing to publish")


@pytest.mark.parametrize("args", [(), ("--list",), ("--drop", "5d219f469bcf423bba5718e7fca59091", "--yes")])
def test_a_log_whose_lock_cannot_be_made_is_one_line_and_kept(
    chaosiq_server: ServerProcess, env: dict[str, str], tmp_path: Path, data_dir: Path, args: tuple
) -> None:
    team = chaosiq_server.new_team()
    settings = tmp_path / "settings.yaml"
    sign_in(settings, chaosiq_server.url, team, env)
    log = data_dir / "outbox" / "5d219f469bcf423bba5718e7fca59091.jsonl"
    log.parent.mkdir(parents=True)
    log.write_text(FIXTURE.read_text().replace("__URL__", chaosiq_server.url))
    Path(f"{log}.lock").mkdir()  # where the lock file should be

    r = run_chaos("publish", *args, settings=settings, env=env)
    out = r.stdout + r.stderr
    assert r.returncode == 1 and "Traceback" not in out, out
    errors = [line for line in r.stderr.splitlines() if line.startswith("Error: ")]
    assert errors == [f"Error: cannot use {log}.lock: Is a directory"], out
    assert log.read_text().startswith('{"op":"run"')  # kept
