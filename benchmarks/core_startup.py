"""Startup cost of chaosiq: `chaos --help` and `chaos run` with every chaosiq distribution
installed (publish disabled) against a Chaos Toolkit without any of them.

Usage::

    uv venv /tmp/bench-plain --python 3.11
    uv pip install --python /tmp/bench-plain chaostoolkit==1.19.0 chaostoolkit-lib==1.44.0
    uv run --all-packages python benchmarks/core_startup.py --plain /tmp/bench-plain --rounds 15

A and B runs alternate (A, B, B, A, ...) so that machine load hits both alike;
the medians and the ratio A/B are printed (goal: ≤ 1.15).
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

from chaosiq_core.testing import exists_activity, small_experiment

EXPERIMENT = small_experiment(
    "three activities", [exists_activity(f"noop-{i}") for i in range(2)], description="startup benchmark"
)

# Signed in to a server on a closed loopback port, publish turned off.
CHAOSIQ_SETTINGS = """\
auths:
  127.0.0.1:9: {type: bearer, value: bench-token}
controls:
  chaosiq-cloud:
    features: {publish: 'off', safeguards: 'on', teams: 'on', verification: 'on'}
    provider:
      type: python
      module: chaosiq_core.control
      arguments:
        url: http://127.0.0.1:9
        verify_tls: true
        organizations:
        - {id: o1, name: org, default: true, teams: [{id: t1, name: team, default: true}]}
"""


def timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall-clock and CPU (user + system) seconds of one run of ``cmd``.

    CPU time is the steadier figure on a loaded machine: it does not count
    the time the process waited for a core.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.decode()[-2000:]}")
    return elapsed, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plain", default="/tmp/bench-plain", help="venv with chaostoolkit only")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--no-bytecode", action="store_true", help="compile every module at every run")
    args = parser.parse_args()

    with_chaosiq = Path(sys.executable).parent / "chaos"
    plain = Path(args.plain) / "bin" / "chaos"
    for exe in (with_chaosiq, plain):
        if not exe.exists():
            raise SystemExit(f"{exe} does not exist (see the usage in this file's docstring)")
    work = Path(tempfile.mkdtemp(prefix="chaosiq-bench-"))
    (work / "experiment.json").write_text(json.dumps(EXPERIMENT))
    (work / "chaosiq.yaml").write_text(CHAOSIQ_SETTINGS)
    (work / "plain.yaml").write_text("{}\n")
    os.environ.pop("CHAOSIQ_DISABLE_PLUGINS", None)
    if not args.no_bytecode:
        # As installed by pip: bytecode is cached. (This machine sets PYTHONDONTWRITEBYTECODE=1,
        # which makes every run compile every module from source: --no-bytecode measures that.)
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    else:
        os.environ["PYTHONDONTWRITEBYTECODE"] = "1"

    def cmd(exe: Path, settings: str, *rest: str) -> list[str]:
        return [str(exe), "--no-version-check", "--settings", str(work / settings), *rest]

    cases = {
        "chaos --help": (
            cmd(with_chaosiq, "chaosiq.yaml", "--help"),
            cmd(plain, "plain.yaml", "--help"),
        ),
        "chaos run (3 activities)": (
            cmd(
                with_chaosiq, "chaosiq.yaml", "run", "--journal-path", str(work / "a.json"), "experiment.json"
            ),
            cmd(plain, "plain.yaml", "run", "--journal-path", str(work / "b.json"), "experiment.json"),
        ),
    }
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}, "
          f"{args.rounds} rounds, bytecode {'not ' if args.no_bytecode else ''}cached, "
          "A = chaosiq installed (publish off), B = plain chaostoolkit")  # fmt: skip
    worst = {"wall": 0.0, "cpu": 0.0}
    for name, (a_cmd, b_cmd) in cases.items():
        timed(a_cmd, work), timed(b_cmd, work)  # warm the file cache
        a: list[tuple[float, float]] = []
        b: list[tuple[float, float]] = []
        for i in range(args.rounds):
            order = [(a, a_cmd), (b, b_cmd)] if i % 2 == 0 else [(b, b_cmd), (a, a_cmd)]
            for sink, c in order:
                sink.append(timed(c, work))
        for k, kind in enumerate(("wall", "cpu")):
            ma = statistics.median(x[k] for x in a)
            mb = statistics.median(x[k] for x in b)
            ratio = ma / mb
            worst[kind] = max(worst[kind], ratio)
            print(f"{name:26s} {kind:4s}  A {ma * 1000:7.1f} ms   B {mb * 1000:7.1f} ms   ratio {ratio:.3f}")
    for kind, ratio in worst.items():
        print(f"worst {kind} ratio {ratio:.3f} (goal <= 1.15): {'OK' if ratio <= 1.15 else 'OVER BUDGET'}")
    print(f"load after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
