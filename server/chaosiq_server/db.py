"""Engine creation, SQLite tuning, write serialisation and migrations."""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

MIGRATIONS = Path(__file__).parent / "migrations"
# SQLite: pages of WAL written (roughly: event rows + other writes) before a
# background checkpoint copies the WAL into the database file.
CHECKPOINT_EVERY = 5000


def utcnow() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id() -> str:
    return str(uuid.uuid4())


class Database:
    """One engine plus the policy for write transactions.

    SQLite allows one writer at a time. Inside one process, writers queue on a
    ``threading.Lock`` (cheap, FIFO-ish) instead of spinning in SQLite's busy
    handler, which would ruin tail latency; across processes ``BEGIN IMMEDIATE``
    plus ``busy_timeout`` serialises them. PostgreSQL needs neither.
    """

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self._write_lock = threading.Lock() if self.is_sqlite else None
        self._pending_checkpoint = 0
        self._checkpointing = threading.Lock()
        if self.is_sqlite:
            database = parsed.database
            on_disk = bool(database) and database != ":memory:" and not database.startswith("file:")
            if on_disk:
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": 30},
                pool_size=pool_size,
                max_overflow=20,
            )
            # On disk, WAL checkpoints run in a background thread (see note_writes):
            # an automatic checkpoint runs inside a writer's COMMIT, with fsyncs,
            # and turns every ~1000 pages one request into a slow one.
            self.background_checkpoints = on_disk
            _tune_sqlite(self.engine, autocheckpoint=not on_disk)
            self._write_engine = self.engine.execution_options(sqlite_immediate=True)
        else:
            kwargs: dict[str, Any] = {"pool_size": pool_size, "max_overflow": 20}
            if parsed.get_backend_name() == "postgresql":
                kwargs["pool_pre_ping"] = True
            self.engine = create_engine(url, **kwargs)

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, committed on normal exit, rolled back on error."""
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._write_lock, self._write_engine.begin() as conn:
            yield conn
        self.note_writes()

    def note_writes(self, weight: int = 1) -> None:
        """Count committed work; past ``CHECKPOINT_EVERY`` start a background
        ``wal_checkpoint(PASSIVE)`` (it never blocks writers or readers)."""
        if not self.is_sqlite or not self.background_checkpoints:
            return
        self._pending_checkpoint += weight
        if self._pending_checkpoint < CHECKPOINT_EVERY or self._checkpointing.locked():
            return
        self._pending_checkpoint = 0
        threading.Thread(target=self._checkpoint, name="sqlite-checkpoint", daemon=True).start()

    def _checkpoint(self) -> None:
        if not self._checkpointing.acquire(blocking=False):
            return
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:  # pragma: no cover - retried at the next threshold
            logging.getLogger("chaosiq_server.db").warning("WAL checkpoint failed", exc_info=True)
        finally:
            self._checkpointing.release()

    def migrate(self) -> None:
        migrate(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


def _tune_sqlite(engine: Engine, *, autocheckpoint: bool = True) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN itself.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        # NORMAL in WAL mode: a committed transaction survives a process crash
        # (kill -9); only an OS crash/power loss may drop the last commits.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        if not autocheckpoint:
            cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("sqlite_immediate"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def throwaway_engine(url: str) -> Engine:
    """An engine without pooling, for one-shot CLI commands."""
    return create_engine(url, poolclass=NullPool)
