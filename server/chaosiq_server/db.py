"""Engine creation, SQLite tuning, write serialisation and migrations."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.pool import NullPool

from .errors import StorageUnavailable
from .metrics import POOL_IN_USE
from .storage import FileWatch, unavailable_reason

log = logging.getLogger("chaosiq_server.db")

MIGRATIONS = Path(__file__).parent / "migrations"
# SQLite: pages of WAL written (roughly: event rows + other writes) before a
# background checkpoint copies the WAL into the database file.
CHECKPOINT_EVERY = 5000
# PostgreSQL: a pooled connection idle this long is pinged before it is used again.
PING_AFTER_IDLE_SECONDS = 10.0


def utcnow() -> str:
    return utc_iso(datetime.now(timezone.utc))


def utc_iso(when: datetime) -> str:
    """A UTC time as the server stores it (text that sorts as time)."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
        self.file_watch: FileWatch | None = None
        self.sqlite_path: Path | None = None
        self._failing: str | None = None  # why writes fail now (logged once)
        if self.is_sqlite:
            database = parsed.database
            on_disk = bool(database) and database != ":memory:" and not database.startswith("file:")
            if on_disk:
                self.sqlite_path = Path(database).expanduser().absolute()
                self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
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
            self.engine = create_engine(url, pool_size=pool_size, max_overflow=20)
            _ping_when_idle(self.engine)  # before the pool gauge's listener: see there
        event.listen(self.engine, "checkout", _checked_out)
        event.listen(self.engine, "checkin", _checked_in)

    def watch_file(self) -> None:
        """Serve this SQLite file only: from now on, a write after the file was
        deleted or replaced is refused (see ``storage.py``)."""
        if self.sqlite_path is not None:
            self.file_watch = FileWatch(self.sqlite_path)
            self.file_watch.arm()

    def lost(self) -> str | None:
        """Why the database this server serves is gone, or None."""
        return self.file_watch.check() if self.file_watch is not None else None

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except Exception as exc:
            failure = self._unavailable(exc)
            if failure is None or failure is exc:
                raise
            raise failure from exc

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, committed on normal exit, rolled back on error.

        Raises :class:`StorageUnavailable` (503) when the database cannot store
        it: disk full, read-only, unreachable, or the SQLite file lost."""
        watch = self.file_watch
        try:
            if watch is not None and (why := watch.writable()):
                raise StorageUnavailable(why)
            if self._write_lock is None:
                with self.engine.begin() as conn:
                    yield conn
            else:
                with self._write_lock, self._write_engine.begin() as conn:
                    yield conn
            # Committed into the file we serve, not into a deleted or replaced one.
            if watch is not None and (why := watch.check()):
                raise StorageUnavailable(why)
        except Exception as exc:
            failure = self._unavailable(exc)
            if failure is None or failure is exc:
                raise
            raise failure from exc
        if self._failing is not None:
            log.warning("the database takes writes again (was: %s)", self._failing)
            self._failing = None
        if self._write_lock is not None:
            self.note_writes()

    def _unavailable(self, exc: Exception) -> StorageUnavailable | None:
        """``exc`` as a :class:`StorageUnavailable` when it means the database
        cannot serve now (logged once per cause), else None."""
        if isinstance(exc, StorageUnavailable):
            failure = exc
        else:
            why = unavailable_reason(exc)
            if why is None:
                return None
            failure = StorageUnavailable(why)
        if failure.detail != self._failing:
            self._failing = failure.detail
            if self.file_watch is None or self.file_watch.lost != failure.detail:  # logged by the watch
                orig = getattr(exc, "orig", None) or exc
                cause = "" if orig is failure else f" ({type(orig).__name__}: {orig})"
                log.error("requests that need the database get 503: %s%s", failure.detail, cause)
        return failure

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

    def migrate(self, *, create: bool = True) -> None:
        """Bring the schema to the newest revision. With ``create=False``, a
        database without the server's schema (a SQLite file that does not
        exist, an empty PostgreSQL database) is refused: ``init`` makes one."""
        if not create and self.sqlite_path is not None and not self.sqlite_path.exists():
            raise NotInitialised(self._no_database())
        migrate(self.engine, create=create, missing=self._no_database())

    def schema_revision(self) -> str | None:
        """The database's schema revision (None: no schema)."""
        from alembic.runtime.migration import MigrationContext

        with self.read() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def _no_database(self) -> str:
        where = self.sqlite_path or make_url(self.url).render_as_string(hide_password=True)
        return (
            f"no chaosiq-server database at {where}: `chaosiq-server init` creates one "
            "(or `serve --init`); if there was one, restore it from a backup"
        )

    def dispose(self) -> None:
        self.engine.dispose()


def _checked_out(_dbapi_conn: Any, record: Any, _proxy: Any) -> None:
    record.info["counted"] = True
    POOL_IN_USE.inc()


def _checked_in(_dbapi_conn: Any, record: Any) -> None:
    """Only what was counted out: a connection that failed to connect is checked in
    without having been checked out (its record's ``info`` was cleared)."""
    if record.info.pop("counted", False):
        POOL_IN_USE.dec()


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use when it sat idle ``PING_AFTER_IDLE_SECONDS``.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: one more round trip per
    transaction, a quarter of those of a group commit of events. A database restart
    or an idle timeout leaves idle connections dead; a failed ping discards every
    pooled connection and the pool connects afresh, so a request after a restart
    still succeeds. A connection that fails while busy fails its request (503, which
    clients retry) and discards the pool the same way. Registered before the pool
    gauge's listener: a refused checkout is retried and must be counted once.
    """

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise InvalidatePoolError(f"an idle connection is dead: {exc}") from exc


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


class DatabaseRefused(Exception):
    """The server will not use this database (one clear line for the CLI)."""


class NotInitialised(DatabaseRefused):
    """No server schema where one is required."""


class SchemaTooNew(DatabaseRefused):
    """The database was migrated by a newer chaosiq-server."""


# Key of the PostgreSQL advisory lock held while migrating ("chaosiq" in ASCII).
MIGRATION_LOCK = 0x63_68_61_6F_73_69_71


def migrate(engine: Engine, *, create: bool = True, missing: str = "no chaosiq-server database") -> None:
    """Bring the schema to the newest revision (idempotent); with ``create=False``
    refuse a database that has no schema yet (:class:`NotInitialised`).

    Servers starting at once migrate one after the other: on PostgreSQL under a
    transaction-scoped advisory lock (``pg_advisory_xact_lock``, released at
    commit), on SQLite in a ``BEGIN IMMEDIATE`` transaction; the next one finds
    the schema current and does nothing. A schema revision this code does not
    know (a newer server migrated it) is refused (:class:`SchemaTooNew`)."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from . import __version__

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    dialect = engine.dialect.name
    begin = engine.execution_options(sqlite_immediate=True) if dialect == "sqlite" else engine
    with begin.begin() as conn:
        if dialect == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        current = MigrationContext.configure(conn).get_current_revision()
        if current is None and not create:
            raise NotInitialised(missing)
        script = ScriptDirectory.from_config(cfg)
        known = {rev.revision for rev in script.walk_revisions()}
        if current is not None and current not in known:
            raise SchemaTooNew(
                f"the database's schema (revision {current}) is newer than this chaosiq-server "
                f"{__version__} (newest revision {script.get_current_head()}): upgrade chaosiq-server"
            )
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def schema_head() -> str | None:
    """The newest schema revision this code knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def throwaway_engine(url: str) -> Engine:
    """An engine without pooling, for one-shot CLI commands."""
    return create_engine(url, poolclass=NullPool)
