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
from pathlib import Path
from typing import Any

import psutil


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


def reset_postgres(url: str) -> None:
    """Empty a PostgreSQL benchmark database (each run starts from init)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def run_one(args: argparse.Namespace, label: str, python: str = sys.executable) -> dict[str, Any]:
    """One benchmark of the server that ``python`` imports (this tree's, or a baseline's)."""
    tmp = tempfile.TemporaryDirectory(prefix="chaosiq-bench-")
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
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
    port = free_port()
    log = open(Path(tmp.name) / "server.log", "wb")  # noqa: SIM115 - closed in finally
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port), "--workers", str(args.workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {
        "server": label,
        "database": url.split(":", 1)[0],
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "loadavg_1m_before": round(os.getloadavg()[0], 2),
    }
    try:
        wait_health(base, server)
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
        results["rss_mb_start"] = rss_mb(server.pid)
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
        stored = results["single"]["requests"] + results["batch"]["events_stored"]
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
        results["rss_mb_end"] = rss_mb(server.pid)
        results["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
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
    args = ap.parse_args()

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
