"""The real `chaos verify`, without a ChaosIQ server: timeline, outcomes, exit codes, stopping."""

from __future__ import annotations

import json
import signal
from datetime import datetime
from pathlib import Path

import pytest

from chaosiq_core.testing import run_chaos

from .conftest import journal_ext, verification_doc, write_doc

pytestmark = pytest.mark.usefixtures("chaos_home")


def _verify(tmp_path: Path, doc: dict, *args: str, name: str = "verification.json"):
    src = write_doc(tmp_path / name, doc)
    journal = tmp_path / "journal.json"
    result = run_chaos("verify", "--journal-path", str(journal), *args, str(src), cwd=tmp_path)
    data = json.loads(journal.read_text()) if journal.exists() else None
    return result, data


def _duration(phase: dict) -> float:
    return (datetime.fromisoformat(phase["end"]) - datetime.fromisoformat(phase["start"])).total_seconds()


def test_passing_verification_runs_every_phase_and_exits_0(tmp_path: Path) -> None:
    result, journal = _verify(tmp_path, verification_doc())
    assert result.returncode == 0, result.stderr
    assert "Verification passed" in result.stderr
    assert journal["status"] == "completed" and journal["deviated"] is False
    assert journal["measurements"] == journal["steady_states"]["during"]
    assert len(journal["measurements"]) > 1
    block = journal_ext(journal)["verification"]
    names = [p["name"] for p in block["phases"]]
    assert names == [
        "gate steady state",
        "warm-up",
        "method",
        "conditions",
        "cool-down",
        "after steady state",
    ]
    assert block["outcome"] == "passed"
    assert block["results"]["successful_samples"] == len(journal["measurements"])
    assert block["results"]["deviated_samples"] == 0
    assert journal["steady_states"]["after"]["steady_state_met"] is True
    assert "not signed in" in block["not_published"]


def test_yaml_source_and_var_override(tmp_path: Path) -> None:
    doc = verification_doc(probe_path="${flag}")
    doc["configuration"] = {"flag": "/definitely/not/here"}
    result, journal = _verify(tmp_path, doc, "--var", f"flag={tmp_path}", name="v.yaml")
    assert result.returncode == 0, result.stderr
    assert journal["steady_states"]["before"]["probes"][0]["output"] is True


def test_timeline_durations_and_sampling_frequency(tmp_path: Path) -> None:
    doc = verification_doc(warm_up=0.6, frequency=0.2, conditions=1.0, cool_down=0.6)
    result, journal = _verify(tmp_path, doc)
    assert result.returncode == 0, result.stderr
    block = journal_ext(journal)["verification"]
    phases = {p["name"]: p for p in block["phases"]}
    for name, asked in (("warm-up", 0.6), ("conditions", 1.0), ("cool-down", 0.6)):
        assert abs(_duration(phases[name]) - asked) <= 0.1 * asked, (name, phases[name])
    assert 4 <= block["samples_during_conditions"] <= 6
    # no sample is taken once the conditions are over
    last_sample = max(
        datetime.fromisoformat(s["probes"][0]["start"]) for s in journal["steady_states"]["during"]
    )
    assert last_sample <= datetime.fromisoformat(phases["cool-down"]["start"])


def test_deviating_verification_exits_3_and_plays_rollbacks(tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    flag.write_text("x")
    doc = verification_doc(
        probe_path=str(flag),
        warm_up=0.4,
        conditions=0.6,
        method=[
            {
                "type": "action",
                "name": "remove",
                "provider": {"type": "process", "path": "rm", "arguments": str(flag)},
            }
        ],
        rollbacks=[
            {
                "type": "action",
                "name": "restore",
                "provider": {"type": "process", "path": "touch", "arguments": str(flag)},
            }
        ],
    )
    result, journal = _verify(tmp_path, doc)
    assert result.returncode == 3, result.stderr
    assert "Verification deviated" in result.stderr
    results = journal_ext(journal)["verification"]["results"]
    assert results["successful_samples"] >= 1  # before the method removed the flag
    assert results["deviated_samples"] >= 2  # during the conditions
    assert journal["deviated"] is True
    assert journal["rollbacks"] and flag.exists()


def test_steady_state_not_met_before_exits_1_without_sampling(tmp_path: Path) -> None:
    result, journal = _verify(tmp_path, verification_doc(probe_path=str(tmp_path / "missing")))
    assert result.returncode == 1, result.stderr
    assert journal["steady_states"]["before"]["steady_state_met"] is False
    assert journal["measurements"] == []
    assert journal["run"] == []


def test_probe_error_fails_with_exit_1(tmp_path: Path) -> None:
    doc = verification_doc()
    doc["steady-state-hypothesis"]["probes"][0] = {
        "type": "probe",
        "name": "status",
        "tolerance": 200,
        "provider": {
            "type": "python",
            "module": "chaosiq_verification.probes.http",
            "func": "read_http_status_code",
            "arguments": {"url": "http://127.0.0.1:9/", "timeout": 0.5},
        },
    }
    result, journal = _verify(tmp_path, doc)
    assert result.returncode == 1, result.stderr
    assert journal["status"] == "failed"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["extensions"][0]["verification"].update({"frequency-of-measurement": 0}),
            "greater than 0",
        ),
        (lambda d: d["extensions"][0]["verification"].pop("id"), "a verification must have an id"),
        (
            lambda d: d["extensions"][0]["verification"].update({"warm-up-duration": "ten"}),
            "number of seconds",
        ),
    ],
)
def test_invalid_verification_exits_2_with_one_line(tmp_path: Path, mutate, message: str) -> None:
    doc = verification_doc()
    mutate(doc)
    result, journal = _verify(tmp_path, doc)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert journal is None


def test_missing_source_exits_2(tmp_path: Path) -> None:
    result = run_chaos("verify", str(tmp_path / "nope.json"), cwd=tmp_path)
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_no_validation_runs_without_id_locally(tmp_path: Path) -> None:
    result, journal = _verify(tmp_path, verification_doc(vid=None), "--no-validation")
    assert result.returncode == 0, result.stderr
    assert "has no id" in journal_ext(journal)["verification"]["not_published"]


def test_disabled_feature_says_how_to_enable(tmp_path: Path, chaos_home: Path) -> None:
    settings = chaos_home / ".chaostoolkit" / "settings.yaml"
    assert run_chaos("disable", "verification", settings=settings).returncode == 0
    result = run_chaos("verify", "x.json", settings=settings, cwd=tmp_path)
    assert result.returncode == 1
    assert "chaos enable verification" in result.stderr


def test_help_documents_exit_codes() -> None:
    result = run_chaos("verify", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for fragment in (
        "0 passed",
        "1 failed",
        "2 invalid",
        "3 deviated",
        "4 interrupted",
        "--rollback-strategy",
    ):
        assert fragment in text


@pytest.mark.parametrize(
    ("phase_log", "doc_kwargs", "sig"),
    [
        ("Verification phase: warm-up", {"warm_up": 30}, signal.SIGTERM),
        ("Verification phase: conditions held", {"conditions": 30}, signal.SIGTERM),
        ("Verification phase: cool-down", {"cool_down": 30}, signal.SIGTERM),
        ("Verification phase: conditions held", {"conditions": 30, "frequency": 10}, signal.SIGINT),
    ],
    ids=["sigterm-warm-up", "sigterm-conditions", "sigterm-cool-down", "ctrl-c-conditions-slow-sampling"],
)
def test_stopping_ends_within_a_second(
    tmp_path: Path, verify_bg, phase_log: str, doc_kwargs: dict, sig
) -> None:
    flag = tmp_path / "flag"
    flag.write_text("x")
    doc = verification_doc(
        probe_path=str(flag),
        rollbacks=[{"type": "action", "name": "restore", "provider": {"type": "process", "path": "true"}}],
        **doc_kwargs,
    )
    src = write_doc(tmp_path / "v.json", doc)
    proc = verify_bg(str(src))
    proc.wait_for_log(phase_log)
    elapsed = proc.signal_and_time(sig)
    assert elapsed < 1.5, elapsed
    assert proc.proc.returncode == 4, proc.output()
    journal = proc.load_journal()
    assert journal["status"] == "interrupted"
    assert journal["rollbacks"] == []  # default strategy: no rollbacks after an interruption
    block = journal_ext(journal)["verification"]
    assert block["outcome"] == "interrupted"
    assert block["results"]["total_number_of_samples"] == len(journal["measurements"])


def test_live_progress_on_a_terminal(tmp_path: Path) -> None:
    """Attached to a terminal, a live line shows the phase, time left and samples; the run still passes."""
    import os
    import pty
    import subprocess

    from chaosiq_core.testing import executable

    src = write_doc(tmp_path / "v.json", verification_doc(warm_up=0.5))
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [
            executable("chaos"),
            "--no-version-check",
            "verify",
            "--journal-path",
            str(tmp_path / "j.json"),
            str(src),
        ],
        cwd=tmp_path,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=60) == 0
    os.close(master)
    screen = b"".join(chunks).decode(errors="replace")
    assert "left" in screen and "samples" in screen and "warm-up" in screen
    assert "Verification passed" in screen
