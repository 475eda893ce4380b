"""Real ``chaos run`` / ``chaos verify`` runs published to a real chaosiq-server, one per
outcome, made once for the console tests that read them (pages, lists, API, browser).

Each case is an experiment whose journal chaostoolkit-lib writes with the status
named in ``status`` (on 1.44 and the newer lines alike), and the outcome the
console must show for it.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaosiq_core.testing import Team, executable, wait_until

ROOT_EXISTS = {
    "type": "probe",
    "name": "root-exists",
    "tolerance": True,
    "provider": {"type": "python", "module": "os.path", "func": "exists", "arguments": {"path": "/"}},
}


def exists_probe(name: str, path: str) -> dict[str, Any]:
    return {
        "type": "probe",
        "name": name,
        "tolerance": True,
        "provider": {"type": "python", "module": "os.path", "func": "exists", "arguments": {"path": path}},
    }


def shell(name: str, script: str) -> dict[str, Any]:
    return {
        "type": "action",
        "name": name,
        "provider": {"type": "process", "path": "sh", "arguments": ["-c", script]},
    }


def stop_probe(stop_file: Path) -> dict[str, Any]:
    """A local safeguard probe that says stop once ``stop_file`` exists."""
    return {
        "type": "probe",
        "name": "no-stop-file",
        "tolerance": False,
        "provider": {
            "type": "python",
            "module": "os.path",
            "func": "exists",
            "arguments": {"path": str(stop_file)},
        },
    }


@dataclass
class Case:
    """One real run: what is run, the journal status it leaves, the outcome to show."""

    key: str
    command: str  # "run" or "verify"
    outcome: str
    status: str
    reason: str  # a piece of the first reason shown
    experiment: Any  # (folder) -> the experiment document
    args: tuple[str, ...] = ()
    # filled in once run
    folder: Path | None = None
    proc: subprocess.Popen[str] | None = None
    output: str = ""
    ids: dict[str, str] = field(default_factory=dict)


def experiment_doc(
    title: str, probes: list[dict[str, Any]], method: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    """An experiment document: its steady-state ``probes``, its ``method``, and ``extra`` keys."""
    return {
        "version": "1.0.0",
        "title": title,
        "description": "a run of the console's outcome tests",
        "steady-state-hypothesis": {"title": "the steady state", "probes": probes},
        "method": method,
        **extra,
    }


def verification_extensions(vid: str, conditions: float = 1.5) -> list[dict[str, Any]]:
    """The ``extensions`` making an experiment the short verification ``vid`` of ``chaos verify``."""
    return [
        {
            "name": "chaosiq",
            "verification": {
                "id": vid,
                "warm-up-duration": 0.5,
                "frequency-of-measurement": 0.25,
                "duration-of-conditions": conditions,
                "cool-down-duration": 0.5,
            },
        }
    ]


def _safeguarded(stop_file: Path, extensions: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    exts = [dict(e) for e in extensions or [{"name": "chaosiq"}]]
    exts[0]["safeguards"] = {"probes": [stop_probe(stop_file)]}
    return exts


BEFORE_NOT_MET = "steady state before the method not met"
PROBE_STOP = "stopped by the safeguard probe:no-stop-file"


def cases() -> list[Case]:
    """Every outcome a ``chaos run`` or ``chaos verify`` can end with, and a run that makes it."""

    def passed(d: Path) -> dict[str, Any]:
        return experiment_doc(
            "A short pause, the steady state holds", [ROOT_EXISTS], [shell("short-pause", "sleep 0.1")]
        )

    def before_not_met(d: Path) -> dict[str, Any]:
        return experiment_doc(
            "The steady state is not met before the method",
            [exists_probe("service-file-exists", str(d / "absent"))],
            [shell("never-run", "true")],
        )

    def action_failed(d: Path) -> dict[str, Any]:
        stat = {"type": "python", "module": "os", "func": "stat", "arguments": {"path": "/no/such/file"}}
        return experiment_doc(
            "An action that fails",
            [ROOT_EXISTS],
            [{"type": "action", "name": "break-it", "provider": stat}],
        )

    def deviated(d: Path) -> dict[str, Any]:
        flag = d / "flag"
        flag.write_text("up")
        return experiment_doc(
            "A flag file removed: the steady state deviates",
            [exists_probe("flag-exists", str(flag))],
            [shell("remove-flag", f"rm {flag}")],
        )

    def aborted(d: Path) -> dict[str, Any]:
        missing = {"type": "python", "module": "no_such_module_for_chaosiq", "func": "f"}
        return experiment_doc(
            "An action whose module is missing",
            [ROOT_EXISTS],
            [{"type": "action", "name": "import-it", "provider": missing}],
        )

    def interrupted(d: Path) -> dict[str, Any]:
        stop = d / "STOP"
        return experiment_doc(
            "A long sleep stopped by a safeguard probe",
            [ROOT_EXISTS],
            # the stop file appears inside the activity: the safeguard probe cuts it
            [shell("sleep-20", f"sleep 0.3; touch {stop}; sleep 20")],
            rollbacks=[shell("settle", "sleep 0.1")],
            extensions=_safeguarded(stop),
        )

    def v_passed(d: Path) -> dict[str, Any]:
        flag = d / "flag"
        flag.write_text("up")
        return experiment_doc(
            "Verification: the flag file stays",
            [exists_probe("flag-exists", str(flag))],
            [shell("hold", "sleep 0.1")],
            extensions=verification_extensions("outcome-v-passed"),
        )

    def v_deviated(d: Path) -> dict[str, Any]:
        flag = d / "flag"
        flag.write_text("up")
        return experiment_doc(
            "Verification: the flag file goes for a second",
            [exists_probe("flag-exists", str(flag))],
            [shell("remove-flag-for-a-second", f"rm {flag}; sleep 1; touch {flag}")],
            extensions=verification_extensions("outcome-v-deviated"),
        )

    def v_before_not_met(d: Path) -> dict[str, Any]:
        return experiment_doc(
            "Verification: no flag file to begin with",
            [exists_probe("flag-exists", str(d / "absent"))],
            [shell("hold", "sleep 0.1")],
            extensions=verification_extensions("outcome-v-failed-before"),
        )

    def v_interrupted(d: Path) -> dict[str, Any]:
        stop = d / "STOP"
        return experiment_doc(
            "Verification stopped by a safeguard probe",
            [ROOT_EXISTS],
            [shell("hold-then-stop", f"sleep 0.3; touch {stop}; sleep 10")],
            # conditions long enough for the stop to land in them however loaded the machine
            extensions=_safeguarded(stop, verification_extensions("outcome-v-interrupted", conditions=20)),
        )

    return [
        Case("passed", "run", "passed", "completed", "", passed),
        Case("failed-before", "run", "failed", "completed", BEFORE_NOT_MET, before_not_met),
        Case("failed-action", "run", "failed", "completed", "action 'break-it' failed", action_failed),
        Case("deviated", "run", "deviated", "completed", "steady state after the method not met", deviated),
        Case(
            "aborted",
            "run",
            "aborted",
            "aborted",
            "unexpected error in action 'import-it'",
            aborted,
            ("--no-validation",),
        ),
        Case("interrupted", "run", "interrupted", "interrupted", PROBE_STOP, interrupted),
        Case("v-passed", "verify", "passed", "completed", "", v_passed),
        Case(
            "v-deviated", "verify", "deviated", "completed", "samples of the steady state not met", v_deviated
        ),
        Case("v-failed-before", "verify", "failed", "completed", BEFORE_NOT_MET, v_before_not_met),
        Case("v-interrupted", "verify", "interrupted", "interrupted", PROBE_STOP, v_interrupted),
    ]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CHAOSIQ_TOKEN", "CHAOSIQ_DISABLE_PLUGINS")}
    env["HOME"] = str(home)
    return env


def sign_in(team: Team, folder: Path) -> tuple[Path, dict[str, str]]:
    """The real ``chaos signin`` against ``team``: (settings path, environment to run chaos with)."""
    home = folder / "home"
    (home / ".chaostoolkit").mkdir(parents=True, exist_ok=True)
    settings = home / ".chaostoolkit" / "settings.yaml"
    env = _env(home)
    result = subprocess.run(
        [executable("chaos"), "--no-version-check", "--settings", str(settings), "signin",
         "--url", team.server.url, "--token", team.token, "--org", team.org_name, "--team", team.team_name],
        env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return settings, env


def _journal(case: Case) -> dict[str, Any]:
    assert case.folder is not None
    return json.loads((case.folder / "journal.json").read_text())


def chaosiq_extension(journal: dict[str, Any]) -> dict[str, Any]:
    """The journal's ``chaosiq`` extension (``{}`` if none)."""
    return next((e for e in journal.get("extensions") or [] if e.get("name") == "chaosiq"), {})


def run_all(team: Team, folder: Path, selected: list[Case]) -> dict[str, Case]:
    """Run every case at once (each in its own folder), wait for them, then for the server to
    have each final journal (and verification run)."""
    settings, env = sign_in(team, folder)
    for case in selected:
        case.folder = folder / case.key
        case.folder.mkdir()
        source = case.folder / "experiment.json"
        source.write_text(json.dumps(case.experiment(case.folder)))
        cmd = [executable("chaos"), "--no-version-check", "--settings", str(settings), case.command]
        cmd += [*case.args, "--journal-path", str(case.folder / "journal.json"), str(source)]
        case.proc = subprocess.Popen(
            cmd, cwd=case.folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, text=True,
        )  # fmt: skip
    for case in selected:
        assert case.proc is not None
        case.output, _ = case.proc.communicate(timeout=180)
        journal = _journal(case)
        assert journal["status"] == case.status, (case.key, journal["status"], case.output)
        ext = chaosiq_extension(journal)
        case.ids = {"experiment_id": ext.get("experiment_id"), "execution_id": ext.get("execution_id")}
        assert case.ids["execution_id"], (case.key, case.output)
        if case.command == "verify":
            block = ext.get("verification") or {}
            case.ids["verification_id"] = block.get("id")
            case.ids["run_id"] = block.get("run_id")
            assert case.ids["run_id"], (case.key, case.output)

    def published(case: Case) -> bool:
        resp = team.api("GET", f"/executions/{case.ids['execution_id']}")
        if resp.status_code != 200 or resp.json()["status"] == "running":
            return False
        if case.command == "verify":
            run = team.api("GET", f"/verifications/{case.ids['verification_id']}/runs/{case.ids['run_id']}")
            return run.status_code == 200 and run.json()["state"] == "finished"
        return True

    for case in selected:
        wait_until(lambda c=case: published(c), timeout=60, what=f"the final journal of case {case.key}")
    return {case.key: case for case in selected}
