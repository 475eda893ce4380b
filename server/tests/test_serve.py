"""The real `chaosiq-server serve` process: readiness, probe, logs, kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from pathlib import Path

import httpx
import pytest
from server_helpers import CE_HEADERS, cloud_event, experiment, journal, seed, start_server, stop_server


def test_serve_probe_logs_and_delay(sqlite_url: str, tmp_path: Path):
    a, _ = seed(sqlite_url)
    log = tmp_path / "server.log"
    served = start_server(sqlite_url, log, "--log-format", "json", "--response-delay-ms", "30")
    try:
        with httpx.Client(base_url=served.base, timeout=10) as c:
            assert c.head("/").status_code == 401
            assert c.head("/", headers=a.headers).status_code == 200
            r = c.get("/api/v1/openapi.json")
            assert r.status_code == 200 and "/api/v1/capabilities" in r.text
            r = c.get("/api/v1/organizations", headers=a.headers)
            assert r.status_code == 200
            assert r.elapsed.total_seconds() >= 0.03
    finally:
        stop_server(served)
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
    access = [x for x in lines if x.get("logger") == "chaosiq_server.access"]
    assert any(x["path"] == "/api/v1/organizations" and x["status"] == 200 for x in access)
    assert all({"method", "path", "status", "ms"} <= set(x) for x in access)
    # uvicorn re-raises SIGTERM after its graceful shutdown (no atexit): the
    # buffered lines must have been written before that, up to the last one.
    assert lines[-1]["message"].startswith("Finished server process")
    assert a.token not in log.read_text()


def test_kill_9_loses_no_acknowledged_event(db_url: str, tmp_path: Path):
    """Post events from 4 threads, SIGKILL the server mid-flight, restart:
    every event that got a 2xx before the kill is stored."""
    a, _ = seed(db_url)
    log = tmp_path / "server.log"
    served = start_server(db_url, log)
    port = served.base.rsplit(":", 1)[1]
    with httpx.Client(base_url=served.base, headers=a.headers, timeout=10) as c:
        eid = c.post(f"{a.base}/experiments", json={"experiment": experiment()}).json()["id"]
        xid = c.post(f"{a.base}/experiments/{eid}/executions", json={"journal": journal({})}).json()["id"]
    x = f"{a.base}/experiments/{eid}/executions/{xid}"
    acked: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()
    stop = threading.Event()

    def worker(n: int) -> None:
        with httpx.Client(base_url=served.base, headers={**a.headers, **CE_HEADERS}, timeout=5) as c:
            for i in range(100_000):
                if stop.is_set():
                    return
                ev = cloud_event("activity-finished", payload={"i": i}, event_id=f"w{n}-{i}")
                try:
                    r = c.post(f"{x}/events", content=json.dumps(ev))
                except httpx.HTTPError:
                    return
                if 200 <= r.status_code < 300:
                    with lock:
                        acked.append(ev["id"])
                        if len(acked) >= 400:
                            enough.set()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    assert enough.wait(60), "server did not acknowledge events"
    os.kill(served.proc.pid, signal.SIGKILL)
    served.proc.wait()
    stop.set()
    for t in threads:
        t.join(30)
    with lock:
        acknowledged = set(acked)
    assert len(acknowledged) >= 400

    served = start_server(db_url, log, port=int(port))
    try:
        stored: set[str] = set()
        with httpx.Client(base_url=served.base, headers=a.headers, timeout=10) as c:
            cursor = None
            while True:
                params = {"limit": 1000} | ({"cursor": cursor} if cursor else {})
                page = c.get(f"{x}/events", params=params).json()
                stored.update(i["id"] for i in page["items"])
                cursor = page["next_cursor"]
                if not cursor:
                    break
        missing = acknowledged - stored
        assert not missing, f"{len(missing)} acknowledged events lost"
    finally:
        stop_server(served)


@pytest.mark.parametrize("workers", [2])
def test_serve_with_workers(db_url: str, tmp_path: Path, workers: int):
    if db_url.startswith("sqlite"):
        pytest.skip("several workers are for PostgreSQL (SQLite works but is not the target)")
    a, _ = seed(db_url)
    served = start_server(db_url, tmp_path / "s.log", "--workers", str(workers))
    try:
        with httpx.Client(base_url=served.base, headers=a.headers, timeout=10) as c:
            for _ in range(10):
                assert c.get("/api/v1/organizations").status_code == 200
    finally:
        stop_server(served)


def test_serve_bad_database_url_is_one_line(tmp_path: Path):
    from server_helpers import server_cmd

    r = subprocess.run(
        [*server_cmd(), "serve", "--database-url", "nope://x"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("Error:")
