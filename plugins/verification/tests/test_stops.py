"""Every stop of the real `chaos verify` leaves the system as `chaos run` would leave it.

The verification's method deletes FLAG and its rollback puts it back, so whether
FLAG exists afterwards is whether the rollbacks really ran. What `chaos run` does
for the same stop (both chaostoolkit-lib lines) is in docs/safeguards.md:

* a safeguard stop: rollbacks played (`safeguards.rollbacks: play`, the default,
  unless the strategy is `never`) or not (`skip`, even with `always`);
* SIGTERM and Ctrl-C: the rollback strategy as set (`default` plays none after an
  interruption, `deviated` plays them when the run deviated); a signal during the
  rollbacks cuts them.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    journal_ext,
    local_settings,
    process_action,
    stop_file_probe,
    verification_doc,
    write_doc,
)

pytestmark = pytest.mark.usefixtures("chaos_home")

CONDITIONS = "Verification phase: conditions held"


def _doc(tmp_path: Path, *, probe_path: str = "/", rollbacks: list[dict[str, Any]] | None = None, **kw: Any):
    """A verification whose method deletes FLAG and whose rollback restores it."""
    flag = tmp_path / "FLAG"
    flag.write_text("x")
    doc = verification_doc(
        probe_path=probe_path,
        method=[process_action("remove-flag", "rm", "-f", str(flag))],
        rollbacks=rollbacks or [process_action("restore-flag", "touch", str(flag))],
        extra={"safeguards": {"probes": [stop_file_probe(tmp_path / "STOP")]}},
        **kw,
    )
    return flag, write_doc(tmp_path / "v.json", doc)


def _stop_by_safeguard(tmp_path: Path, proc: Any) -> None:
    """The local safeguard probe says stop once the conditions are held (FLAG is gone)."""
    proc.wait_for_log(CONDITIONS)
    (tmp_path / "STOP").touch()
    proc.proc.wait(timeout=30)


def _rollbacks(journal: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(r["activity"]["name"], r.get("status")) for r in journal.get("rollbacks") or []]


@pytest.mark.parametrize("strategy", [None, "deviated"], ids=["default-strategy", "deviated-strategy"])
def test_safeguard_stop_plays_the_rollbacks(tmp_path: Path, verify_bg, strategy: str | None) -> None:
    """`safeguards.rollbacks: play` (the default): rollbacks are played after a safeguard stop,
    whatever the strategy (`default` alone would skip them for an interrupted run)."""
    flag, src = _doc(tmp_path, conditions=30)
    settings = local_settings(tmp_path / "settings.yaml", interval=0.2)
    args = ["--rollback-strategy", strategy] if strategy else []
    proc = verify_bg(*args, str(src), settings=settings)
    _stop_by_safeguard(tmp_path, proc)
    assert proc.proc.returncode == 4, proc.output()
    journal = proc.load_journal()
    assert journal["status"] == "interrupted"
    assert journal["interruption"]["kind"] == "safeguard"
    assert journal["interruption"]["name"] == "probe:no-stop-file"
    assert _rollbacks(journal) == [("restore-flag", "succeeded")]
    assert flag.exists(), "the rollback did not put FLAG back"
    assert journal_ext(journal)["verification"]["outcome"] == "interrupted"


def test_safeguard_stop_with_skip_plays_no_rollback_even_with_always(tmp_path: Path, verify_bg) -> None:
    """`safeguards.rollbacks: skip`: no rollback after a safeguard stop, even with `always`."""
    flag, src = _doc(tmp_path, conditions=30)
    settings = local_settings(tmp_path / "settings.yaml", interval=0.2, rollbacks="skip")
    proc = verify_bg("--rollback-strategy", "always", str(src), settings=settings)
    _stop_by_safeguard(tmp_path, proc)
    assert proc.proc.returncode == 4, proc.output()
    journal = proc.load_journal()
    assert journal["status"] == "interrupted"
    assert journal["interruption"]["kind"] == "safeguard"
    assert journal["rollbacks"] == []
    assert not flag.exists()


SIGNALS = pytest.mark.parametrize(
    ("sig", "name"), [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")], ids=["sigterm", "ctrl-c"]
)


@SIGNALS
def test_signal_after_a_deviated_sample_plays_rollbacks_under_deviated(
    tmp_path: Path, verify_bg, sig: int, name: str
) -> None:
    """SIGTERM or Ctrl-C: the strategy as set. Under `deviated` the rollbacks are played when the
    run deviated, and a verification deviated as soon as a sample was out of tolerance."""
    flag = tmp_path / "FLAG"
    flag, src = _doc(tmp_path, probe_path=str(flag), conditions=30)
    proc = verify_bg("--rollback-strategy", "deviated", str(src))
    proc.wait_for_log(CONDITIONS)
    proc.wait_for_log("is out of tolerance")  # a sample deviated: FLAG is gone
    proc.proc.send_signal(sig)
    proc.proc.wait(timeout=30)
    assert proc.proc.returncode == 4, proc.output()
    journal = proc.load_journal()
    assert journal["status"] == "interrupted"
    assert journal["deviated"] is True
    assert _rollbacks(journal) == [("restore-flag", "succeeded")]
    assert flag.exists()
    assert journal["interruption"] == {"kind": "signal", "name": name, "reason": f"received {name}"}


@SIGNALS
def test_signal_during_the_rollbacks_cuts_them_and_is_recorded(
    tmp_path: Path, verify_bg, sig: int, name: str
) -> None:
    """A signal during the rollbacks cuts them (as `chaos run`); the journal says which signal."""
    flag = tmp_path / "FLAG"
    slow_then_restore = [
        process_action("slow-rollback", "sleep", "30"),
        process_action("restore", "touch", str(flag)),
    ]
    flag, src = _doc(tmp_path, conditions=0.2, rollbacks=slow_then_restore)
    proc = verify_bg(str(src))
    proc.wait_for_log("Rollback: slow-rollback")
    start = time.monotonic()
    proc.proc.send_signal(sig)
    proc.proc.wait(timeout=30)
    assert time.monotonic() - start < 5, "the rollback was not cut"
    assert proc.proc.returncode == 4, proc.output()
    journal = proc.load_journal()
    assert journal["status"] == "interrupted"
    assert journal["interruption"] == {"kind": "signal", "name": name, "reason": f"received {name}"}
    assert [r[0] for r in _rollbacks(journal)] == ["slow-rollback"]
    assert not flag.exists()
    assert journal_ext(journal)["verification"]["outcome"] == "interrupted"
