"""`chaosiq-server prune`: old finished executions go with their events, in short
transactions; running, recent and other teams' executions stay."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from chaosiq_server.db import Database
from chaosiq_server.store import Store
from server_helpers import (
    CE_HEADERS,
    cloud_event,
    experiment,
    journal,
    seed,
    server_cmd,
    start_server,
    stop_server,
)
from sqlalchemy import create_engine, event, text

URLS: dict[str, str] = {}  # execution id -> its API path


def _run(c: Any, tenant: Any, status: str, events: int) -> str:
    eid = c.post(
        f"{tenant.base}/experiments",
        json={"experiment": experiment(f"run {uuid.uuid4()}")},
        headers=tenant.headers,
    ).json()["id"]
    r = c.post(
        f"{tenant.base}/experiments/{eid}/executions", json={"journal": journal({})}, headers=tenant.headers
    )
    xid = r.json()["id"]
    x = URLS[xid] = f"{tenant.base}/experiments/{eid}/executions/{xid}"
    for start in range(0, events, 1000):
        batch = [
            cloud_event("activity-finished", payload={"i": i})
            for i in range(start, min(events, start + 1000))
        ]
        assert c.post(f"{x}/events/batch", json=batch, headers=tenant.headers).status_code == 200
    c.post(f"{x}/policies", json={"name": "p", "allowed": True}, headers=tenant.headers)
    if status != "running":
        assert (
            c.put(x, json={"journal": journal({}, status=status)}, headers=tenant.headers).status_code < 300
        )
    return xid


def _age(url: str, xids: list[str], days: int) -> None:
    when = (datetime.now(timezone.utc) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    engine = create_engine(url)
    with engine.begin() as conn:
        for xid in xids:
            conn.execute(text("UPDATE executions SET updated_at = :w WHERE id = :x"), {"w": when, "x": xid})
    engine.dispose()


def _count(url: str, sql: str, **params: Any) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(text(sql), params).scalar_one()
    engine.dispose()
    return n


def _prune(url: str, *args: str) -> dict[str, Any]:
    r = subprocess.run(
        [*server_cmd(), "prune", *args, "--json", "--database-url", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_prune_deletes_old_finished_executions_only(env: Any) -> None:
    c, a, b = env.client, env.a, env.b
    old = _run(c, a, "completed", 30)
    old_failed = _run(c, a, "failed", 5)
    old_running = _run(c, a, "running", 5)
    verified = c.post(
        f"{a.base}/verifications/v-old/runs",
        json={"status": "completed", "experiment_id": URLS[old].split("/")[-3], "execution_id": old},
        headers=a.headers,
    )
    assert verified.status_code == 201, verified.text
    recent = _run(c, a, "completed", 5)
    other_team = _run(c, b, "completed", 5)
    _age(env.url, [old, old_failed, old_running, other_team], days=100)

    dry = _prune(env.url, "--older-than", "90d", "--team", "team-alpha", "--dry-run")
    assert (dry["executions"], dry["events"], dry["dry_run"]) == (2, 35, True)
    assert _count(env.url, "SELECT COUNT(*) FROM events") == 50

    done = _prune(env.url, "--older-than", "90d", "--team", "team-alpha")
    assert (done["executions"], done["events"]) == (2, 35)
    for xid in (old, old_failed):
        assert _count(env.url, "SELECT COUNT(*) FROM events WHERE execution_id = :x", x=xid) == 0
        assert _count(env.url, "SELECT COUNT(*) FROM policies WHERE execution_id = :x", x=xid) == 0
        assert c.get(f"{a.base}/executions/{xid}", headers=a.headers).status_code == 404
    # the verification run that ran as `old` stays, without a link to a page that is gone
    run = c.get(f"{a.base}/verifications/v-old/runs/{verified.json()['id']}", headers=a.headers).json()
    assert run["execution_id"] is None and run["status"] == "completed"
    # This server's cache still knew them: a late event is a 404, not a 500.
    late = c.post(
        URLS[old] + "/events",
        content=json.dumps(cloud_event("late")),
        headers={**a.headers, **CE_HEADERS},
    )
    assert late.status_code == 404, late.text
    for tenant, xid in ((a, old_running), (a, recent), (b, other_team)):
        assert c.get(f"{tenant.base}/executions/{xid}", headers=tenant.headers).status_code == 200
    assert _count(env.url, "SELECT COUNT(*) FROM events") == 15

    assert _prune(env.url, "--older-than", "90d")["executions"] == 1  # team b's, now
    assert _prune(env.url, "--older-than", "90d")["executions"] == 0


def test_prune_bad_age_is_refused(sqlite_url: str) -> None:
    seed(sqlite_url)
    r = subprocess.run(
        [*server_cmd(), "prune", "--older-than", "ninety", "--database-url", sqlite_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0 and "Traceback" not in r.stderr and "not an age such as 90d" in r.stderr


def test_prune_deletes_in_short_transactions(lite: Any) -> None:
    xid = _run(lite.client, lite.a, "completed", 1000)
    db = Database(lite.url, pool_size=1)
    commits: list[float] = []
    event.listen(db.engine, "commit", lambda _conn: commits.append(time.perf_counter()))
    assert Store(db).retention.delete(xid, batch=100) == 1000
    db.dispose()
    assert len(commits) >= 11  # ten batches of events, then the execution


def test_prune_while_a_server_ingests(sqlite_url: str, tmp_path: Path) -> None:
    """Ingestion keeps going, every event acknowledged, while prune deletes 20,000 events."""
    a, _ = seed(sqlite_url)
    served = start_server(sqlite_url, tmp_path / "server.log")
    try:
        with httpx.Client(base_url=served.base, headers=a.headers, timeout=60) as c:
            old = _run(c, a, "completed", 20_000)
            live = _run(c, a, "running", 0)
            live_x = next(x for x in c.get(f"{a.base}/executions").json()["items"] if x["id"] == live)
        _age(sqlite_url, [old], days=100)
        x = f"{a.base}/experiments/{live_x['experiment_id']}/executions/{live}"
        done = threading.Event()
        answers: list[tuple[int, float]] = []

        def ingest() -> None:
            with httpx.Client(base_url=served.base, headers={**a.headers, **CE_HEADERS}, timeout=60) as c:
                while not done.is_set():
                    start = time.perf_counter()
                    r = c.post(f"{x}/events", content=json.dumps(cloud_event("e")))
                    answers.append((r.status_code, time.perf_counter() - start))

        thread = threading.Thread(target=ingest)
        thread.start()
        try:
            result = _prune(sqlite_url, "--older-than", "90d")
        finally:
            done.set()
            thread.join()
        assert (result["executions"], result["events"]) == (1, 20_000)
        assert answers and all(status == 201 for status, _ in answers)
        with httpx.Client(base_url=served.base, headers=a.headers, timeout=60) as c:
            page = c.get(f"{x}/events", params={"limit": 1}).json()
        assert page["total"] == len(answers)
    finally:
        stop_server(served)


def test_prune_deletes_a_run_that_was_paused(env: Any) -> None:
    """A run paused and resumed keeps its pause in the database: prune deletes it too."""
    c, a = env.client, env.a
    xid = _run(c, a, "running", 3)
    r = c.post(f"{a.base}/executions/{xid}/pause", json={"reason": "look"}, headers=a.headers)
    assert r.status_code == 201, r.text
    assert c.post(f"{a.base}/executions/{xid}/resume", headers=a.headers).status_code < 300
    done = journal({}, status="completed")
    assert c.put(URLS[xid], json={"journal": done}, headers=a.headers).status_code < 300
    _age(env.url, [xid], days=100)
    assert _count(env.url, "SELECT COUNT(*) FROM execution_pauses WHERE execution_id = :x", x=xid) == 1
    assert (_prune(env.url, "--older-than", "90d")["executions"]) == 1
    assert _count(env.url, "SELECT COUNT(*) FROM execution_pauses WHERE execution_id = :x", x=xid) == 0
    assert c.get(f"{a.base}/executions/{xid}", headers=a.headers).status_code == 404
