"""How fast `chaos verify` ends after SIGTERM / Ctrl-C in each phase.

Starts a verification whose current phase lasts 30 s, waits until the log
says the phase began, sends the signal and measures until the process exits
(journal written). Usage: uv run --all-packages python benchmarks/verification_stop.py
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from chaosiq_core.testing import executable, exists_activity, wait_until

CASES = [
    ("warm-up", "Verification phase: warm-up", {"warm-up-duration": 30}, signal.SIGTERM),
    ("conditions", "Verification phase: conditions held", {"duration-of-conditions": 30}, signal.SIGTERM),
    ("cool-down", "Verification phase: cool-down", {"cool-down-duration": 30}, signal.SIGTERM),
    (
        "conditions, 10 s sampling",
        "Verification phase: conditions held",
        {"duration-of-conditions": 30, "frequency-of-measurement": 10},
        signal.SIGINT,
    ),
]


def doc(block: dict) -> dict:
    verification = {
        "id": "stop",
        "warm-up-duration": 0.2,
        "frequency-of-measurement": 0.2,
        "duration-of-conditions": 0.2,
        "cool-down-duration": 0.2,
        **block,
    }
    return {
        "version": "1.0.0",
        "title": "stop",
        "description": "stop latency",
        "extensions": [{"name": "chaosiq", "verification": verification}],
        "steady-state-hypothesis": {
            "title": "t",
            "probes": [
                exists_activity("p", "/", kind="probe"),
            ],
        },
        "method": [{"type": "action", "name": "noop", "provider": {"type": "process", "path": "true"}}],
    }


def main() -> None:
    print("| phase | signal | seconds to exit | exit code | journal status |")
    print("|---|---|---|---|---|")
    for name, marker, block, sig in CASES:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            os.environ["HOME"] = str(tmp)
            (tmp / ".chaostoolkit").mkdir()
            (tmp / "v.json").write_text(json.dumps(doc(block)))
            log = tmp / "chaostoolkit.log"
            proc = subprocess.Popen(
                [
                    executable("chaos"),
                    "--no-version-check",
                    "--log-file",
                    str(log),
                    "verify",
                    "--journal-path",
                    str(tmp / "j.json"),
                    str(tmp / "v.json"),
                ],
                cwd=tmp,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            wait_until(
                lambda log=log, marker=marker: log.exists() and marker in log.read_text(),
                timeout=60,
                what=marker,
            )
            start = time.monotonic()
            proc.send_signal(sig)
            code = proc.wait(timeout=30)
            elapsed = time.monotonic() - start
            status = json.loads((tmp / "j.json").read_text())["status"]
            print(f"| {name} | {signal.Signals(sig).name} | {elapsed:.3f} | {code} | {status} |")


if __name__ == "__main__":
    main()
