"""Cost of the ``outcome`` field in ``GET {team}/executions`` (the API's executions list).

The outcome is derived from each execution's journal (chaosiq_server/outcome.py) when
the journal is stored and kept in columns of the row (``outcome``, ``outcome_reasons``),
so the list reads those instead of parsing journals (as it did for a while: 7.9x the
five-column list). Both queries run here side by side on one SQLite database of ``--executions`` executions
whose journals are like a ``chaos run`` of ``--activities`` activities, through the
store (no HTTP): the baseline is the list as it was (the same paging query without the
journal column), timed page by page, alternated, ratios printed.

    uv run --all-packages python benchmarks/outcome_list.py
    uv run --all-packages python benchmarks/outcome_list.py --executions 500 --activities 50 --limit 100
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from chaosiq_server import models as m
from chaosiq_server.db import Database
from chaosiq_server.store import Store
from chaosiq_server.store.paging import newest_first


def journal(activities: int) -> dict[str, Any]:
    def run(i: int) -> dict[str, Any]:
        activity = {
            "type": "action",
            "name": f"action-{i}",
            "provider": {"type": "process", "path": "sleep", "arguments": "0.1"},
        }
        return {
            "activity": activity,
            "status": "succeeded",
            "output": {"status": 0, "stdout": "x" * 200, "stderr": ""},
            "start": "2024-05-01T12:00:00",
            "end": "2024-05-01T12:00:01",
            "duration": 1.0,
        }

    probe = {"activity": {"type": "probe", "name": "p"}, "status": "succeeded", "tolerance_met": True}
    return {
        "chaoslib-version": "1.44.0",
        "status": "completed",
        "deviated": False,
        "experiment": {"title": "bench", "method": [run(i)["activity"] for i in range(activities)]},
        "steady_states": {"before": {"steady_state_met": True, "probes": [probe]}, "after": None},
        "run": [run(i) for i in range(activities)],
        "rollbacks": [],
    }


def baseline(store: Store, team_id: str, limit: int) -> Any:
    """The list as it was: five columns, no journal."""
    t = m.executions
    cols = [t.c.id, t.c.experiment_id, t.c.status, t.c.created_at, t.c.updated_at]
    return newest_first(
        store.db, t, t.c.team_id == team_id, limit, None, lambda r: dict(r._mapping), columns=cols
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=300)
    parser.add_argument("--activities", type=int, default=20)
    parser.add_argument("--limit", type=int, default=100, help="page size (the API's default)")
    parser.add_argument("--reps", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        db.migrate()
        store = Store(db)
        org = store.organizations.create("bench")
        team = store.teams.create(org["id"], "bench")
        _, eid = store.experiments.upsert(team["id"], {"title": "bench", "method": []})
        doc = journal(args.activities)
        for _ in range(args.executions):
            xid = store.executions.create(team["id"], eid, {"status": "running"})
            store.executions.update(team["id"], eid, xid, doc)
        size = len(store.executions.get(team["id"], xid)["journal"].__repr__())
        old: list[float] = []
        new: list[float] = []
        for _ in range(args.reps):
            for fn, out in ((lambda: baseline(store, team["id"], args.limit), old),
                            (lambda: store.executions.list(team["id"], args.limit, None), new)):  # fmt: skip
                t0 = time.perf_counter()
                page = fn()
                out.append(time.perf_counter() - t0)
                assert len(page.items) == min(args.limit, args.executions)
        db.dispose()
    o, n = statistics.median(old) * 1000, statistics.median(new) * 1000
    print(f"{args.executions} executions, journals of {args.activities} activities (~{size / 1024:.0f} KiB),")
    print(f"page of {args.limit}, median of {args.reps} reps each, alternated:")
    print(f"  list without outcome (before): {o:8.2f} ms")
    per_row = (n - o) / args.limit
    print(f"  list with outcome (now):       {n:8.2f} ms   ratio {n / o:.1f}x, +{per_row:.3f} ms/row")


if __name__ == "__main__":
    main()
