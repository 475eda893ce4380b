"""Benchmarks of the safeguards feature (issue 6 "Measure"); figures go to RESULTS.md (chaosiq-safeguards).

Run: ``uv run --all-packages python benchmarks/safeguards_bench.py [--reps N] [--only stop|overhead]
[--bytecode cached|none]``

1. Stop latency: time from ``POST {team}/executions/{xid}/stop`` on a real
   chaosiq-server to ``chaos run`` ending with status interrupted while one
   30-second blocking process action runs (default interval 1 s).
2. Overhead: wall time of ``chaos run`` with 50 and 200 no-op activities,
   safeguards on (always allowing) vs off (``CHAOSIQ_DISABLE_PLUGINS=safeguards``),
   publisher on in both, compared with one policies round trip. Off and on runs
   alternate (off-on, on-off, ...); medians and the load average are printed.
   ``--bytecode cached`` (default) lets the ``chaos`` processes keep compiled
   bytecode in a temporary ``PYTHONPYCACHEPREFIX`` (as an installed package
   has); ``none`` compiles every chaosiq module on every run
   (``PYTHONDONTWRITEBYTECODE=1``, this workspace's environment).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from chaosiq_core import testing
from chaosiq_core.testing import Team, executable, run_chaos, start_server, wait_until


def sign_in(home: Path, team: Team) -> Path:
    return testing.sign_in(team, home / ".chaostoolkit" / "settings.yaml", env={"HOME": str(home)})


def noop_experiment(path: Path, n: int) -> Path:
    acts = [
        {
            "type": "action",
            "name": f"noop-{i}",
            "provider": {"type": "python", "module": "os.path", "func": "exists", "arguments": {"path": "/"}},
        }
        for i in range(n)
    ]
    path.write_text(json.dumps({"title": f"{n} no-ops", "description": "bench", "method": acts}))
    return path


def stop_latency(server, tmp: Path, reps: int) -> list[float]:
    out = []
    for i in range(reps):
        team = server.new_team()
        home = tmp / f"stop-{i}"
        settings = sign_in(home, team)
        exp = home / "exp.json"
        exp.write_text(json.dumps({
            "title": "long", "description": "bench",
            "method": [{"type": "action", "name": "long-sleep",
                        "provider": {"type": "process", "path": "sleep", "arguments": "30"}}],
        }))  # fmt: skip
        log = home / "chaostoolkit.log"
        proc = subprocess.Popen(
            [executable("chaos"), "--no-version-check", "--settings", str(settings), "run", str(exp)],
            cwd=home, env={**os.environ, "HOME": str(home)},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        items = wait_until(team.executions, timeout=30)
        wait_until(lambda log=log: log.exists() and "Action: long-sleep" in log.read_text(), timeout=30)
        time.sleep(0.2 + (i % 5) * 0.2)  # spread the stop over the poll interval
        t0 = time.monotonic()
        team.stop(items[0]["id"])
        wait_until(
            lambda log=log: "ended with status: interrupted" in log.read_text(), timeout=40, interval=0.01
        )
        out.append(time.monotonic() - t0)
        proc.wait(60)
    return out


BYTECODE_ENV: dict[str, str] = {}


def run_time(settings: Path, home: Path, exp: Path, disable: bool) -> float:
    env = {"HOME": str(home), **BYTECODE_ENV}
    if disable:
        env["CHAOSIQ_DISABLE_PLUGINS"] = "safeguards"
    t0 = time.monotonic()
    r = run_chaos("run", str(exp), settings=settings, cwd=home, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    return time.monotonic() - t0


def policies_rtt(team: Team, n: int = 20) -> float:
    xid = team.executions()[0]["id"]
    eid = team.executions()[0].get("experiment_id")
    s = requests.Session()
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        s.get(
            f"{team.base}/experiments/{eid}/executions/{xid}/policies",
            headers={"Authorization": f"Bearer {team.token}"}, timeout=5,
        )  # fmt: skip
        times.append(time.monotonic() - t0)
    return statistics.median(times)


def overhead(server, tmp: Path, reps: int, bytecode: str) -> None:
    """Alternate off/on runs (off-on, on-off, ...) for 50 and 200 no-ops; print medians."""
    team = server.new_team()
    home = tmp / "overhead"
    settings = sign_in(home, team)
    for n in (50, 200):
        exp = noop_experiment(home / f"exp{n}.json", n)
        on, off, loads = [], [], []
        run_time(settings, home, exp, False)  # warm-up (and bytecode, when cached)
        run_time(settings, home, exp, True)
        for i in range(reps):
            order = (True, False) if i % 2 == 0 else (False, True)
            for disable in order:
                (off if disable else on).append(run_time(settings, home, exp, disable))
            loads.append(os.getloadavg()[0])
        m_on, m_off = statistics.median(on), statistics.median(off)
        pairs = statistics.median([a - b for a, b in zip(on, off, strict=True)])
        print(f"{n} no-ops ({reps} pairs, bytecode {bytecode}): off {m_off:.3f} s, on {m_on:.3f} s, "
              f"added {1000 * (m_on - m_off):.0f} ms (median of pair differences {1000 * pairs:.0f} ms); "
              f"load average {min(loads):.2f}-{max(loads):.2f}")  # fmt: skip
    print(f"policies round trip (median of 20): {1000 * policies_rtt(team):.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", choices=("stop", "overhead"), default=None)
    ap.add_argument("--bytecode", choices=("cached", "none"), default="cached")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.bytecode == "cached":
            BYTECODE_ENV.update(PYTHONDONTWRITEBYTECODE="", PYTHONPYCACHEPREFIX=str(tmp / "pycache"))
        else:
            BYTECODE_ENV.update(PYTHONDONTWRITEBYTECODE="1")
        server = start_server(tmp / "server")
        try:
            if args.only != "overhead":
                lat = stop_latency(server, tmp, args.reps)
                print(f"stop latency (s): {[round(x, 3) for x in lat]} median {statistics.median(lat):.3f} "
                      f"max {max(lat):.3f}; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
            if args.only != "stop":
                overhead(server, tmp, args.reps, args.bytecode)
        finally:
            server.stop()
    print(f"python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
