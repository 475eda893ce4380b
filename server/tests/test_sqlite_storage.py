"""SQLite storage under steady writes: the WAL stays bounded, new databases use large pages."""

from __future__ import annotations

import os
import threading
import uuid

import chaosiq_server.db as dbmod
from chaosiq_server.db import Database
from chaosiq_server.ingest import EventWriter
from chaosiq_server.store import Store

DATA = '{"context": {"type": "action", "name": "a"}, "state": {"output": "' + "x" * 900 + '"}}'


def _rows(xid: str, n: int) -> list[tuple[str, ...]]:
    now = "2026-11-27T14:06:31.328090Z"
    prefix = str(uuid.uuid4())[:24]
    return [
        (xid, f"{prefix}{i:012x}", "activity-finished", "chaosiq-cloud", None, now, DATA, now)
        for i in range(n)
    ]


def test_the_wal_is_started_over_while_writes_go_on(tmp_path, monkeypatch):
    """Checkpoints run while a writer keeps writing: the WAL must not grow with the data.

    A checkpoint that runs beside writers never catches up with the end of the
    WAL, and SQLite only starts a WAL over once all of it is copied; before the
    fix the WAL held every byte ever written.
    """
    monkeypatch.setattr(dbmod, "CHECKPOINT_EVERY", 1000)
    path = tmp_path / "chaosiq.db"
    db = Database(f"sqlite:///{path}", pool_size=2)
    db.migrate()
    store = Store(db)
    org = store.create_org("o")
    team = store.create_team(org["id"], "t")
    _, eid = store.upsert_experiment(team["id"], {"title": "x", "description": "y", "method": []})
    writer = EventWriter(db)
    xid = store.create_execution(team["id"], eid, {"status": "running"})
    written = 0
    stop = threading.Event()

    def reader() -> None:  # the console and the API read meanwhile
        while not stop.wait(0.002):
            store.check_execution(team["id"], xid, eid)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        for _ in range(120):
            writer.write_now(xid, _rows(xid, 250))
            written += 250 * len(DATA)
    finally:
        stop.set()
        t.join(5)
    wal = path.with_name(path.name + "-wal").stat().st_size
    assert written > 26_000_000
    assert wal < written / 4, f"WAL of {wal} bytes after writing {written}"
    db.dispose()


def test_a_new_database_uses_16_kib_pages(tmp_path):
    path = tmp_path / "chaosiq.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA page_size").scalar() == 16384
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    db.dispose()


def test_an_existing_database_keeps_its_page_size(tmp_path):
    import sqlite3

    path = tmp_path / "chaosiq.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    db = Database(f"sqlite:///{path}")
    db.migrate()
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA page_size").scalar() == 4096
    assert os.path.getsize(path) > 0
    db.dispose()
