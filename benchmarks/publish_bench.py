"""The publisher against its goals, this code and a baseline commit side by side in one run.

Run: ``uv run --all-packages python benchmarks/publish_bench.py [--baseline 0088ee3] [--reps N]
[--sleep-reps N] [--inproc-reps N] [--json]``; figures go to RESULTS.md (chaosiq-publisher).

Three variants of the real ``chaos run``, alternated run by run (order rotating
from rep to rep): **off** (plain Chaos Toolkit: a settings file without the
chaosiq control), **base** (the baseline commit's chaosiq: its ``chaosiq_core``,
``chaoscloud`` and plugin sources, extracted with ``git archive``, first on
``PYTHONPATH``) and **new** (this working tree). Both chaosiq variants publish
to the same real chaosiq-servers (SQLite, loopback): one answering at once and
one with ``--response-delay-ms 20``; safeguards and verification are not
loaded. Every compiled module is kept in a temporary ``PYTHONPYCACHEPREFIX``
(as an installed package) after one warm-up run of each variant.

Goals (each printed with the baseline's figure and the ratio new ÷ base):

1. Run-thread CPU time per lifecycle event ≤ 10 µs: in-process, in a child
   process per variant (alternated), ``time.thread_time`` of the run thread
   around the control bridge's ``before/after_activity_control`` (bridge,
   pluggy, the publisher's hook); the publisher's ``enqueue`` alone beside it.
   CPU time of one thread does not count the time it waits for the GIL or a
   core, so it is stable on a shared machine.
2. Whole-process cost per activity ≤ 0.25 ms at 0 and 20 ms latency: each
   rep's own slope of (variant - off) wall time between 50 and 200 no-op
   actions, median over the reps (quartiles printed).
3. Fixed cost per run ≤ 50 ms + 2 x latency: (variant - off) at 0 actions,
   median of the reps' differences.
4. 50 x ``sleep 0.1`` actions, variant ÷ off ≤ 1.03 at 20 ms latency.
5. 100 % of the events on the server when ``chaos`` exits (every variant run),
   and 3-4 requests per run of 50 actions (the server's access log).

Noise: the spread of the *off* runs (quartiles, as a share of their median) and
the 1-minute load average before and after each series are printed: a figure
is only as good as the off runs are stable.
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
from typing import Any

from chaosiq_core.testing import ServerProcess, Team, executable, run_chaos, start_server

OTHERS = "safeguards,verification"
VARIANTS = ("off", "base", "new")
REPO = Path(__file__).resolve().parent.parent
PLUGINS = ("publisher", "teams", "safeguards", "verification")
BASE_SOURCES = ("chaosiq_core", "chaoscloud", *(f"plugins/{p}/chaosiq_{p}" for p in PLUGINS))


# ------------------------------------------------------------------ set-up


def baseline_path(rev: str, into: Path) -> str:
    """Extract the baseline's Python sources; the ``PYTHONPATH`` that puts them first."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, *BASE_SOURCES], check=True,
                             capture_output=True).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    paths = [into, *(into / "plugins" / p for p in PLUGINS)]
    return os.pathsep.join(str(p) for p in paths)


def sign_in(home: Path, url: str, team: Team) -> Path:
    settings = home / ".chaostoolkit" / "settings.yaml"
    settings.parent.mkdir(parents=True, exist_ok=True)
    r = run_chaos(
        "signin", "--url", url, "--token", team.token, "--org", team.org_name, "--team", team.team_name,
        settings=settings, env={"HOME": str(home)},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return settings


def experiment(path: Path, n: int, *, sleep: bool = False) -> Path:
    noop = {"type": "python", "module": "os.path", "func": "exists", "arguments": {"path": "/"}}
    slow = {"type": "process", "path": "sleep", "arguments": "0.1"}
    doc = {
        "title": f"{n} {'sleep 0.1' if sleep else 'no-op'} actions",
        "description": "publisher benchmark",
        "steady-state-hypothesis": {"title": "ok", "probes": [
            {"type": "probe", "name": "root", "tolerance": True, "provider": noop}]},
        "method": [{"type": "action", "name": f"a{i}", "provider": slow if sleep else noop}
                   for i in range(n)],
        "rollbacks": [{"type": "action", "name": "rb", "provider": noop}],
    }  # fmt: skip
    path.write_text(json.dumps(doc))
    return path


def expected_events(n: int) -> int:
    # experiment 2 + hypothesis 2 x 4 + method 2 + 2n + rollback 2 + 2
    return 2 + 8 + 2 + 2 * n + 4


class Bench:
    """The three variants against one server."""

    def __init__(self, server: ServerProcess, tmp: Path, label: str, base_path: str, bytecode: dict) -> None:
        self.server = server
        self.team = server.new_team()
        home = tmp / f"home-{label}"
        self.settings = sign_in(home, server.url, self.team)
        self.off_settings = tmp / "off.yaml"
        self.off_settings.write_text("{}\n")
        self.data = tmp / f"data-{label}"
        on = {
            "HOME": str(home),
            "CHAOSIQ_DATA_DIR": str(self.data),
            "CHAOSIQ_DISABLE_PLUGINS": OTHERS,
            **bytecode,
        }
        self.env = {
            "off": {"HOME": str(home), **bytecode},
            "new": on,
            "base": {**on, "PYTHONPATH": base_path},
        }
        self.delivered: dict[str, list[float]] = {"base": [], "new": []}

    def run(self, which: str, exp: Path, n: int) -> float:
        """One ``chaos run``; its wall time. Checks what the server holds right after the exit."""
        journal = exp.with_suffix(".journal.json")
        settings = self.off_settings if which == "off" else self.settings
        cmd = [executable("chaos"), "--no-version-check", "--settings", str(settings), "run",
               "--journal-path", str(journal), str(exp)]  # fmt: skip
        t = time.perf_counter()
        r = subprocess.run(cmd, env={**os.environ, **self.env[which]}, capture_output=True, text=True,
                           cwd=exp.parent)  # fmt: skip
        wall = time.perf_counter() - t
        assert r.returncode == 0, r.stderr[-2000:]
        if which != "off":
            ext = next(e for e in json.loads(journal.read_text())["extensions"] if e["name"] == "chaosiq")
            path = f"/experiments/{ext['experiment_id']}/executions/{ext['execution_id']}/events?limit=1"
            self.delivered[which].append(int(self.team.api("GET", path).json()["total"]) / expected_events(n))
            outbox = self.data / "outbox"
            assert not (outbox.is_dir() and list(outbox.glob("*.jsonl"))), "outbox not empty after a run"
        return wall

    def series(self, exps: dict[int, Path], reps: int) -> dict[int, dict[str, list[float]]]:
        """Every size and variant in every rep; the order of both rotates from rep to rep."""
        walls = {n: {v: [] for v in VARIANTS} for n in exps}
        for n, exp in exps.items():  # warm-up: bytecode, page cache, server
            for v in VARIANTS:
                self.run(v, exp, n)
        sizes = list(exps)
        for i in range(reps):
            order = VARIANTS[i % 3 :] + VARIANTS[: i % 3]
            for n in sizes if i % 2 == 0 else sizes[::-1]:
                for v in order:
                    walls[n][v].append(self.run(v, exps[n], n))
        return walls

    def requests_per_run(self, exp: Path, n: int, runs: int) -> dict[str, list[int]]:
        """Requests in the server's access log during each run (the bench is its only client then;
        its own query of the events stored is not counted)."""
        log = Path(self.server.log_path or "")
        out: dict[str, list[int]] = {"base": [], "new": []}
        for i in range(runs):
            for v in out if i % 2 == 0 else ("new", "base"):
                time.sleep(0.5)  # the server flushes its access log every 0.2 s
                before = len(log.read_text().splitlines())
                self.run(v, exp, n)
                time.sleep(0.5)
                lines = log.read_text().splitlines()[before:]
                mine = [x for x in lines if "access: GET" in x and "/events " in x]  # the bench's query
                out[v].append(sum("access:" in x for x in lines) - len(mine))
        return out


# ------------------------------------------------------------- in-process


def inproc_child(settings: str, data: str, reps: int) -> None:
    """In a child process: run-thread CPU per lifecycle event through the control bridge."""
    os.environ["CHAOSIQ_DATA_DIR"] = data
    os.environ["CHAOSIQ_DISABLE_PLUGINS"] = OTHERS
    from chaosiq_core import control
    from chaosiq_core import settings as s

    Path(data).mkdir(parents=True, exist_ok=True)
    exp = json.loads(experiment(Path(data) / "inproc.json", 1).read_text())
    control.reset()
    control.configure_control(experiment=exp, settings=s.load(Path(settings)))
    run = control.current_run()
    assert run is not None and "publish" in run.data
    pub = run.data["publish"]
    act = exp["method"][0]
    state = {"activity": act, "status": "succeeded", "output": True, "duration": 0.0001}
    for _ in range(200):  # warm-up
        control.before_activity_control(context=act)
        control.after_activity_control(context=act, state=state)
    cpu = time.thread_time()
    for _ in range(reps):
        control.before_activity_control(context=act)
        control.after_activity_control(context=act, state=state)
    bridge = (time.thread_time() - cpu) / (2 * reps)
    cpu = time.thread_time()
    for _ in range(reps):
        pub.enqueue("activity-finished", act, state)
    enqueue = (time.thread_time() - cpu) / reps
    pub.finish({"status": "completed"})
    print(
        json.dumps(
            {"bridge_us": bridge * 1e6, "enqueue_us": enqueue * 1e6, "delivered": pub.sender.delivered}
        )
    )


def inrun_child(settings: str, data: str, reps: int) -> None:
    """In a child process: chaoslib's ``run_experiment`` of 50 and 200 no-ops, with the chaosiq
    control and without (plain Chaos Toolkit) alternated; each rep's slope of on - off."""
    os.environ["CHAOSIQ_DATA_DIR"] = data
    os.environ["CHAOSIQ_DISABLE_PLUGINS"] = OTHERS
    import copy

    from chaoslib.control import load_global_controls
    from chaoslib.experiment import run_experiment

    from chaosiq_core import settings as s

    Path(data).mkdir(parents=True, exist_ok=True)
    cfg = {"on": s.load(Path(settings)), "off": {}}
    exps = {n: json.loads(experiment(Path(data) / f"inrun-{n}.json", n).read_text()) for n in (50, 200)}
    walls: dict[tuple[str, int], list[float]] = {(v, n): [] for v in cfg for n in exps}
    for i in range(reps + 1):  # the first rep warms up
        for n in exps:
            for v in ("on", "off") if i % 2 else ("off", "on"):
                settings = copy.deepcopy(cfg[v])
                t = time.perf_counter()
                load_global_controls(settings)  # as `chaos run` does
                run_experiment(copy.deepcopy(exps[n]), settings=settings)
                if i:
                    walls[(v, n)].append(time.perf_counter() - t)
    d = {n: [a - b for a, b in zip(walls[("on", n)], walls[("off", n)], strict=True)] for n in exps}
    slopes = [(x - y) / 150 * 1000 for x, y in zip(d[200], d[50], strict=True)]
    print(json.dumps({"per_activity_ms": statistics.median(slopes)}))


def in_run(bench: Bench, rounds: int, reps: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"base": [], "new": []}
    for i in range(rounds):
        for v in ("base", "new") if i % 2 == 0 else ("new", "base"):
            cmd = [sys.executable, __file__, "--inrun", str(bench.settings), str(bench.data), str(reps)]
            r = subprocess.run(cmd, env={**os.environ, **bench.env[v]}, capture_output=True, text=True)
            assert r.returncode == 0, r.stderr[-2000:]
            out[v].append(json.loads(r.stdout.splitlines()[-1])["per_activity_ms"])
    return out


def per_event(bench: Bench, rounds: int, reps: int) -> dict[str, dict[str, list[float]]]:
    out: dict[str, dict[str, list[float]]] = {v: {"bridge_us": [], "enqueue_us": []} for v in ("base", "new")}
    for i in range(rounds):
        for v in ("base", "new") if i % 2 == 0 else ("new", "base"):
            cmd = [sys.executable, __file__, "--inproc", str(bench.settings), str(bench.data), str(reps)]
            r = subprocess.run(cmd, env={**os.environ, **bench.env[v]}, capture_output=True, text=True)
            assert r.returncode == 0, r.stderr[-2000:]
            got = json.loads(r.stdout.splitlines()[-1])
            assert got["delivered"] == 3 * reps + 400 + 1, got  # every event and the journal
            for k in out[v]:
                out[v][k].append(got[k])
    return out


# ------------------------------------------------------------------ report


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def quartiles(xs: list[float]) -> list[float]:
    q = statistics.quantiles(xs, n=4)
    return [round(q[0], 3), round(q[2], 3)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", default="0088ee3", help="the commit to compare with")
    ap.add_argument("--reps", type=int, default=20, help="reps of the no-op series (0, 50, 200 actions)")
    ap.add_argument("--sleep-reps", type=int, default=5, help="reps of the 50 x sleep 0.1 runs")
    ap.add_argument("--inproc-rounds", type=int, default=6, help="alternated child processes per variant")
    ap.add_argument("--inproc-reps", type=int, default=3000, help="activities per in-process measurement")
    ap.add_argument("--count-runs", type=int, default=6, help="runs of 50 actions whose requests are counted")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--inrun-reps", type=int, default=20, help="in-process runs per size and variant")
    ap.add_argument("--inproc", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--inrun", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inproc:
        inproc_child(args.inproc[0], args.inproc[1], int(args.inproc[2]))
        return
    if args.inrun:
        inrun_child(args.inrun[0], args.inrun[1], int(args.inrun[2]))
        return
    tmp = Path(tempfile.mkdtemp(prefix="publish-bench-"))
    base_path = baseline_path(args.baseline, tmp / "baseline")
    bytecode = {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(tmp / "pycache")}
    servers = {0: start_server(tmp / "srv-0"), 20: start_server(tmp / "srv-20", "--response-delay-ms", "20")}
    res: dict[str, Any] = {"baseline": args.baseline, "reps": args.reps, "sleep_reps": args.sleep_reps}
    try:
        benches = {ms: Bench(srv, tmp, f"{ms}ms", base_path, bytecode) for ms, srv in servers.items()}
        res["per_event"] = per_event(benches[0], args.inproc_rounds, args.inproc_reps)
        res["in_run"] = {
            f"{ms} ms": in_run(b, args.inproc_rounds, args.inrun_reps) for ms, b in benches.items()
        }
        for ms, b in benches.items():
            load = [os.getloadavg()[0]]
            w = b.series({n: experiment(tmp / f"noop-{n}.json", n) for n in (0, 50, 200)}, args.reps)
            sleep = b.series({50: experiment(tmp / "sleep-50.json", 50, sleep=True)}, args.sleep_reps)[50]
            load.append(os.getloadavg()[0])
            r: dict[str, Any] = {"load": [round(x, 2) for x in load]}
            for v in ("base", "new"):
                d = {n: [a - b for a, b in zip(w[n][v], w[n]["off"], strict=True)] for n in w}
                slopes = [(x - y) / 150 * 1000 for x, y in zip(d[200], d[50], strict=True)]
                r[v] = {
                    "per_activity_ms": med(slopes),
                    "per_activity_quartiles": quartiles(slopes),
                    "fixed_ms": med(d[0]) * 1000,
                    "fixed_quartiles_ms": [round(x * 1000, 1) for x in quartiles(d[0])],
                    "sleep50_ratio": med(sleep[v]) / med(sleep["off"]),
                    "delivered_min": min(b.delivered[v]),
                    "runs": len(b.delivered[v]),
                }
            r["off_median_s"] = {n: round(med(w[n]["off"]), 4) for n in w}
            r["off_spread"] = {
                n: [round(q / med(w[n]["off"]) - 1, 3) for q in quartiles(w[n]["off"])] for n in w
            }
            r["sleep50_off_s"] = round(med(sleep["off"]), 3)
            res[f"{ms} ms"] = r
            print(f"[{ms} ms] {json.dumps(r)}", file=sys.stderr)
        res["requests"] = benches[0].requests_per_run(
            experiment(tmp / "count-50.json", 50), 50, args.count_runs
        )
    finally:
        for s in servers.values():
            s.stop()
    if args.json:
        print(json.dumps(res, indent=2))
        return
    report(res)


def report(res: dict[str, Any]) -> None:
    pe = {v: {k: med(x) for k, x in res["per_event"][v].items()} for v in ("base", "new")}
    rows = [("run-thread CPU per lifecycle event, through the bridge (µs)", "≤ 10",
             pe["base"]["bridge_us"], pe["new"]["bridge_us"], "{:.2f}"),
            ("  of which the publisher's enqueue (µs)", "—", pe["base"]["enqueue_us"],
             pe["new"]["enqueue_us"], "{:.2f}")]  # fmt: skip
    for ms in (0, 20):
        r = res[f"{ms} ms"]
        rows += [
            (f"whole process, per activity, {ms} ms latency (ms)", "≤ 0.25", r["base"]["per_activity_ms"],
             r["new"]["per_activity_ms"], "{:.3f}"),
            (f"fixed cost per run, {ms} ms latency (ms)", f"≤ {50 + 2 * ms}", r["base"]["fixed_ms"],
             r["new"]["fixed_ms"], "{:.0f}"),
            (f"50 x sleep 0.1, on ÷ off, {ms} ms latency", "≤ 1.03" if ms == 20 else "—",
             r["base"]["sleep50_ratio"], r["new"]["sleep50_ratio"], "{:.3f}"),
            (f"delivered by exit, {ms} ms latency (min over runs)", "100 %", r["base"]["delivered_min"] * 100,
             r["new"]["delivered_min"] * 100, "{:.0f} %"),
        ]  # fmt: skip
    print(f"| goal | target | base ({res['baseline']}) | new | new ÷ base |")
    print("| --- | --- | --- | --- | --- |")
    for name, goal, base, new, fmt in rows:
        ratio = f"{new / base:.2f}" if base else "—"
        print(f"| {name} | {goal} | {fmt.format(base)} | {fmt.format(new)} | {ratio} |")
    for ms in (0, 20):
        ir = {v: med(x) for v, x in res["in_run"][f"{ms} ms"].items()}
        print(f"| in-process run, per activity, {ms} ms latency (ms) | (≤ 0.25) | {ir['base']:.3f} | "
              f"{ir['new']:.3f} | {ir['new'] / ir['base']:.2f} |")  # fmt: skip
    req = res["requests"]
    print(f"| requests per run of 50 actions, 0 ms | 3-4 | {req['base']} | {req['new']} | — |")
    print()
    for ms in (0, 20):
        r = res[f"{ms} ms"]
        for v in ("base", "new"):
            print(f"{ms} ms {v}: per activity quartiles {r[v]['per_activity_quartiles']} ms, "
                  f"fixed quartiles {r[v]['fixed_quartiles_ms']} ms, {r[v]['runs']} runs")  # fmt: skip
        print(f"{ms} ms off: medians {r['off_median_s']} s, quartiles ÷ median - 1 {r['off_spread']}, "
              f"sleep50 {r['sleep50_off_s']} s; load {r['load']}")  # fmt: skip
    print("in-process run, per activity (ms, one figure per child):", json.dumps(res["in_run"]))
    print("per event (medians of rounds):", json.dumps({v: {k: [round(x, 2) for x in xs]
          for k, xs in res["per_event"][v].items()} for v in res["per_event"]}))  # fmt: skip


if __name__ == "__main__":
    main()
