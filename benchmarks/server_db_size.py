"""How big a chaosiq-server SQLite database gets per run and per event.

Stores --runs typical runs through the real app (in process: the same routes,
store and SQLite settings as `serve`), each what `chaos run` publishes for an
experiment with a steady-state probe, two actions and a rollback (19
CloudEvents and the final journal; server/tests/console/replay.py), then
checkpoints the WAL and compares the file's size with the empty initialised
database. Then `prune` deletes them all and the file's size and free pages are
read again (SQLite reuses freed pages; the file does not shrink without VACUUM).

    .venv/bin/python benchmarks/server_db_size.py --runs 500
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "server" / "tests"), str(ROOT / "server" / "tests" / "console")]

from replay import replay_run  # noqa: E402
from server_helpers import make_env  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402


def file_size(url: str) -> tuple[int, int, int]:
    """(bytes of the database file after a full checkpoint, pages, free pages)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = conn.execute(text("PRAGMA page_count")).scalar_one()
        free = conn.execute(text("PRAGMA freelist_count")).scalar_one()
    engine.dispose()
    return os.path.getsize(url.removeprefix("sqlite:///")), pages, free


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="chaosiq-dbsize-")
    url = f"sqlite:///{Path(tmp) / 'size.db'}"
    env_iter = make_env(url)
    env = next(env_iter)
    empty, _, _ = file_size(url)
    headers = env.a.headers

    def api(method: str, path: str, **kwargs: object) -> object:
        h = {**headers, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        return env.client.request(method, env.a.base + path, headers=h, **kwargs)  # type: ignore[arg-type]

    for i in range(args.runs):
        replay_run(api, title=f"run {i}")
    engine = create_engine(url)
    with engine.connect() as conn:
        events = conn.execute(text("SELECT COUNT(*) FROM events")).scalar_one()
        event_bytes = conn.execute(text("SELECT SUM(LENGTH(data)) FROM events")).scalar_one()
        journal_bytes = conn.execute(text("SELECT SUM(LENGTH(journal)) FROM executions")).scalar_one()
    engine.dispose()
    full, pages, _ = file_size(url)
    grown = full - empty
    print(f"runs {args.runs}, events {events} ({events / args.runs:.0f} a run)")
    print(f"empty database {empty:,} B; after the runs {full:,} B ({pages} pages)")
    print(f"per run {grown / args.runs:,.0f} B; per event (the growth / events) {grown / events:,.0f} B")
    print(
        f"event data as sent: {event_bytes / events:,.0f} B an event; "
        f"journal {journal_bytes / args.runs:,.0f} B a run"
    )
    env_iter.close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE executions SET updated_at = '2000-01-01T00:00:00.000000Z'"))
    engine.dispose()
    out = subprocess.run(
        [sys.executable, "-m", "chaosiq_server.cli", "prune", "--older-than", "1d", "--database-url", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    after, pages, free = file_size(url)
    print(f"prune: {out}")
    print(f"after prune: {after:,} B, {free} of {pages} pages free (reused by the next writes)")


if __name__ == "__main__":
    main()
