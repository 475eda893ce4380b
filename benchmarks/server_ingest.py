"""Event-ingestion benchmark for chaosiq-server (bounded in count and time).

Starts `chaosiq-server serve` on a free loopback port as a separate process,
creates a token with `chaosiq-server init --json`, then drives load from this
process with a minimal asyncio HTTP/1.1 keep-alive client (httpx costs more CPU
per request than the server does, on a 2-core machine that would measure the
client). Phases:

1. single-event POSTs (CloudEvents structured mode) from --clients connections
2. batched POSTs to the events/batch extension
3. memory: keep posting batches until --memory-events are stored (or the time
   limit), then read the server's RSS (process tree)

Before/after in one run: `--baseline CHECKOUT` runs the server of another
checkout (a git worktree) with that checkout's own virtualenv
(`CHECKOUT/.venv/bin/python`, or `--baseline-python`), alternating with this
tree's server for `--rounds` rounds; the table gives each side's median and
the goals.

    uv run --all-packages python benchmarks/server_ingest.py --json
    git worktree add --detach /tmp/server-base <old-commit>
    (cd /tmp/server-base && source scripts/bootstrap.sh && chaosiq_sync 3.11 .venv)
    uv run --all-packages python benchmarks/server_ingest.py --baseline /tmp/server-base \
        --rounds 3 --memory-events 0 --single-seconds 10 --batch-seconds 10
    uv run --all-packages python benchmarks/server_ingest.py \
        --database-url postgresql+psycopg://chaosiq:chaosiq@127.0.0.1:5432/chaosiq_test_bench \
        --workers 2

Set-ups side by side (``--setups``): one process on SQLite, ``--workers 2`` on
PostgreSQL, and one then two replicas (``serve`` processes of one worker, each on
its own port) behind HAProxy on PostgreSQL, alternating round by round; every
event acknowledged must be stored (the run fails otherwise):

    uv run --all-packages python benchmarks/server_ingest.py --setups --rounds 3 \
        --postgres-url postgresql+psycopg://chaosiq:chaosiq@127.0.0.1:5432/chaosiq_test_bench \
        --memory-events 0 --single-seconds 10 --batch-seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from chaosiq_core.testing import reset_postgres


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Conn:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port, self.token = host, port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, body: bytes, ctype: str) -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {self.token}\r\nAccept: application/json\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        data = await self.reader.readexactly(length) if length else b""
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def cloud_event(i: int) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "chaosiq-cloud",
        "type": "activity-finished",
        "datacontenttype": "application/json",
        "time": "2024-01-01T10:00:00+00:00",
        "data": json.dumps(
            {"context": {"name": "probe", "i": i}, "state": {"status": "succeeded", "output": "x" * 64}}
        ),
    }


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100.0 * (len(s) - 1)))]


async def single_phase(
    host: str, port: int, token: str, path: str, clients: int, duration: float, max_requests: int
) -> dict[str, Any]:
    lat: list[float] = []
    errors = 0
    sent = 0
    deadline = time.perf_counter() + duration

    async def client(n: int) -> None:
        nonlocal errors, sent
        c = Conn(host, port, token)
        await c.open()
        try:
            i = 0
            while time.perf_counter() < deadline and sent < max_requests:
                sent += 1
                body = json.dumps(cloud_event(i)).encode()
                t0 = time.perf_counter()
                status, _ = await c.request("POST", path, body, "application/cloudevents+json")
                lat.append((time.perf_counter() - t0) * 1000)
                if status != 201:
                    errors += 1
                i += 1
        finally:
            c.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    elapsed = time.perf_counter() - t0
    return {
        "clients": clients,
        "requests": len(lat),
        "errors": errors,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(lat) / elapsed, 1),
        "p50_ms": round(pct(lat, 50), 2),
        "p99_ms": round(pct(lat, 99), 2),
        "max_ms": round(max(lat), 2) if lat else None,
        "mean_ms": round(statistics.fmean(lat), 2) if lat else None,
    }


async def batch_phase(
    host: str, port: int, token: str, path: str, clients: int, batch: int, duration: float, max_events: int
) -> dict[str, Any]:
    stored = 0
    errors = 0
    lat: list[float] = []
    deadline = time.perf_counter() + duration
    # Pre-build bodies so the generator's CPU goes to sending, not JSON.
    template = [cloud_event(i) for i in range(batch)]

    def body() -> bytes:
        for ev in template:
            ev["id"] = str(uuid.uuid4())
        return json.dumps(template).encode()

    async def client() -> None:
        nonlocal stored, errors
        c = Conn(host, port, token)
        await c.open()
        try:
            while time.perf_counter() < deadline and stored < max_events:
                b = body()
                t0 = time.perf_counter()
                status, data = await c.request("POST", path, b, "application/cloudevents-batch+json")
                lat.append((time.perf_counter() - t0) * 1000)
                if status == 200:
                    stored += json.loads(data)["stored"]
                else:
                    errors += 1
        finally:
            c.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - t0
    return {
        "clients": clients,
        "batch_size": batch,
        "batches": len(lat),
        "events_stored": stored,
        "errors": errors,
        "seconds": round(elapsed, 2),
        "events_per_s": round(stored / elapsed, 1),
        "batch_p50_ms": round(pct(lat, 50), 1),
        "batch_p99_ms": round(pct(lat, 99), 1),
    }


def rss_mb(pid: int) -> float:
    proc = psutil.Process(pid)
    total = proc.memory_info().rss
    for child in proc.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += child.memory_info().rss
    return round(total / 1024 / 1024, 1)


def wait_health(base: str, proc: subprocess.Popen[Any], deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/health", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("server not healthy in time")


def api(base: str, token: str, method: str, path: str, body: Any) -> tuple[int, Any]:
    req = urllib.request.Request(
        base + path,
        method=method,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, json.loads(r.read() or b"null")


@dataclass(frozen=True)
class Setup:
    """How the server runs: ``replicas`` ``serve`` processes of ``workers`` workers each
    on one database, behind HAProxy when ``proxy``."""

    name: str
    postgres: bool = False
    workers: int = 1
    replicas: int = 1
    proxy: bool = False


SETUPS = [
    Setup("SQLite, 1 process"),
    Setup("PostgreSQL, --workers 2", postgres=True, workers=2),
    Setup("PostgreSQL, 1 replica behind HAProxy", postgres=True, proxy=True),
    Setup("PostgreSQL, 2 replicas behind HAProxy", postgres=True, replicas=2, proxy=True),
]


def start_proxy(folder: Path, servers: list[str]) -> tuple[subprocess.Popen[Any], int]:
    """HAProxy in front of ``servers``, with the configuration the replica tests and
    docs/server.md use (server/tests/haproxy_helpers.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server" / "tests"))
    from haproxy_helpers import HAPROXY, haproxy_config

    port = free_port()
    cfg = folder / "haproxy.cfg"
    cfg.write_text(haproxy_config(f"127.0.0.1:{port}", servers))
    log = open(folder / "haproxy.log", "wb")  # noqa: SIM115 - the process keeps it
    return subprocess.Popen([HAPROXY, "-f", str(cfg), "-db"], stdout=log, stderr=log), port


def run_one(
    args: argparse.Namespace, label: str, python: str = sys.executable, setup: Setup | None = None
) -> dict[str, Any]:
    """One benchmark of the server that ``python`` imports (this tree's, or a baseline's),
    run as ``setup`` says (default: ``--workers`` processes on ``--database-url``)."""
    setup = setup or Setup(label, workers=args.workers)
    tmp = tempfile.TemporaryDirectory(prefix="chaosiq-bench-")
    url = (args.postgres_url if setup.postgres else None) or args.database_url
    url = url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    if url.startswith("postgresql"):
        reset_postgres(url)
    env = {**os.environ, "CHAOSIQ_SERVER_DATABASE_URL": url}
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    cli = [python, "-m", "chaosiq_server.cli"]
    init = subprocess.run(
        [*cli, "init", "--json", "--org", "bench", "--team", "bench"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(init.stdout)
    token = info["token"]
    logs, servers, ports = [], [], []
    for n in range(setup.replicas):
        ports.append(free_port())
        logs.append(open(Path(tmp.name) / f"server-{n}.log", "wb"))  # noqa: SIM115 - closed in finally
        servers.append(
            subprocess.Popen(
                [*cli, "serve", "--port", str(ports[-1]), "--workers", str(setup.workers)],
                env=env,
                stdout=logs[-1],
                stderr=subprocess.STDOUT,
            )
        )
    proxy = None
    results: dict[str, Any] = {
        "server": label,
        "setup": setup.name,
        "database": url.split(":", 1)[0],
        "workers": setup.workers,
        "replicas": setup.replicas,
        "proxy": setup.proxy,
        "cpus": os.cpu_count(),
        "loadavg_1m_before": round(os.getloadavg()[0], 2),
    }
    try:
        for server, port in zip(servers, ports, strict=True):
            wait_health(f"http://127.0.0.1:{port}", server)
        port = ports[0]
        if setup.proxy:
            proxy, port = start_proxy(Path(tmp.name), [f"127.0.0.1:{p}" for p in ports])
            wait_health(f"http://127.0.0.1:{port}", proxy)
        base = f"http://127.0.0.1:{port}"
        team = f"/api/v1/organizations/{info['organization']['id']}/teams/{info['team']['id']}"
        _, exp = api(
            base,
            token,
            "POST",
            team + "/experiments",
            {"experiment": {"title": f"bench {uuid.uuid4()}", "method": []}},
        )
        _, ex = api(
            base,
            token,
            "POST",
            f"{team}/experiments/{exp['id']}/executions",
            {"journal": {"status": "running"}},
        )
        events = f"{team}/experiments/{exp['id']}/executions/{ex['id']}/events"
        results["rss_mb_start"] = sum(rss_mb(s.pid) for s in servers)
        results["single"] = asyncio.run(
            single_phase("127.0.0.1", port, token, events, args.clients, args.single_seconds, args.single_max)
        )
        results["batch"] = asyncio.run(
            batch_phase(
                "127.0.0.1",
                port,
                token,
                events + "/batch",
                args.batch_clients,
                args.batch_size,
                args.batch_seconds,
                10_000_000,
            )
        )
        single = results["single"]
        stored = single["requests"] - single["errors"] + results["batch"]["events_stored"]
        if args.memory_events > stored:
            mem = asyncio.run(
                batch_phase(
                    "127.0.0.1",
                    port,
                    token,
                    events + "/batch",
                    args.batch_clients,
                    args.batch_size,
                    args.memory_seconds,
                    args.memory_events - stored,
                )
            )
            stored += mem["events_stored"]
            results["memory_fill"] = mem
        results["events_stored_total"] = stored
        # Reading the timeline must stay bounded too (paged, no full load).
        t0 = time.perf_counter()
        req = urllib.request.Request(
            base + events + "?limit=100", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            page = json.loads(r.read())
        results["timeline_page_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        results["timeline_total"] = page["total"]
        if results["timeline_total"] != stored:
            raise SystemExit(f"{setup.name}: {stored} events acknowledged, {page['total']} stored")
        results["rss_mb_end"] = sum(rss_mb(s.pid) for s in servers)
        results["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
    finally:
        for process in [*([proxy] if proxy else []), *servers]:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()
        tmp.cleanup()
    return results


SUMMARY = [
    ("single-event POSTs/s", ("single", "requests_per_s")),
    ("single p50 ms", ("single", "p50_ms")),
    ("single p99 ms", ("single", "p99_ms")),
    ("single errors", ("single", "errors")),
    ("batched events/s", ("batch", "events_per_s")),
    ("batch p99 ms", ("batch", "batch_p99_ms")),
    ("batch errors", ("batch", "errors")),
    ("events stored", ("events_stored_total",)),
    ("first timeline page ms", ("timeline_page_ms",)),
    ("RSS MB start", ("rss_mb_start",)),
    ("RSS MB end", ("rss_mb_end",)),
]
GOALS = [  # SQLite, one process, 50 clients
    ("single-event POSTs/s ≥ 3,000", ("single", "requests_per_s"), lambda v: v >= 3000),
    ("single p99 < 50 ms", ("single", "p99_ms"), lambda v: v < 50),
    ("batched events/s ≥ 20,000", ("batch", "events_per_s"), lambda v: v >= 20000),
]


def _get(result: dict[str, Any], keys: tuple[str, ...]) -> Any:
    value: Any = result
    for k in keys:
        value = value.get(k) if isinstance(value, dict) else None
    return value


def _median(runs: list[dict[str, Any]], keys: tuple[str, ...]) -> Any:
    values = [v for v in (_get(r, keys) for r in runs) if isinstance(v, (int, float))]
    return round(statistics.median(values), 2) if values else None


def side_by_side(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str:
    """Medians of each side's rounds, the ratio after ÷ before, every round's figure, the goals."""
    lines = [
        f"| measure | before ({before[0]['server']}) | after ({after[0]['server']}) | after ÷ before "
        "| rounds before | rounds after |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for label, keys in SUMMARY:
        b, a = _median(before, keys), _median(after, keys)
        ratio = f"{a / b:.2f}" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else ""
        rb = ", ".join(str(_get(r, keys)) for r in before)
        ra = ", ".join(str(_get(r, keys)) for r in after)
        lines.append(f"| {label} | {b} | {a} | {ratio} | {rb} | {ra} |")
    lines.append("")
    for label, keys, ok in GOALS:
        b, a = _median(before, keys), _median(after, keys)
        verdict = "met" if a is not None and ok(a) else "NOT met"
        lines.append(f"goal {label}: before {b}, after {a}: {verdict}")
    return "\n".join(lines)


def setups_table(runs: dict[str, list[dict[str, Any]]]) -> str:
    """Each setup's medians over its rounds, its ratio to the first setup, the goals."""
    names = list(runs)
    first = runs[names[0]]
    lines = [
        "| setup | POSTs/s | p50 ms | p99 ms | batched events/s | errors | POSTs/s ÷ first "
        "| batched ÷ first | goals | rounds (POSTs/s; batched/s) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in names:
        rs = runs[name]
        single, p50, p99 = (_median(rs, ("single", k)) for k in ("requests_per_s", "p50_ms", "p99_ms"))
        batched = _median(rs, ("batch", "events_per_s"))
        errors = sum((_get(r, ("single", "errors")) or 0) + (_get(r, ("batch", "errors")) or 0) for r in rs)
        s0, b0 = _median(first, ("single", "requests_per_s")), _median(first, ("batch", "events_per_s"))
        met = [ok(_median(rs, keys)) for _, keys, ok in GOALS]
        rounds = "; ".join(
            f"{_get(r, ('single', 'requests_per_s'))}, {_get(r, ('batch', 'events_per_s'))}" for r in rs
        )
        lines.append(
            f"| {name} | {single:,.0f} | {p50} | {p99} | {batched:,.0f} | {errors} | {single / s0:.2f} "
            f"| {batched / b0:.2f} | {'met' if all(met) else 'NOT met'} | {rounds} |"
        )
    loads = [r["loadavg_1m_before"] for rs in runs.values() for r in rs]
    lines.append("")
    lines.append(f"1-minute load average before each round: {min(loads)} to {max(loads)}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--single-seconds", type=float, default=15)
    ap.add_argument("--single-max", type=int, default=100_000)
    ap.add_argument("--batch-clients", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--batch-seconds", type=float, default=15)
    ap.add_argument(
        "--memory-events",
        type=int,
        default=1_000_000,
        help="total stored events to reach before reading RSS (0: skip)",
    )
    ap.add_argument("--memory-seconds", type=float, default=240)
    ap.add_argument(
        "--baseline",
        metavar="CHECKOUT",
        default=None,
        help="another checkout of the repository (e.g. a git worktree of an older commit): "
        "run its server too, alternating with this one, and print both side by side",
    )
    ap.add_argument(
        "--baseline-python",
        default=None,
        help="the interpreter that imports the baseline's server (default: CHECKOUT/.venv/bin/python)",
    )
    ap.add_argument("--rounds", type=int, default=1, help="with --baseline: rounds of before, after")
    ap.add_argument("--json", action="store_true", help="print results as JSON")
    ap.add_argument(
        "--setups",
        action="store_true",
        help="side by side, alternating round by round: "
        + "; ".join(s.name for s in SETUPS)
        + " (needs --postgres-url and haproxy)",
    )
    ap.add_argument(
        "--postgres-url",
        default=None,
        help="with --setups: the PostgreSQL database the PostgreSQL setups use (emptied first)",
    )
    args = ap.parse_args()

    if args.setups:
        if not args.postgres_url:
            raise SystemExit("--setups needs --postgres-url postgresql+psycopg://…")
        runs: dict[str, list[dict[str, Any]]] = {s.name: [] for s in SETUPS}
        for n in range(args.rounds):
            # the machine's load drifts: each round runs the setups in another order
            for setup in SETUPS[n % len(SETUPS) :] + SETUPS[: n % len(SETUPS)]:
                result = run_one(args, "this tree", setup=setup)
                runs[setup.name].append(result)
                print(
                    f"round {n + 1} {setup.name}: {result['single']['requests_per_s']} POSTs/s, "
                    f"p99 {result['single']['p99_ms']} ms, {result['batch']['events_per_s']} batched/s",
                    file=sys.stderr,
                    flush=True,
                )
        if args.json:
            print(json.dumps(runs, indent=2))
        print(setups_table(runs))
        return

    if args.baseline:
        python = args.baseline_python or str(Path(args.baseline) / ".venv" / "bin" / "python")
        if not Path(python).exists():
            raise SystemExit(
                f"no interpreter at {python}: make the baseline's venv or pass --baseline-python"
            )
        here = str(Path(__file__).resolve().parent.parent)
        before: list[dict[str, Any]] = []
        after: list[dict[str, Any]] = []
        for n in range(args.rounds):
            # alternate which goes first: the machine's load drifts
            order = [("before", args.baseline, python), ("after", here, sys.executable)]
            for side, label, interpreter in order if n % 2 == 0 else order[::-1]:
                (before if side == "before" else after).append(run_one(args, label, interpreter))
        if args.json:
            print(json.dumps({"before": before, "after": after}, indent=2))
        print(side_by_side(before, after))
        return
    results = run_one(args, "this tree")
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for k, v in results.items():
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
