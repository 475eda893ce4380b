"""Server time of the history pages with 100,000 executions, on SQLite and PostgreSQL.

Seeds (bulk insert, through the schema of the migrations) one team with
``--experiments`` experiments (tagged), ``--executions`` executions spread over
the last year with journals like a ``chaos run`` of 3 activities (passed, failed,
deviated, interrupted, a few still running; their kept outcome columns set by the
server's own ``derived_columns``), and a verification of ``--runs`` runs. Then
requests each page in-process (FastAPI's TestClient: the time is the server's, no
network) ``--reps`` times, pages alternated, and prints each one's median and p95
against the goal (200 ms).

Baseline side by side: the executions list as it was before the outcome was kept
in a column (the same page query reading each row's journal and deriving the
outcome from it), through the store, alternated with the store call of today.

    uv run --all-packages python benchmarks/history_pages.py
    uv run --all-packages python benchmarks/history_pages.py \\
        --postgres postgresql+psycopg://chaosiq:chaosiq@127.0.0.1:5432/chaosiq_core

``--postgres`` names a database whose ``public`` schema is DROPPED and rebuilt.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from chaosiq_server import models as m
from chaosiq_server.app import create_app
from chaosiq_server.config import Settings
from chaosiq_server.db import Database, new_id
from chaosiq_server.jsonutil import decode_cursor, dumps, loads
from chaosiq_server.outcome import of_journal
from chaosiq_server.store import ExecutionFilter, Store
from chaosiq_server.store.executions import derived_columns
from server_ingest import reset_postgres  # a sibling of this script: the same way to empty a database
from sqlalchemy import and_, func, insert, or_, select, text

GOAL_MS = 200.0
TAGS = ["payments", "search", "cpu", "network", "db"]


def _journal(kind: str, title: str, duration: float, activities: int = 3) -> dict[str, Any]:
    def run(name: str, status: str = "succeeded") -> dict[str, Any]:
        return {
            "activity": {"type": "action", "name": name, "provider": {"type": "process", "path": "true"}},
            "status": status,
            "output": {"status": 0, "stdout": "ok " * 20, "stderr": ""},
            "start": "2026-01-01T00:00:00",
            "end": "2026-01-01T00:00:01",
            "duration": 1.0,
        }

    probe = {"activity": {"type": "probe", "name": "p"}, "status": "succeeded", "tolerance_met": True}
    doc: dict[str, Any] = {
        "chaoslib-version": "1.44.0",
        "experiment": {"title": title, "method": [run(f"a{i}")["activity"] for i in range(activities)]},
        "start": "2026-01-01T00:00:00",
        "status": "completed",
        "deviated": False,
        "duration": duration,
        "steady_states": {"before": {"steady_state_met": True, "probes": [probe]}, "after": None},
        "run": [run(f"a{i}") for i in range(activities)],
        "rollbacks": [],
    }
    if kind == "deviated":
        doc["deviated"] = True
        doc["steady_states"]["after"] = {
            "steady_state_met": False,
            "probes": [{**probe, "tolerance_met": False}],
        }
    elif kind == "failed":
        doc["run"][1]["status"] = "failed"
    elif kind == "interrupted":
        doc["status"] = "interrupted"
    elif kind == "running":
        doc["status"] = "running"
        del doc["duration"]
    return doc


KINDS = ["passed"] * 70 + ["failed"] * 10 + ["deviated"] * 12 + ["interrupted"] * 6 + ["running"] * 2


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def seed(
    url: str, executions: int, experiments: int, runs: int, activities: int, days: float = 365
) -> dict[str, Any]:
    """Bulk-insert the data set; what the measurements need (ids, token)."""
    db = Database(url, pool_size=1)
    db.migrate()
    store = Store(db)
    org = store.organizations.create("bench")
    team = store.teams.create(org["id"], "bench")
    secret, _ = store.tokens.create("bench", [team["id"]])
    other = store.teams.create(org["id"], "other")  # another team's rows in the same tables
    eids = []
    for i in range(experiments):
        exp = {
            "title": f"Experiment {i:02d}: service {i} survives",
            "tags": [TAGS[i % len(TAGS)]],
            "method": [],
        }
        eids.append(store.experiments.upsert(team["id"], exp)[1])
    _, other_eid = store.experiments.upsert(other["id"], {"title": "theirs", "method": []})
    rnd = random.Random(7)
    now = datetime.now(timezone.utc)
    templates: dict[tuple[str, int], tuple[str, dict[str, Any]]] = {}
    for kind in set(KINDS):
        for d in range(5):  # five durations per kind
            doc = _journal(kind, "bench", 10.0 + 7 * d, activities)
            status = doc["status"]
            templates[(kind, d)] = (dumps(doc), {"status": status, **derived_columns(status, doc)})
    t0 = time.perf_counter()
    batch: list[dict[str, Any]] = []
    with db.engine.begin() as conn:
        for i in range(executions):
            kind = rnd.choice(KINDS)
            body, cols = templates[(kind, rnd.randrange(5))]
            mine = i % 50 != 0  # 2 % belong to the other team
            created = _ts(now - timedelta(seconds=rnd.uniform(0, days * 86400)))
            batch.append(
                {
                    "id": new_id(),
                    "team_id": team["id"] if mine else other["id"],
                    "experiment_id": rnd.choice(eids) if mine else other_eid,
                    "journal": body,
                    "created_at": created,
                    "updated_at": created,
                    **cols,
                }
            )
            if len(batch) == 5000:
                conn.execute(insert(m.executions), batch)
                batch = []
        if batch:
            conn.execute(insert(m.executions), batch)
        vpk = new_id()
        conn.execute(
            insert(m.verifications).values(pk=vpk, id="bench-v", team_id=team["id"], created_at=_ts(now))
        )
        rows = []
        for i in range(runs):
            deviated = rnd.choice([0, 0, 0, 1, 3, 8])
            results = {
                "successful_samples": 20 - deviated,
                "deviated_samples": deviated,
                "not_run_samples": 0,
                "total_number_of_samples": 20,
                "total_duration": 12.0,
            }
            created = _ts(now - timedelta(hours=runs - i))
            rows.append({"id": new_id(), "verification_pk": vpk, "state": "finished", "status": "completed",
                         "journal": dumps(_journal("passed", "v", 12.0)), "results": dumps(results),
                         "created_at": created, "updated_at": created, "finished_at": created})  # fmt: skip
        conn.execute(insert(m.verification_runs), rows)
    if db.engine.dialect.name == "postgresql":  # what autovacuum does after a bulk insert
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    else:
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    seconds = time.perf_counter() - t0
    db.dispose()
    return {"org": org["id"], "team": team["id"], "token": secret, "eids": eids, "seed_s": seconds}


def baseline_rows(store: Store, team_id: str, cursor: str | None, limit: int = 25) -> list[Any]:
    """The console list as it was: the page query reading the journal, the outcome derived per row."""
    x, e = m.executions, m.experiments
    q = (
        select(x.c.id, x.c.experiment_id, x.c.status, x.c.created_at, x.c.journal, e.c.title)
        .join(e, e.c.id == x.c.experiment_id)
        .where(x.c.team_id == team_id)
    )
    if cursor:
        created, ident = decode_cursor(cursor, 2)
        q = q.where(or_(x.c.created_at < created, and_(x.c.created_at == created, x.c.id < ident)))
    with store.db.read() as conn:
        rows = conn.execute(q.order_by(x.c.created_at.desc(), x.c.id.desc()).limit(limit + 1)).all()
        conn.execute(select(func.count()).select_from(x).where(x.c.team_id == team_id)).scalar_one()
    return [of_journal(r.status, loads(r.journal)) for r in rows[:limit]]


def baseline_outcome_page(store: Store, team_id: str, outcome: str, limit: int = 25) -> int:
    """Filtering by outcome without the column: every journal of the team read and its
    outcome derived (the total needs them all); the page is the newest ``limit``."""
    x = m.executions
    q = select(x.c.status, x.c.journal).where(x.c.team_id == team_id).order_by(x.c.created_at.desc())
    found = 0
    with store.db.read() as conn:
        for row in conn.execute(q):
            found += of_journal(row.status, loads(row.journal)).word == outcome
    return found


def timed(fn: Callable[[], Any], out: list[float]) -> Any:
    t0 = time.perf_counter()
    result = fn()
    out.append((time.perf_counter() - t0) * 1000)
    return result


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def measure(url: str, label: str, args: argparse.Namespace) -> list[tuple[str, float, float]]:
    from fastapi.testclient import TestClient

    info = seed(url, args.executions, args.experiments, args.runs, args.activities, args.days)
    print(
        f"\n{label}: seeded {args.executions:,} executions (journals of {args.activities} activities), "
        f"{args.runs} verification runs in {info['seed_s']:.1f} s"
    )
    app = create_app(Settings(database_url=url))
    team = f"/organizations/{info['org']}/teams/{info['team']}"
    api = f"/api/v1{team}"
    eid = info["eids"][3 % len(info["eids"])]
    day = lambda n: (datetime.now(timezone.utc) - timedelta(days=n)).date().isoformat()  # noqa: E731
    results: list[tuple[str, float, float]] = []
    # the console takes a form only with the Origin a browser sends
    with TestClient(app, base_url="http://testserver", headers={"Origin": "http://testserver"}) as client:
        form = client.get("/signin").text
        csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        assert client.post("/signin", data={"token": info["token"], "csrf_token": csrf, "next": ""},
                           follow_redirects=False).status_code == 303  # fmt: skip
        headers = {"Authorization": f"Bearer {info['token']}"}
        first = client.get(f"{api}/executions?outcome=passed&tag=payments&limit=25", headers=headers).json()
        deep = first["next_cursor"]
        for _ in range(4):  # the 6th page of a filtered list
            deep = client.get(f"{api}/executions?outcome=passed&tag=payments&limit=25&cursor={deep}",
                              headers=headers).json()["next_cursor"]  # fmt: skip
        pages = {
            "console: executions list": f"{team}/executions",
            "console: list, outcome=deviated": f"{team}/executions?outcome=deviated",
            "console: list, one experiment": f"{team}/executions?experiment={eid}",
            "console: list, tag=payments": f"{team}/executions?tag=payments",
            "console: list, title search": f"{team}/executions?q=service+7+",
            "console: list, 7 days": f"{team}/executions?since={day(7)}&until={day(0)}",
            "console: list, all filters": f"{team}/executions?outcome=failed&tag=cpu&q=survives"
            f"&since={day(90)}&until={day(0)}",
            "console: list, 6th page filtered": f"{team}/executions?outcome=passed&tag=payments"
            f"&cursor={deep}",
            "console: experiment page": f"{team}/experiments/{eid}",
            "console: verification page": f"{team}/verifications/bench-v",
            "api: executions, filtered": f"{api}/executions?outcome=deviated&experiment={eid}",
            "api: experiment history": f"{api}/experiments/{eid}/history",
            "api: verification trend": f"{api}/verifications/bench-v/trend",
        }
        times: dict[str, list[float]] = {name: [] for name in pages}
        for name, path in pages.items():  # warm up (and check) once
            resp = client.get(path, headers=headers if path.startswith("/api") else None)
            assert resp.status_code == 200, (name, resp.status_code, resp.text[:300])
        for _ in range(args.reps):
            for name, path in pages.items():
                timed(
                    lambda p=path: client.get(p, headers=headers if p.startswith("/api") else None),
                    times[name],
                )
        store: Store = app.state.store
        before: list[float] = []
        now: list[float] = []
        for _ in range(args.reps):
            timed(lambda: baseline_rows(store, info["team"], None), before)
            timed(lambda: store.executions.rows(info["team"], None), now)
        slow: list[float] = []
        fast: list[float] = []
        for _ in range(3):
            timed(lambda: baseline_outcome_page(store, info["team"], "deviated"), slow)
            timed(
                lambda: store.executions.rows(info["team"], None, where=ExecutionFilter(outcome="deviated")),
                fast,
            )
    print(f"{'page':36} {'median':>9} {'p95':>9}   goal < {GOAL_MS:.0f} ms")
    for name, values in times.items():
        med, high = statistics.median(values), p95(values)
        results.append((name, med, high))
        print(f"{name:36} {med:7.1f} ms {high:7.1f} ms   {'OK' if high < GOAL_MS else 'MISSED'}")
    b, n = statistics.median(before), statistics.median(now)
    print(f"store: console list page (25 rows), journals parsed (before) {b:6.2f} ms, "
          f"kept outcome (now) {n:6.2f} ms, ratio {b / n:.1f}x")  # fmt: skip
    b, n = statistics.median(slow), statistics.median(fast)
    print(f"store: outcome=deviated page + total, journals parsed (before) {b:8.1f} ms, "
          f"kept outcome (now) {n:6.2f} ms, ratio {b / n:.0f}x")  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--experiments", type=int, default=20)
    parser.add_argument("--days", type=float, default=365, help="executions spread over this many days")
    parser.add_argument("--activities", type=int, default=10, help="activities in each journal")
    parser.add_argument("--runs", type=int, default=500, help="runs of the one verification")
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--postgres", help="a PostgreSQL URL whose public schema is dropped and rebuilt")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load {load:.2f}, {args.reps} reps per page"
    )
    worst: list[tuple[str, float]] = []
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            found = measure(f"sqlite:///{Path(tmp) / 'bench.db'}", "SQLite", args)
            worst.append(("SQLite", max(r[2] for r in found)))
    if args.postgres:
        reset_postgres(args.postgres)
        found = measure(args.postgres, "PostgreSQL", args)
        worst.append(("PostgreSQL", max(r[2] for r in found)))
    for label, high in worst:
        print(
            f"{label}: worst p95 {high:.1f} ms (goal < {GOAL_MS:.0f} ms): "
            + ("OK" if high < GOAL_MS else "MISSED")
        )


if __name__ == "__main__":
    main()
