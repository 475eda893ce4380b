"""Benchmarks of the publisher (issue 5 "Measure"); figures go to RESULTS.md (chaosiq-publisher).

Run: ``uv run --all-packages python benchmarks/publish_bench.py [--reps N] [--bytecode cached|none] [--json]``

Every figure is side by side with the extension off, in the same run, runs
alternating pair by pair (off-on, on-off, ...; the core-only run after each pair):
figures are medians, and the added cost is also given as the median of the
pair differences (on - off of the same pair), which cancels slow drifts of the
machine's load. ``--bytecode cached`` (default) lets every ``chaos`` process keep
compiled bytecode in a temporary ``PYTHONPYCACHEPREFIX``, as an installed
package does; ``none`` sets ``PYTHONDONTWRITEBYTECODE=1`` (this workspace's
environment: every process compiles every module from source). The 1-minute
load average is printed before and after each series. The chaosiq-server's CPU
time (user + system, from ``/proc``) during each *on* run is reported
separately: on this 2-core machine it competes with ``chaos run`` for the CPUs.
*Off* is plain Chaos Toolkit (a settings file without the
chaosiq control); *on* is ``chaos signin`` settings with the ``publish`` feature
(safeguards and verification not loaded); *core only* is the same settings
with ``publish`` not loaded either, to separate the publisher's own cost from
the core's (control bridge, plugin manager, teams).
Two real chaosiq-servers: one answering at once, one with
``--response-delay-ms 20``.

1. Cost per activity: slope of (on - off) wall time between 50 and 200 no-op actions;
   each rep runs every size (0, 50, 200) and gives its own slope, the figure is
   their median (with quartiles); the slope of the medians is printed too.
2. Fixed cost per run: (on - off) at 0 actions (incl. imports and the final flush).
3. Wall time of 50 ``sleep 0.1`` actions, on / off.
4. Run-thread time per lifecycle event: in-process, the control bridge's
   ``before/after_activity_control`` (bridge + pluggy + enqueue) and the
   publisher's ``enqueue`` alone; median.
5. Events delivered by the end of the run (server count right after exit ÷ expected).
6. Requests (server access log) and TCP connections (a counting TCP relay) per run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from chaosiq_core.testing import ServerProcess, Team, executable, run_chaos, start_server

OTHERS = "safeguards,verification"


# ------------------------------------------------------------------ set-up


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


class CountingRelay:
    """A TCP relay that counts the connections opened through it."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.connections = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


# -------------------------------------------------------------------- runs


BYTECODE_ENV: dict[str, str] = {}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def chaos_run(settings: Path, exp: Path, env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    journal = exp.with_suffix(".journal.json")
    cmd = [executable("chaos"), "--no-version-check", "--settings", str(settings), "run",
           "--journal-path", str(journal), str(exp)]  # fmt: skip
    t = time.perf_counter()
    full_env = {**os.environ, **BYTECODE_ENV, **env}
    r = subprocess.run(cmd, env=full_env, capture_output=True, text=True, cwd=exp.parent)
    wall = time.perf_counter() - t
    assert r.returncode == 0, r.stderr[-2000:]
    return wall, json.loads(journal.read_text())


def team_events(team: Team, journal: dict[str, Any]) -> int:
    ext = next(e for e in journal["extensions"] if e["name"] == "chaosiq")
    path = f"/experiments/{ext['experiment_id']}/executions/{ext['execution_id']}/events?limit=1"
    return int(team.api("GET", path).json()["total"])


class Bench:
    def __init__(self, server: ServerProcess, tmp: Path, label: str) -> None:
        self.server, self.label = server, label
        self.team = server.new_team()
        self.home = tmp / f"home-{label}"
        self.settings = sign_in(self.home, server.url, self.team)
        self.data = tmp / f"data-{label}"
        self.off_settings = tmp / "off.yaml"
        self.off_settings.write_text("{}\n")
        self.env_on = {
            "HOME": str(self.home),
            "CHAOSIQ_DATA_DIR": str(self.data),
            "CHAOSIQ_DISABLE_PLUGINS": OTHERS,
        }
        self.env_off = {"HOME": str(self.home)}
        # the chaosiq control and core loaded, the publisher not: isolates the publisher's own cost
        self.env_core = {**self.env_on, "CHAOSIQ_DISABLE_PLUGINS": f"publish,{OTHERS}"}
        self.delivered: list[float] = []

    def _run(self, which: str, exp: Path, n: int) -> tuple[float, float, float]:
        """One run: (wall, journal duration, server CPU seconds during the run)."""
        settings = self.off_settings if which == "off" else self.settings
        env = {"off": self.env_off, "core": self.env_core, "on": self.env_on}[which]
        cpu0 = cpu_seconds(self.server.proc.pid)
        wall, journal = chaos_run(settings, exp, env)
        cpu = cpu_seconds(self.server.proc.pid) - cpu0
        if which == "on":
            got = team_events(self.team, journal)  # right after the process exited
            self.delivered.append(got / expected_events(n))
            pending = list((self.data / "outbox").glob("*.jsonl")) if (self.data / "outbox").exists() else []
            assert not pending, f"outbox not empty after a run: {pending}"
        return wall, journal["duration"], cpu

    def series(self, exps: dict[int, Path], reps: int) -> dict[int, dict[str, Any]]:
        """Every size in every rep, sizes and off/on order alternating from rep to rep.

        A slope then compares runs made seconds apart: when the 50 and the 200
        series ran one after the other, a change of the machine's load between
        the two moved the slope by more than the cost being measured.
        """
        keys = ("off", "core", "on")
        walls = {n: {k: [] for k in keys} for n in exps}
        dur = {n: {k: [] for k in keys} for n in exps}
        server_cpu: dict[int, list[float]] = {n: [] for n in exps}
        loads = [os.getloadavg()[0]]
        for n, exp in exps.items():  # warm-up: bytecode, page cache, server
            for which in ("off", "on", "core"):
                self._run(which, exp, n)
        sizes = list(exps)
        for i in range(reps):
            order = ("off", "on", "core") if i % 2 == 0 else ("on", "off", "core")
            for n in sizes if i % 2 == 0 else sizes[::-1]:
                for which in order:
                    wall, d, cpu = self._run(which, exps[n], n)
                    walls[n][which].append(wall)
                    dur[n][which].append(d)
                    if which == "on":
                        server_cpu[n].append(cpu)
        loads.append(os.getloadavg()[0])
        out: dict[int, dict[str, Any]] = {}
        for n in exps:
            w, j = walls[n], dur[n]
            out[n] = {
                **{k: statistics.median(v) for k, v in w.items()},
                "off_min": min(w["off"]),
                "core_min": min(w["core"]),
                "on_min": min(w["on"]),
                "pair_diff": statistics.median([a - b for a, b in zip(w["on"], w["off"], strict=True)]),
                "duration": {k: statistics.median(v) for k, v in j.items()},
                "duration_pair_diff": statistics.median(
                    [a - b for a, b in zip(j["on"], j["off"], strict=True)]
                ),
                "server_cpu_ms": statistics.median(server_cpu[n]) * 1000,
                "load": [round(x, 2) for x in loads],
                "off_all": w["off"],
                "core_all": w["core"],
                "on_all": w["on"],
                "duration_on_all": j["on"],
                "duration_off_all": j["off"],
            }
        return out

    def pair(self, exp: Path, n: int, reps: int) -> dict[str, Any]:
        return self.series({n: exp}, reps)[n]


def rep_slopes(big: dict[str, Any], small: dict[str, Any], span: int, on: str, off: str) -> list[float]:
    """Per rep: ((on - off) at the big size - (on - off) at the small size) / span, in ms."""
    pairs = zip(big[on], big[off], small[on], small[off], strict=True)
    return [((a - b) - (c - d)) / span * 1000 for a, b, c, d in pairs]


def per_event_cost(settings: Path, data: Path, reps: int = 3000) -> dict[str, float]:
    """Median run-thread time per lifecycle call, in-process (µs)."""
    os.environ["CHAOSIQ_DATA_DIR"] = str(data)
    os.environ["CHAOSIQ_DISABLE_PLUGINS"] = OTHERS
    from chaosiq_publisher import events as ev

    from chaosiq_core import control
    from chaosiq_core import settings as s

    cfg = s.load(settings)
    exp = json.loads(experiment(data.parent / "inproc.json", 1).read_text())
    control.reset()
    control.configure_control(experiment=exp, settings=cfg)
    run = control.current_run()
    assert run is not None and "publish" in run.data
    act = exp["method"][0]
    state = {"activity": act, "status": "succeeded", "output": True, "duration": 0.0001}
    bridge, enqueue = [], []
    for _ in range(reps):
        t = time.perf_counter()
        control.before_activity_control(context=act)
        t1 = time.perf_counter()
        control.after_activity_control(context=act, state=state)
        t2 = time.perf_counter()
        bridge += [t1 - t, t2 - t1]
    pub = run.data["publish"]
    for _ in range(reps):
        t = time.perf_counter()
        pub.enqueue(ev.ACTIVITY_FINISHED, act, state)
        enqueue.append(time.perf_counter() - t)
    t = time.perf_counter()
    pub.finish({"status": "completed"})
    flush = time.perf_counter() - t
    return {
        "bridge_median_us": statistics.median(bridge) * 1e6,
        "bridge_p99_us": sorted(bridge)[int(len(bridge) * 0.99)] * 1e6,
        "enqueue_median_us": statistics.median(enqueue) * 1e6,
        "enqueue_p99_us": sorted(enqueue)[int(len(enqueue) * 0.99)] * 1e6,
        "events": 3 * reps,
        "final_flush_s": flush,
        "delivered": pub.sender.delivered,
    }


def requests_and_connections(server: ServerProcess, tmp: Path, n: int) -> dict[str, int]:
    relay = CountingRelay(server.port)
    team = server.new_team()
    home = tmp / "home-count"
    settings = sign_in(home, relay.url, team)
    exp = experiment(tmp / f"count-{n}.json", n)
    log = Path(server.log_path or "")
    before = log.read_text().count(team.org_id)
    relay.connections = 0
    env = {"HOME": str(home), "CHAOSIQ_DATA_DIR": str(tmp / "data-count"), "CHAOSIQ_DISABLE_PLUGINS": OTHERS}
    chaos_run(settings, exp, env)
    time.sleep(0.2)  # let the server write its last access-log line
    return {"activities": n + 3, "requests": log.read_text().count(team.org_id) - before,
            "connections": relay.connections}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=15, help="repetitions of the no-op runs")
    ap.add_argument("--sleep-reps", type=int, default=5, help="repetitions of the 50 x sleep 0.1 run")
    ap.add_argument("--no-sleep", action="store_true", help="skip the 50 x sleep 0.1 runs")
    ap.add_argument("--bytecode", choices=("cached", "none"), default="cached")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="publish-bench-"))
    if args.bytecode == "cached":  # as an installed package: compiled once, then read from the cache
        BYTECODE_ENV.update(PYTHONDONTWRITEBYTECODE="", PYTHONPYCACHEPREFIX=str(tmp / "pycache"))
    else:
        BYTECODE_ENV.update(PYTHONDONTWRITEBYTECODE="1")
    load0 = os.getloadavg()[0]
    servers = {
        "0 ms": start_server(tmp / "srv-fast"),
        "20 ms": start_server(tmp / "srv-slow", "--response-delay-ms", "20"),
    }
    results: dict[str, Any] = {"reps": args.reps, "sleep_reps": args.sleep_reps, "bytecode": args.bytecode}
    try:
        for label, server in servers.items():
            b = Bench(server, tmp, label.replace(" ", ""))
            r: dict[str, Any] = {}
            noops = b.series({n: experiment(tmp / f"noop-{n}.json", n) for n in (0, 50, 200)}, args.reps)
            for n, x in noops.items():
                r[f"noop{n}"] = x
            slopes = rep_slopes(noops[200], noops[50], 150, "on_all", "off_all")
            r["rep_per_activity_ms"] = statistics.median(slopes)
            r["rep_per_activity_iqr_ms"] = [round(q, 3) for q in statistics.quantiles(slopes, n=4)[::2]]
            in_run = rep_slopes(noops[200], noops[50], 150, "duration_on_all", "duration_off_all")
            r["rep_in_run_per_activity_ms"] = statistics.median(in_run)
            r["rep_fixed_ms"] = statistics.median(
                [(a - b) * 1000 for a, b in zip(noops[0]["on_all"], noops[0]["off_all"], strict=True)]
            )
            if not args.no_sleep:
                r["sleep50"] = b.pair(experiment(tmp / "sleep-50.json", 50, sleep=True), 50, args.sleep_reps)
                r["sleep_ratio"] = r["sleep50"]["on"] / r["sleep50"]["off"]
            d = {n: r[f"noop{n}"]["on"] - r[f"noop{n}"]["off"] for n in (0, 50, 200)}
            r["per_activity_ms"] = (d[200] - d[50]) / 150 * 1000
            r["fixed_ms"] = d[0] * 1000
            c = {n: r[f"noop{n}"]["on"] - r[f"noop{n}"]["core"] for n in (0, 50, 200)}
            r["publisher_per_activity_ms"] = (c[200] - c[50]) / 150 * 1000
            r["publisher_fixed_ms"] = c[0] * 1000
            m = {n: r[f"noop{n}"]["on_min"] - r[f"noop{n}"]["off_min"] for n in (0, 50, 200)}
            r["per_activity_ms_min"] = (m[200] - m[50]) / 150 * 1000
            r["fixed_ms_min"] = m[0] * 1000
            # inside the experiment (journal duration): the run thread's own slowdown
            j = {n: r[f"noop{n}"]["duration"]["on"] - r[f"noop{n}"]["duration"]["off"] for n in (50, 200)}
            r["in_run_per_activity_ms"] = (j[200] - j[50]) / 150 * 1000
            p = {n: r[f"noop{n}"]["pair_diff"] for n in (0, 50, 200)}
            r["pair_per_activity_ms"] = (p[200] - p[50]) / 150 * 1000
            r["pair_fixed_ms"] = p[0] * 1000
            sc = {n: r[f"noop{n}"]["server_cpu_ms"] for n in (0, 50, 200)}
            r["server_cpu_per_activity_ms"] = (sc[200] - sc[50]) / 150
            r["server_cpu_fixed_ms"] = sc[0]
            r["delivered_min"] = min(b.delivered)
            results[label] = r
            print(f"[{label}] done: {json.dumps({k: v for k, v in r.items() if not isinstance(v, dict)})}",
                  file=sys.stderr)  # fmt: skip
        results["per_event"] = per_event_cost(
            Bench(servers["0 ms"], tmp, "inproc").settings, tmp / "data-inproc"
        )
        results["count"] = requests_and_connections(servers["0 ms"], tmp, 50)
    finally:
        for s in servers.values():
            s.stop()
    results["load_avg_1min"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for label in ("0 ms", "20 ms"):
        r = results[label]
        print(f"\n## server latency {label}")
        print(
            "| experiment | off (s) | core only (s) | on (s) | on - off (ms) | pair diff (ms) "
            "| on - core (ms) | in-run on - off (ms) | server CPU (ms) | load |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for key in ("noop0", "noop50", "noop200", "sleep50"):
            if key not in r:
                continue
            x = r[key]
            dd = x["duration"]
            print(f"| {key} | {x['off']:.3f} | {x['core']:.3f} | {x['on']:.3f} | "
                  f"{(x['on'] - x['off']) * 1000:.0f} | {x['pair_diff'] * 1000:.0f} | "
                  f"{(x['on'] - x['core']) * 1000:.0f} | {(dd['on'] - dd['off']) * 1000:.1f} | "
                  f"{x['server_cpu_ms']:.0f} | {x['load']} |")  # fmt: skip
        print(
            f"per activity, median of the reps' own slopes: {r['rep_per_activity_ms']:.3f} ms "
            f"(quartiles {r['rep_per_activity_iqr_ms']}); in-run {r['rep_in_run_per_activity_ms']:.3f} ms; "
            f"fixed {r['rep_fixed_ms']:.0f} ms"
        )
        print(
            f"median of pair differences: per activity {r['pair_per_activity_ms']:.3f} ms; "
            f"fixed {r['pair_fixed_ms']:.0f} ms"
        )
        print(
            f"server CPU during an on run: per activity {r['server_cpu_per_activity_ms']:.3f} ms; "
            f"at 0 actions {r['server_cpu_fixed_ms']:.0f} ms"
        )
        print(
            f"minimum of the reps: per activity {r['per_activity_ms_min']:.3f} ms; "
            f"fixed {r['fixed_ms_min']:.0f} ms; in-run per activity {r['in_run_per_activity_ms']:.3f} ms"
        )
        print(f"publisher alone: per activity {r['publisher_per_activity_ms']:.3f} ms; "
              f"fixed {r['publisher_fixed_ms']:.0f} ms")  # fmt: skip
        print(f"per activity: {r['per_activity_ms']:.3f} ms; fixed: {r['fixed_ms']:.0f} ms; "
              f"sleep50 ratio {r.get('sleep_ratio', float('nan')):.3f}; "
              f"delivered by the end (min) {r['delivered_min']:.0%}")  # fmt: skip
    print("\nper event:", json.dumps(results["per_event"]))
    print("requests/connections:", json.dumps(results["count"]))
    print("load:", results["load_avg_1min"], "bytecode:", args.bytecode)


if __name__ == "__main__":
    main()
