"""The control bridge under a real `chaos run`: hook order, threads, failing plugins, double configure."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from recorder import CONTROL_SETTINGS, MAIN_THREAD_HOOKS, install, read_log, write_experiment

from chaosiq_core.testing import run_chaos

OTHER_FEATURES = "publish,safeguards,verification"


@pytest.fixture
def world(tmp_path: Path, chaos_home: Path) -> dict:
    site = install(tmp_path / "site")
    settings = tmp_path / "settings.yaml"
    settings.write_text(CONTROL_SETTINGS)
    log = tmp_path / "hooks.jsonl"
    env = {
        "HOME": str(chaos_home),
        "PYTHONPATH": str(site),
        "RECORDER_LOG": str(log),
        "CHAOSIQ_DISABLE_PLUGINS": OTHER_FEATURES,
    }
    return {"dir": tmp_path, "settings": settings, "log": log, "env": env}


def _run(world: dict, *args: str, experiment: Path, **env: str):
    journal = world["dir"] / "journal.json"
    result = run_chaos(
        "run",
        "--journal-path",
        str(journal),
        *args,
        str(experiment),
        settings=world["settings"],
        env={**world["env"], **env},
        cwd=world["dir"],
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result, json.loads(journal.read_text()), read_log(world["log"])


def test_hooks_follow_the_run_in_order(world: dict) -> None:
    _, journal, log = _run(world, "--rollback-strategy", "always", experiment=write_experiment(world["dir"]))
    assert journal["status"] == "completed"
    main = [(e["hook"], e.get("name")) for e in log if e["main"]]
    assert main == MAIN_THREAD_HOOKS
    # The background action's hooks fire on its pool thread, where chaostoolkit-lib
    # passes no settings: both arrive, in order, and it succeeded.
    background = [(e["hook"], e.get("status")) for e in log if not e["main"]]
    assert background == [("before_activity", None), ("after_activity", "succeeded")]
    assert all(e.get("name") == "bg-sleep" for e in log if not e["main"])
    before = next(i for i, e in enumerate(log) if e["hook"] == "before_method")
    after = next(i for i, e in enumerate(log) if e["hook"] == "after_method")
    assert all(before < i < after for i, e in enumerate(log) if not e["main"])
    # What the plugin put in run.journal_extension is in the journal file.
    assert {"name": "chaosiq", "recorded_by": "recorder"} in journal["extensions"]
    assert next(e for e in log if e["hook"] == "run_finished")["status"] == "completed"


def test_continuous_hypothesis_iterations_fire(world: dict) -> None:
    _, journal, log = _run(
        world,
        "--hypothesis-strategy",
        "continuously",
        "--hypothesis-frequency",
        "0.1",
        experiment=write_experiment(world["dir"]),
    )
    assert journal["status"] == "completed"
    hooks = [e["hook"] for e in log]
    iterations = [e["iteration"] for e in log if e["hook"] == "continuous_iteration"]
    assert iterations and iterations == list(range(1, len(iterations) + 1))
    assert all(not e["main"] for e in log if e["hook"].startswith("continuous_"))
    assert hooks.count("continuous_started") == 1 and hooks.count("continuous_completed") == 1
    assert hooks.index("continuous_started") < hooks.index("continuous_iteration")
    assert hooks.index("continuous_completed") < hooks.index("after_experiment")
    # Sampled probes are reported too, from the hypothesis thread.
    assert any(e["hook"] == "before_activity" and e["name"] == "root-exists" and not e["main"] for e in log)


def test_a_plugin_raising_in_hooks_does_not_break_the_run(world: dict) -> None:
    result, journal, log = _run(
        world,
        "--rollback-strategy",
        "always",
        experiment=write_experiment(world["dir"]),
        RECORDER_FAIL_IN="before_activity,after_experiment,run_configured",
    )
    assert journal["status"] == "completed"
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line and "recorder" in line]
    # One WARNING per failing hook, however many times it fails (before_activity: 5 times).
    assert len(warnings) == 3, result.stderr
    assert any(
        "chaosiq_before_activity: RuntimeError: recorder fails in before_activity" in w for w in warnings
    )
    assert Counter(e["hook"] for e in log)["before_activity"] == 5  # every call still made
    assert [e["hook"] for e in log][-1] == "run_finished"


def test_configured_twice_is_harmless(world: dict) -> None:
    """The same control declared globally and in the experiment: every hook still fires once."""
    control = {"name": "chaosiq-cloud", "provider": {"type": "python", "module": "chaosiq_core.control"}}
    experiment = write_experiment(world["dir"], controls=[control])
    _, journal, log = _run(world, "--rollback-strategy", "always", experiment=experiment)
    assert journal["status"] == "completed"
    counts = Counter((e["hook"], e.get("name")) for e in log)
    assert counts[("run_configured", None)] == 1
    assert counts[("before_experiment", None)] == 1
    assert counts[("before_activity", "fg-exists")] == 1
    assert counts[("after_experiment", None)] == 1
    assert counts[("run_finished", None)] == 1


def test_no_control_in_settings_means_no_hooks(world: dict) -> None:
    world["settings"].write_text("runtime: {}\n")
    _, journal, log = _run(world, experiment=write_experiment(world["dir"]))
    assert journal["status"] == "completed"
    assert log == []  # the plugin was not even imported
