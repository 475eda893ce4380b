"""Safeguards with the real `chaos run` and no server: local probes and third-party plugins."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from chaosiq_core.testing import run_chaos, wait_until

from .helpers import ChaosRun, action, chaosiq_ext, experiment, fake_plugin, file_probe, local_settings

pytestmark = pytest.mark.usefixtures("chaos_home")


def _stop_file_soon(tmp_path: Path, run: ChaosRun, marker: str) -> None:
    """Create the stop file once the run's output shows ``marker`` (the activity started)."""
    log = tmp_path / "chaostoolkit.log"
    wait_until(lambda: log.exists() and marker in log.read_text(), timeout=20, what=marker)
    (tmp_path / "STOP").touch()


def test_probe_stops_a_long_main_thread_action_and_plays_rollbacks(tmp_path: Path) -> None:
    exp = experiment(tmp_path, [action("long-sleep", 30)], probes=[file_probe(tmp_path / "STOP")])
    run = ChaosRun(local_settings(tmp_path), exp, tmp_path)
    _stop_file_soon(tmp_path, run, "Action: long-sleep")
    stop_set = time.monotonic()
    assert run.wait(30) == 1, run.output
    assert run.ended - stop_set < 4, run.output  # process exit, not 30 s (latency: benchmarks)
    journal = run.journal
    assert journal["status"] == "interrupted"
    assert journal["interruption"] == {
        "kind": "safeguard",
        "name": "probe:no-stop-file",
        "reason": "output True is out of tolerance",
    }
    assert [s["name"] for s in chaosiq_ext(journal)["safeguards"]] == ["probe:no-stop-file"]
    assert [r["activity"]["name"] for r in journal["rollbacks"]] == ["rb"]


def test_rollbacks_skip_after_a_stop(tmp_path: Path) -> None:
    exp = experiment(tmp_path, [action("long-sleep", 30)], probes=[file_probe(tmp_path / "STOP")])
    run = ChaosRun(
        local_settings(tmp_path, rollbacks="skip"), exp, tmp_path, None, "--rollback-strategy", "always"
    )
    _stop_file_soon(tmp_path, run, "Action: long-sleep")
    assert run.wait(30) == 1, run.output
    assert run.journal["status"] == "interrupted"
    assert run.journal["rollbacks"] == []


def test_denial_before_the_start_means_the_method_never_runs(tmp_path: Path) -> None:
    (tmp_path / "STOP").touch()
    exp = experiment(tmp_path, [action("never", 0)], probes=[file_probe(tmp_path / "STOP")])
    result = run_chaos("run", str(exp), settings=local_settings(tmp_path), cwd=tmp_path, timeout=60)
    assert result.returncode == 1, result.stderr
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["status"] == "interrupted"
    assert journal["run"] == []
    assert journal["interruption"]["kind"] == "safeguard"


def test_a_probe_that_raises_stops_the_run(tmp_path: Path) -> None:
    broken = {
        "type": "probe",
        "name": "broken",
        "tolerance": True,
        "provider": {"type": "python", "module": "json", "func": "loads", "arguments": {"s": "{not json"}},
    }
    exp = experiment(tmp_path, [action("short", 2)], probes=[broken])
    result = run_chaos("run", str(exp), settings=local_settings(tmp_path), cwd=tmp_path, timeout=60)
    assert result.returncode == 1
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["status"] == "interrupted"
    assert journal["interruption"]["name"] == "probe:broken"
    assert "the safeguard probe failed" in journal["interruption"]["reason"]
    assert journal["run"] == []  # the probe failed at the pre-start check


def test_stop_during_the_steady_state_hypothesis(tmp_path: Path) -> None:
    slow_probe = {
        "type": "probe",
        "name": "slow-probe",
        "tolerance": 0,
        "provider": {"type": "process", "path": "sleep", "arguments": "30"},
    }
    exp = experiment(
        tmp_path, [action("never", 0)], hypothesis=[slow_probe], probes=[file_probe(tmp_path / "STOP")]
    )
    run = ChaosRun(local_settings(tmp_path), exp, tmp_path)
    _stop_file_soon(tmp_path, run, "Probe: slow-probe")
    stop_set = time.monotonic()
    assert run.wait(30) == 1, run.output
    assert run.ended - stop_set < 4  # process exit, not 30 s (latency: benchmarks)
    journal = run.journal
    assert journal["status"] == "interrupted"
    assert journal["interruption"]["kind"] == "safeguard"
    assert journal["run"] == []


def test_stop_during_a_background_activity(tmp_path: Path) -> None:
    """A 30-s background action does not keep `chaos` alive after a safeguard stop."""
    exp = experiment(
        tmp_path, [action("bg-sleep", 30, background=True)], probes=[file_probe(tmp_path / "STOP")]
    )
    run = ChaosRun(local_settings(tmp_path), exp, tmp_path)
    _stop_file_soon(tmp_path, run, "Action: bg-sleep")
    stop_set = time.monotonic()
    assert run.wait(30) == 1, run.output
    assert run.ended - stop_set < 6, run.output  # was: the action's remaining ~29 s
    journal = run.journal
    assert journal["status"] == "interrupted"
    assert journal["interruption"]["kind"] == "safeguard"
    assert [r["activity"]["name"] for r in journal["rollbacks"]] == ["rb"]
    ended = next(line for line in run.output.splitlines() if "process(es) of background activities" in line)
    assert "sleep (" in ended  # the action's process, named


@pytest.mark.parametrize("walk", ["psutil", "proc"])
def test_leftovers_are_found_below_a_process_and_ended(
    tmp_path: Path, walk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ways of walking the tree: psutil (the extra, installed here) and Linux's /proc."""
    import subprocess

    from chaosiq_safeguards import leftovers
    from chaosiq_safeguards.leftovers import descendants, end_leftovers

    if walk == "psutil":
        assert leftovers.psutil is not None, "the psutil extra is not installed"
    else:
        monkeypatch.setattr(leftovers, "psutil", None)

    # a shell holding a sleep: the whole tree must go (the grandchild holds the output pipe)
    parent = subprocess.Popen(["sh", "-c", "sleep 30 & sleep 30; wait"], stdout=subprocess.PIPE)
    try:
        tree = wait_until(
            lambda: len(descendants(parent.pid)) == 2 and descendants(parent.pid), what="2 sleeps"
        )
        ended = end_leftovers(grace=1.0, pid=parent.pid)
        assert sorted(ended) == sorted(tree)
        assert parent.wait(timeout=5) is not None
        assert parent.stdout is not None and parent.stdout.read() == b""  # EOF: no writer left
        assert descendants(parent.pid) == []
    finally:
        parent.kill()
        parent.wait()


THIRD_PARTY = """
from pathlib import Path
from chaosiq_core import hookimpl
from chaosiq_core.types import Verdict

@hookimpl
def chaosiq_safeguard_verdicts(run):
    if Path("{flag}").exists():
        return Verdict.stop("change-freeze", "a change freeze started")
    return Verdict.allow("change-freeze")
"""


def test_a_third_party_plugin_voting_stop(tmp_path: Path) -> None:
    plugins = fake_plugin(tmp_path, "freeze_plugin", THIRD_PARTY.format(flag=tmp_path / "STOP"))
    exp = experiment(tmp_path, [action("long-sleep", 30)])
    run = ChaosRun(local_settings(tmp_path), exp, tmp_path, {"PYTHONPATH": str(plugins)})
    _stop_file_soon(tmp_path, run, "Action: long-sleep")
    assert run.wait(30) == 1, run.output
    journal = run.journal
    assert journal["status"] == "interrupted"
    assert journal["interruption"] == {
        "kind": "safeguard",
        "name": "change-freeze",
        "reason": "a change freeze started",
    }


LATE = """
import time
from chaosiq_core import hookimpl
from chaosiq_core.types import Verdict

STATE = {"late": False}

@hookimpl
def chaosiq_safeguard_verdicts(run):
    return Verdict.stop("late", "too late") if STATE["late"] else None

@hookimpl
def chaosiq_after_experiment(run):
    # the experiment is over: a stop now must neither interrupt nor signal
    STATE["late"] = True
    time.sleep(1.5)

@hookimpl
def chaosiq_run_finished(run):
    time.sleep(1.5)
"""


def test_a_stop_arriving_after_the_run_ended_does_not_kill_the_process(tmp_path: Path) -> None:
    plugins = fake_plugin(tmp_path, "late_plugin", LATE)
    exp = experiment(tmp_path, [action("short", 0.2)])
    result = run_chaos(
        "run", str(exp), settings=local_settings(tmp_path), cwd=tmp_path, env={"PYTHONPATH": str(plugins)}
    )
    assert result.returncode == 0, result.stderr
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["status"] == "completed"
    assert "interruption" not in journal
    assert chaosiq_ext(journal).get("safeguards") is None


def test_ctrl_c_during_the_run(tmp_path: Path) -> None:
    exp = experiment(tmp_path, [action("long-sleep", 30)], probes=[file_probe(tmp_path / "STOP")])
    run = ChaosRun(local_settings(tmp_path), exp, tmp_path)
    log = tmp_path / "chaostoolkit.log"
    wait_until(lambda: log.exists() and "Action: long-sleep" in log.read_text(), timeout=20)
    run.interrupt()
    code = run.wait(30)
    assert code != 0
    assert code not in (138, 140)
    journal = run.journal
    assert journal["status"] == "interrupted"
    assert journal.get("interruption", {}).get("kind") != "safeguard"
    assert chaosiq_ext(journal).get("safeguards") is None


def test_chaos_safeguards_lists_verdicts_without_running(tmp_path: Path) -> None:
    exp = experiment(tmp_path, [action("never", 30)], probes=[file_probe(tmp_path / "STOP")])
    settings = local_settings(tmp_path)
    ok = run_chaos("safeguards", str(exp), settings=settings, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "probe:no-stop-file" in ok.stdout and "allow" in ok.stdout
    (tmp_path / "STOP").touch()
    stop = run_chaos("safeguards", "--json", str(exp), settings=settings, cwd=tmp_path)
    assert stop.returncode == 1
    rows = json.loads(stop.stdout)
    assert {"source": "probe:no-stop-file", "kind": "probe", "decision": "stop"}.items() <= rows[1].items()
    assert not (tmp_path / "journal.json").exists()


def test_chaos_safeguards_when_the_feature_is_disabled(tmp_path: Path) -> None:
    settings = local_settings(tmp_path)
    assert run_chaos("disable", "safeguards", settings=settings).returncode == 0
    exp = experiment(tmp_path, [action("never", 30)])
    result = run_chaos("safeguards", str(exp), settings=settings, cwd=tmp_path)
    assert result.returncode == 1
    assert "chaos enable safeguards" in result.stderr
    assert "Traceback" not in result.stderr


def test_chaos_safeguards_bad_source(tmp_path: Path) -> None:
    result = run_chaos("safeguards", str(tmp_path / "nope.json"), settings=local_settings(tmp_path))
    assert result.returncode != 0
    assert "Error:" in result.stderr and "Traceback" not in result.stderr
