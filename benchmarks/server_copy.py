"""`chaosiq-server copy` from SQLite to PostgreSQL: time, rows/s and peak memory.

Seeds a SQLite database with --events events spread over --executions executions
(rows inserted in bulk with SQLAlchemy, with the server's schema made by its
migrations), then runs the real `chaosiq-server copy --overwrite` as a subprocess
into PostgreSQL once per --batch-size, side by side, and reads each run's maximum
resident set size from the kernel (os.wait4). Prints the load average with the figures.

    .venv/bin/python benchmarks/server_copy.py \\
        --target postgresql+psycopg://chaosiq:chaosiq@127.0.0.1:5432/chaosiq_h_copy_bench
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from chaosiq_server import models
from chaosiq_server.db import Database, new_id, utcnow
from chaosiq_server.store.executions import derived_columns
from sqlalchemy import insert

CHUNK = 20_000


def seed(url: str, n_events: int, n_executions: int) -> None:
    """A database as the server writes it, filled fast: bulk inserts, one transaction."""
    db = Database(url, pool_size=1)
    db.migrate()
    now = utcnow()
    org, team = new_id(), new_id()
    experiments = [new_id() for _ in range(max(1, n_executions // 30))]
    body = json.dumps({"title": "benchmark", "method": [], "tags": ["bench"]})
    per_run, extra = divmod(n_events, n_executions)
    with db.engine.begin() as conn:
        conn.execute(insert(models.organizations), [{"id": org, "name": "bench", "created_at": now}])
        conn.execute(insert(models.teams), [{"id": team, "org_id": org, "name": "bench", "created_at": now}])
        conn.execute(
            insert(models.experiments),
            [
                {"id": e, "team_id": team, "content_hash": uuid.uuid4().hex, "title": "benchmark",
                 "body": body, "created_at": now, "updated_at": now}
                for e in experiments
            ],
        )  # fmt: skip
        conn.execute(
            insert(models.experiment_tags),
            [{"experiment_id": e, "tag": "bench", "team_id": team} for e in experiments],
        )
        doc = {"status": "completed", "deviated": False, "run": [], "start": now, "duration": 12.5}
        journal, derived = json.dumps(doc), derived_columns("completed", doc)
        runs = [new_id() for _ in range(n_executions)]
        conn.execute(
            insert(models.executions),
            [
                {"id": x, "team_id": team, "experiment_id": experiments[i % len(experiments)],
                 "status": "completed", "journal": journal, "created_at": now, "updated_at": now,
                 "events_count": per_run + (1 if i < extra else 0), "run_id": x, **derived}
                for i, x in enumerate(runs)
            ],
        )  # fmt: skip
        data = json.dumps(
            {"context": {"name": "an-activity", "type": "action"}, "state": {"status": "succeeded"}}
        )
        rows: list[dict[str, Any]] = []
        for i, x in enumerate(runs):
            for j in range(per_run + (1 if i < extra else 0)):
                rows.append(
                    {"execution_id": x, "event_id": f"{i}-{j}", "type": "activity-finished",
                     "source": "chaosiq-cloud", "time": now, "time_key": now, "data": data,
                     "received_at": now}
                )  # fmt: skip
                if len(rows) == CHUNK:
                    conn.execute(insert(models.events), rows)
                    rows = []
        if rows:
            conn.execute(insert(models.events), rows)
    db.dispose()


def copy(source: str, target: str, batch_size: int) -> dict[str, Any]:
    """One real `chaosiq-server copy` into an emptied target: its report, wall time, max RSS."""
    cmd = [sys.executable, "-m", "chaosiq_server.cli", "copy", "--from", source, "--to", target,
           "--overwrite", "--json", "--batch-size", str(batch_size)]  # fmt: skip
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"copy failed ({proc.returncode}): {err.read().decode()[-2000:]}")
        report = json.loads(out.read())
    rows = report["rows_copied"]
    return {
        "batch": batch_size,
        "wall": wall,
        "rows": rows,
        "rss_mb": usage.ru_maxrss / 1024,
        "report": report,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--executions", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, action="append", help="repeatable (default: 1000 and 5000)")
    parser.add_argument(
        "--target",
        default=os.environ.get(
            "CHAOSIQ_BENCH_DATABASE_URL",
            "postgresql+psycopg://chaosiq:chaosiq@127.0.0.1:5432/chaosiq_h_copy_bench",
        ),
    )
    args = parser.parse_args()
    batches = args.batch_size or [1000, 5000]
    tmp = Path(tempfile.mkdtemp(prefix="chaosiq-copy-bench-"))
    source = f"sqlite:///{tmp / 'source.db'}"
    started = time.perf_counter()
    seed(source, args.events, args.executions)
    size = (tmp / "source.db").stat().st_size + sum(p.stat().st_size for p in tmp.glob("source.db-wal"))
    print(
        f"seeded {args.events:,} events in {args.executions:,} executions in "
        f"{time.perf_counter() - started:.1f} s ({size / 2**20:.0f} MiB)"
    )
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results = [copy(source, args.target, b) for b in batches]
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    base = results[0]
    print(
        f"{'batch size':>10} {'rows':>10} {'seconds':>8} {'rows/s':>8} {'max RSS MiB':>12} {'time ratio':>10}"
    )
    for r in results:
        print(
            f"{r['batch']:>10,} {r['rows']:>10,} {r['wall']:>8.1f} {r['rows'] / r['wall']:>8,.0f} "
            f"{r['rss_mb']:>12.0f} {r['wall'] / base['wall']:>10.2f}"
        )
    for r in results:
        for t in r["report"]["tables"]:
            assert t["source"] == t["target"], t
    print("every table's count in the target equals the source's")


if __name__ == "__main__":
    main()
