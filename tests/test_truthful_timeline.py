"""The hooks tell what happened when an experiment has controls of its own.

chaostoolkit-lib calls the after-control of every control even when the
experiment's own before-control interrupted the activity first, and it leaves
global controls out of the method and rollbacks of an experiment that
declares controls. The plugins (and so the server's timeline) must still see
each step start before it finishes, and every phase. Under the real
``chaos run`` (with a recorder plugin) and end to end against the real
chaosiq-server.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from recorder import CONTROL_SETTINGS, MAIN_THREAD_HOOKS, install, read_log, write_experiment

from chaosiq_core.testing import Team, run_chaos

CONTROLS = Path(__file__).parent / "experiment_controls"
OTHER_FEATURES = "publish,safeguards,verification"


def own_control(**arguments: Any) -> list[dict[str, Any]]:
    """The experiment's own ``controls`` (see experiment_controls/own_controls.py)."""
    provider: dict[str, Any] = {"type": "python", "module": "own_controls"}
    if arguments:
        provider["arguments"] = arguments
    return [{"name": "its-own", "provider": provider}]


def unmatched(entries: list[dict[str, Any]], start: str, end: str, key: str) -> list[str]:
    """Steps that finished without starting or started without finishing, per thread.

    ``start``/``end`` name the two sides (hook names or event types);
    ``key(entry)`` tells which step an entry is about.
    """
    problems: list[str] = []
    opened: dict[Any, list[str]] = defaultdict(list)
    for entry in entries:
        kind, what, thread = entry["kind"], entry[key], entry.get("thread")
        if kind == start:
            opened[thread].append(what)
        elif kind == end:
            if what in opened[thread]:
                opened[thread].reverse()
                opened[thread].remove(what)
                opened[thread].reverse()
            else:
                problems.append(f"{end} {what} without {start}")
    problems += [f"{start} {what} without {end}" for stack in opened.values() for what in stack]
    return problems


def hook_problems(log: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    for level in ("activity", "hypothesis", "method", "rollback", "experiment"):
        entries = [{**e, "kind": e["hook"], "what": e.get("name")} for e in log]
        problems += unmatched(entries, f"before_{level}", f"after_{level}", "what")
    return problems


@pytest.fixture
def world(tmp_path: Path, chaos_home: Path) -> dict[str, Any]:
    site = install(tmp_path / "site")
    settings = tmp_path / "settings.yaml"
    settings.write_text(CONTROL_SETTINGS)
    log = tmp_path / "hooks.jsonl"
    env = {
        "HOME": str(chaos_home),
        "PYTHONPATH": os.pathsep.join([str(site), str(CONTROLS)]),
        "RECORDER_LOG": str(log),
        "CHAOSIQ_DISABLE_PLUGINS": OTHER_FEATURES,
    }
    return {"dir": tmp_path, "settings": settings, "log": log, "env": env}


def _journal_of_run(world: dict[str, Any], *args: str, **changes: Any) -> dict[str, Any]:
    """The real `chaos run` of the recorder's experiment (with ``changes``): its journal."""
    journal = world["dir"] / "journal.json"
    result = run_chaos(
        "run",
        "--journal-path",
        str(journal),
        *args,
        str(write_experiment(world["dir"], **changes)),
        settings=world["settings"],
        env=world["env"],
        cwd=world["dir"],
        timeout=60,
    )
    assert "Traceback" not in result.stderr, result.stderr
    loaded: dict[str, Any] = json.loads(journal.read_text())
    return loaded


def _run(world: dict[str, Any], *args: str, **changes: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return _journal_of_run(world, *args, **changes), read_log(world["log"])


def test_phases_of_an_experiment_with_its_own_controls(world: dict[str, Any]) -> None:
    journal, log = _run(world, "--rollback-strategy", "always", controls=own_control())
    assert journal["status"] == "completed"
    main = [(e["hook"], e.get("name")) for e in log if e["main"]]
    assert main == MAIN_THREAD_HOOKS
    # The phases closed by the bridge carry the runs, as chaostoolkit-lib's controls would.
    assert next(e for e in log if e["hook"] == "after_method")["runs"] == ["bg-sleep", "fg-exists"]
    assert next(e for e in log if e["hook"] == "after_rollback")["runs"] == ["rb-exists"]
    # The background action ran inside the method.
    before, after = (
        next(i for i, e in enumerate(log) if e["hook"] == h) for h in ("before_method", "after_method")
    )
    assert all(before < i < after for i, e in enumerate(log) if not e["main"])
    assert hook_problems(log) == []


def test_an_activity_its_own_control_interrupts_never_starts_nor_finishes(world: dict[str, Any]) -> None:
    journal, log = _run(world, controls=own_control(interrupt="fg-exists"))
    assert journal["status"] == "interrupted"
    assert [r["activity"]["name"] for r in journal["run"]] == ["bg-sleep"]  # fg-exists never ran
    main = [(e["hook"], e.get("name")) for e in log if e["main"]][6:]
    assert main == [
        ("before_experiment", None),
        ("before_hypothesis", None),
        ("before_activity", "root-exists"),
        ("after_activity", "root-exists"),
        ("after_hypothesis", None),
        ("before_method", None),
        ("after_method", None),
        ("run_interrupted", None),
        ("after_experiment", None),
        ("run_finished", None),
    ]
    assert hook_problems(log) == []


def test_an_interruption_before_the_first_probe(world: dict[str, Any]) -> None:
    journal, log = _run(world, controls=own_control(interrupt="*"))
    assert journal["status"] == "interrupted"
    main = [(e["hook"], e.get("name")) for e in log if e["main"]][6:]
    assert main == [
        ("before_experiment", None),
        ("before_hypothesis", None),
        ("after_hypothesis", None),
        ("run_interrupted", None),
        ("after_experiment", None),
        ("run_finished", None),
    ]
    assert hook_problems(log) == []


# ------------------------------------------------ end to end, real server


def event_problems(events: list[dict[str, Any]]) -> list[str]:
    entries = [{**e, "kind": e["type"], "what": (e["data"].get("context") or {}).get("name")} for e in events]
    problems = unmatched(entries, "starting-activity", "activity-finished", "what")
    for start, end in (
        ("starting-hypothesis", "hypothesis-finished"),
        ("starting-method", "method-finished"),
        ("starting-rollback", "rollback-finished"),
    ):
        problems += unmatched([{**e, "what": None} for e in entries], start, end, "what")
    return problems


@pytest.fixture
def published(signed_in: Path, chaosiq_team: Team, tmp_path: Path) -> dict[str, Any]:
    data = tmp_path / "chaosiq-data"
    env = {
        "HOME": str(signed_in.parent.parent),
        "CHAOSIQ_DATA_DIR": str(data),
        "PYTHONPATH": str(CONTROLS),
        "CHAOSIQ_DISABLE_PLUGINS": "safeguards,verification",
    }
    return {"dir": tmp_path, "settings": signed_in, "env": env, "team": chaosiq_team}


def _published_run(world: dict[str, Any], *args: str, **changes: Any) -> tuple[str, list[str]]:
    """Run, then read the execution's stored events back through the API: (status, event types)."""
    journal = _journal_of_run(world, *args, **changes)
    ext = next(e for e in journal["extensions"] if e["name"] == "chaosiq")
    events = world["team"].events(ext["execution_id"])
    assert event_problems(events) == [], [e["type"] for e in events]
    return journal["status"], [e["type"] for e in events]


def test_the_server_timeline_has_every_phase_and_no_finish_without_start(published: dict[str, Any]) -> None:
    status, types = _published_run(published, "--rollback-strategy", "always", controls=own_control())
    assert status == "completed"
    assert types[0] == "starting-experiment" and types[-1] == "experiment-finished"
    for phase in ("starting-method", "method-finished", "starting-rollback", "rollback-finished"):
        assert types.count(phase) == 1, types
    assert types.index("starting-method") < types.index("method-finished") < types.index("starting-rollback")
    assert types.count("starting-activity") == types.count("activity-finished") == 5

    status, types = _published_run(published, controls=own_control(interrupt="fg-exists"))
    assert status == "interrupted"
    assert types.count("starting-method") == types.count("method-finished") == 1
    # root-exists (gate hypothesis) and bg-sleep started and finished; fg-exists never started
    assert types.count("starting-activity") == types.count("activity-finished") == 2
    assert "experiment-interrupted" in types or "experiment-finished" in types
