"""A third-party plugin pauses a real ``chaos run`` through a ``pause`` verdict: the core
holds the run before its next activity until the vote is withdrawn, stops it after the
pause's timeout, and a Ctrl-C during the hold ends the run as Ctrl-C does."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaosiq_core.testing import wait_until

from .helpers import ChaosRun, action, chaosiq_ext, experiment, fake_plugin, local_settings

pytestmark = pytest.mark.usefixtures("chaos_home")

MAINTENANCE = """
from pathlib import Path
from chaosiq_core import hookimpl
from chaosiq_core.types import Verdict

@hookimpl
def chaosiq_safeguard_verdicts(run):
    if Path("{flag}").exists():
        return Verdict.pause("maintenance", "the database is being patched", timeout={timeout})
    return None
"""


def _run(tmp_path: Path, timeout: float = 60, *args: str) -> ChaosRun:
    (tmp_path / "PAUSE").touch()  # the plugin pauses from the start: the run holds before "a"
    plugins = fake_plugin(
        tmp_path, "maintenance_plugin", MAINTENANCE.format(flag=tmp_path / "PAUSE", timeout=timeout)
    )
    marker = tmp_path / "rolled-back"
    rollback = {
        "type": "action",
        "name": "rb",
        "provider": {"type": "process", "path": "touch", "arguments": str(marker)},
    }
    exp = experiment(tmp_path, [action("a", 0), action("b", 0)], rollbacks=[rollback])
    settings = local_settings(tmp_path, interval=0.2)
    return ChaosRun(settings, exp, tmp_path, {"PYTHONPATH": str(plugins)}, *args)


def _held(tmp_path: Path) -> None:
    log = tmp_path / "chaostoolkit.log"
    wait_until(
        lambda: log.exists() and "the run is paused by 'maintenance'" in log.read_text(),
        timeout=30,
        what="the hold",
    )


def test_a_plugin_pauses_and_resumes_the_run(tmp_path: Path) -> None:
    run = _run(tmp_path)
    _held(tmp_path)
    assert "Action: a" not in (tmp_path / "chaostoolkit.log").read_text()
    (tmp_path / "PAUSE").unlink()
    assert run.wait(60) == 0, run.output
    journal = run.journal
    assert journal["status"] == "completed"
    assert [r["activity"]["name"] for r in journal["run"]] == ["a", "b"]
    [pause] = chaosiq_ext(journal)["pauses"]
    assert pause["by"] == "maintenance" and pause["reason"] == "the database is being patched"
    assert pause["ended"] == "resumed" and pause["timeout"] == 60 and pause["start"] <= pause["end"]
    assert (tmp_path / "rolled-back").exists()


def test_a_plugin_pause_that_times_out_stops_the_run(tmp_path: Path) -> None:
    run = _run(tmp_path, timeout=1)
    assert run.wait(60) == 1, run.output
    journal = run.journal
    assert journal["run"] == []
    assert journal["status"] == "interrupted"
    assert journal["interruption"]["kind"] == "safeguard"
    assert journal["interruption"]["name"] == "maintenance"
    assert journal["interruption"]["reason"].startswith("paused for 1 s without being resumed")
    assert chaosiq_ext(journal)["pauses"][0]["ended"] == "timeout"
    assert (tmp_path / "rolled-back").exists()  # safeguards.rollbacks: play


@pytest.mark.parametrize("strategy,rolled_back", [("default", False), ("always", True)])
def test_ctrl_c_during_a_pause_ends_the_run_as_ctrl_c_does(
    tmp_path: Path, strategy: str, rolled_back: bool
) -> None:
    run = _run(tmp_path, 60, "--rollback-strategy", strategy)
    _held(tmp_path)
    run.interrupt()
    code = run.wait(30)
    assert code != 0 and code not in (138, 140), run.output
    journal = run.journal
    assert journal["status"] == "interrupted"
    assert journal["run"] == []
    assert journal.get("interruption", {}).get("kind") != "safeguard"
    assert chaosiq_ext(journal)["pauses"][0]["ended"] == "interrupted"
    assert (tmp_path / "rolled-back").exists() is rolled_back
