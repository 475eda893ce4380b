"""Measure the timeline of `chaos verify` from the journal's own timestamps.

Runs a verification with frequency-of-measurement 0.5 s, duration-of-conditions
5 s, warm-up 2 s and cool-down 2 s (the figures of issue 7), locally and while
publishing to a real chaosiq-server, and reports:

* samples taken during the conditions (probe start times inside the
  conditions window of the journal), expected 10 +- 1;
* warm-up and cool-down durations (end - start of their phases), expected within 10 %;
* the sampling period (median gap between two samples).

Usage: uv run --all-packages python benchmarks/verification_timing.py [--runs N] [--no-server]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from chaosiq_core.testing import run_chaos, sign_in, start_server

FREQ, CONDITIONS, WARM_UP, COOL_DOWN = 0.5, 5.0, 2.0, 2.0


def doc(flag: Path) -> dict[str, Any]:
    return {
        "version": "1.0.0",
        "title": "benchmark verification",
        "description": "timing",
        "extensions": [
            {
                "name": "chaosiq",
                "verification": {
                    "id": "bench",
                    "warm-up-duration": WARM_UP,
                    "frequency-of-measurement": FREQ,
                    "duration-of-conditions": CONDITIONS,
                    "cool-down-duration": COOL_DOWN,
                },
            }
        ],
        "steady-state-hypothesis": {
            "title": "flag exists",
            "probes": [
                {
                    "type": "probe",
                    "name": "flag",
                    "tolerance": True,
                    "provider": {
                        "type": "python",
                        "module": "os.path",
                        "func": "exists",
                        "arguments": {"path": str(flag)},
                    },
                }
            ],
        },
        "method": [{"type": "action", "name": "noop", "provider": {"type": "process", "path": "true"}}],
    }


def ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def measure(journal: dict[str, Any]) -> dict[str, float]:
    ext = next(e for e in journal["extensions"] if e["name"] == "chaosiq")["verification"]
    phases = {p["name"]: p for p in ext["phases"]}
    cond = phases["conditions"]
    starts = sorted(ts(s["probes"][0]["start"]) for s in journal["steady_states"]["during"])
    in_conditions = sum(1 for t in starts if ts(cond["start"]) <= t < ts(cond["end"]))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    return {
        "samples_in_conditions": in_conditions,
        "conditions_s": ts(cond["end"]) - ts(cond["start"]),
        "warm_up_s": ts(phases["warm-up"]["end"]) - ts(phases["warm-up"]["start"]),
        "cool_down_s": ts(phases["cool-down"]["end"]) - ts(phases["cool-down"]["start"]),
        "median_period_s": statistics.median(gaps) if gaps else float("nan"),
        "total_samples": len(starts),
    }


def one_run(tmp: Path, settings: Path | None) -> dict[str, float]:
    flag = tmp / "flag"
    flag.write_text("x")
    src = tmp / "verification.json"
    src.write_text(json.dumps(doc(flag)))
    journal = tmp / "journal.json"
    start = time.monotonic()
    result = run_chaos("verify", "--journal-path", str(journal), str(src), settings=settings, cwd=tmp)
    wall = time.monotonic() - start
    if result.returncode != 0:
        sys.exit(f"chaos verify failed ({result.returncode}):\n{result.stderr[-2000:]}")
    out = measure(json.loads(journal.read_text()))
    out["wall_s"] = wall
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--no-server", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        os.environ["HOME"] = str(tmp / "home")
        (tmp / "home" / ".chaostoolkit").mkdir(parents=True)
        modes: list[tuple[str, Path | None]] = [("local", None)]
        server = None
        if not args.no_server:
            server = start_server(tmp / "server")
            team = server.new_team()
            settings = sign_in(team, tmp / "home" / ".chaostoolkit" / "settings.yaml")
            run_chaos("enable", "publish", settings=settings)
            modes.append(("publishing to chaosiq-server", settings))
        try:
            print(
                f"frequency {FREQ} s, conditions {CONDITIONS} s, warm-up {WARM_UP} s, cool-down {COOL_DOWN} s"
            )
            print(
                "| mode | run | samples in conditions | conditions s | warm-up s (err) | cool-down s (err) "
                "| median period s | samples | wall s |"
            )
            print("|---|---|---|---|---|---|---|---|---|")
            for label, settings in modes:
                for i in range(args.runs):
                    m = one_run(tmp, settings)
                    wu = 100 * abs(m["warm_up_s"] - WARM_UP) / WARM_UP
                    cd = 100 * abs(m["cool_down_s"] - COOL_DOWN) / COOL_DOWN
                    print(
                        f"| {label} | {i + 1} | {m['samples_in_conditions']} | {m['conditions_s']:.3f} "
                        f"| {m['warm_up_s']:.3f} ({wu:.1f} %) | {m['cool_down_s']:.3f} ({cd:.1f} %) "
                        f"| {m['median_period_s']:.3f} | {m['total_samples']} | {m['wall_s']:.2f} |"
                    )
        finally:
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main()
