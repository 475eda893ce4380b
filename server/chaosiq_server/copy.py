"""Copy every table of one chaosiq-server database into another (``chaosiq-server copy``):
typically from the SQLite file to PostgreSQL.

The copy walks ``models.metadata.sorted_tables`` (parents before children), so a
table added to ``models.py`` is copied with no change here. Each table is read in
primary-key order, a batch at a time (keyset: ``WHERE pk > last ORDER BY pk LIMIT
n``), and each batch is written in its own transaction: memory stays flat however
big the database, and an interrupted copy leaves in the target every table before
the current one complete and a prefix (in key order) of the current one. ``--resume``
starts each table after the greatest key already in the target, so nothing is
copied twice. Keys are compared byte-wise on both sides (SQLite's ``BINARY``,
PostgreSQL's ``COLLATE "C"``) so both agree on what "after" means.

The source is read in one transaction (a consistent snapshot); the server should
nonetheless be stopped (or read-only) while it runs, or what it writes after the
snapshot is not copied.

For the tests only: ``CHAOSIQ_SERVER_COPY_TEST_SIGNAL=table:rows:INT|KILL`` makes the
copy send itself SIGINT or SIGKILL once it has committed at least ``rows`` rows of
``table`` in this run (a deterministic interruption).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, String, Table, func, select, text, tuple_
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from . import models
from .db import Database, DatabaseRefused, schema_head

DEFAULT_BATCH_SIZE = 5000
TEST_SIGNAL_ENV = "CHAOSIQ_SERVER_COPY_TEST_SIGNAL"
SUPPORTED = "sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST[:PORT]/DATABASE"


class CopyRefused(DatabaseRefused):
    """The copy will not start (or cannot go on): one clear line for the operator."""


@dataclass
class TableCopy:
    """The counts of one table: in the source, in the target before this run,
    copied by this run, in the target at the end."""

    name: str
    source: int = 0
    before: int = 0
    copied: int = 0
    after: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.name,
            "source": self.source,
            "target_before": self.before,
            "copied": self.copied,
            "target": self.after,
        }


@dataclass
class CopyReport:
    tables: list[TableCopy] = field(default_factory=list)
    current: TableCopy | None = None  # the table being copied (for an interruption)
    seconds: float = 0.0
    mode: str = "new"
    revision: str | None = None

    @property
    def copied(self) -> int:
        return sum(t.copied for t in self.tables)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tables": [t.as_dict() for t in self.tables],
            "rows_copied": self.copied,
            "seconds": round(self.seconds, 3),
            "mode": self.mode,
            "revision": self.revision,
        }


class Progress:
    """What the copy reports as it goes (the CLI draws it with rich)."""

    def tables(self, tables: Sequence[TableCopy]) -> None:
        """Every table with its totals, before the first row is copied."""

    def advance(self, table: TableCopy, rows: int) -> None:
        """``rows`` more rows of ``table`` are committed in the target."""


def shown(url: str) -> str:
    """``url`` without its password (for messages)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid URL>"


def parse_url(url: str, role: str) -> URL:
    """The URL of the source or target, refused unless SQLite or PostgreSQL with psycopg."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise CopyRefused(f"the {role} is not a database URL: use {SUPPORTED}") from None
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if not (backend == "sqlite" and driver == "pysqlite") and not (
        backend == "postgresql" and driver == "psycopg"
    ):
        raise CopyRefused(f"unsupported {role} URL {shown(url)}: use {SUPPORTED}")
    if backend == "sqlite" and not _sqlite_file(parsed):
        raise CopyRefused(f"the {role} must be a SQLite file (sqlite:///PATH), not {shown(url)}")
    if backend == "postgresql" and not parsed.database:
        raise CopyRefused(f"the {role} URL {shown(url)} names no database")
    return parsed


def _sqlite_file(url: URL) -> Path | None:
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser().resolve()


def _same_database(a: URL, b: URL) -> bool:
    if a.get_backend_name() != b.get_backend_name():
        return False
    if a.get_backend_name() == "sqlite":
        return _sqlite_file(a) == _sqlite_file(b)
    return (a.host or "localhost", a.port or 5432, a.database) == (
        b.host or "localhost",
        b.port or 5432,
        b.database,
    )


def _open(url: str, role: str) -> Database:
    """A :class:`Database` on ``url`` whose server answers (else one line naming the side)."""
    db = Database(url, pool_size=1)
    try:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except SQLAlchemyError as exc:
        db.dispose()
        orig = getattr(exc, "orig", None) or exc
        lines = str(orig).strip().splitlines()
        raise CopyRefused(
            f"cannot reach the {role} database {shown(url)}: {lines[0] if lines else type(orig).__name__}"
        ) from None
    return db


def _key(table: Table, dialect: str) -> list[ColumnElement[Any]]:
    """The primary key columns of ``table`` as compared byte-wise on ``dialect``."""
    cols: list[Column[Any]] = list(table.primary_key.columns)
    if not cols:
        raise CopyRefused(f"table {table.name} has no primary key: it cannot be copied in batches")
    if dialect != "postgresql":
        return list(cols)
    return [c.collate("C") if isinstance(c.type, String) else c for c in cols]


def _after(key: list[ColumnElement[Any]], last: tuple[Any, ...]) -> ColumnElement[bool]:
    if len(key) == 1:
        return key[0] > last[0]
    return tuple_(*key) > tuple_(*last)


def _count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _last_key(conn: Connection, table: Table) -> tuple[Any, ...] | None:
    """The greatest primary key of ``table`` in ``conn``'s database (byte-wise), or None."""
    key = _key(table, conn.dialect.name)
    cols = list(table.primary_key.columns)
    row = conn.execute(select(*cols).order_by(*(k.desc() for k in key)).limit(1)).first()
    return tuple(row) if row is not None else None


def _test_signal() -> tuple[str, int, int] | None:
    spec = os.environ.get(TEST_SIGNAL_ENV)
    if not spec:
        return None
    name, rows, sig = spec.split(":")
    return name, int(rows), {"INT": signal.SIGINT, "KILL": signal.SIGKILL}[sig]


class Copier:
    """One copy from ``source_url`` into ``target_url``.

    ``mode``: ``new`` (the target must hold no rows), ``resume`` (continue an
    interrupted copy into it) or ``overwrite`` (empty it first)."""

    def __init__(
        self,
        source_url: str,
        target_url: str,
        *,
        mode: str = "new",
        batch_size: int = DEFAULT_BATCH_SIZE,
        migrate_source: bool = False,
        progress: Progress | None = None,
        tables: Sequence[Table] | None = None,
    ) -> None:
        if mode not in ("new", "resume", "overwrite"):
            raise ValueError(mode)
        self.source_url, self.target_url = source_url, target_url
        self.mode = mode
        self.batch_size = batch_size
        self.migrate_source = migrate_source
        self.progress = progress or Progress()
        self.tables = list(tables if tables is not None else models.metadata.sorted_tables)
        self.report = CopyReport(mode=mode)

    # ------------------------------------------------------------ checks
    def _source(self) -> Database:
        parsed = parse_url(self.source_url, "source")
        path = _sqlite_file(parsed) if parsed.get_backend_name() == "sqlite" else None
        if path is not None and not path.is_file():
            raise CopyRefused(f"the source database {path} does not exist")
        db = _open(self.source_url, "source")
        if self.migrate_source:
            db.migrate(create=False)
        revision = db.schema_revision()
        head = schema_head()
        if revision is None:
            db.dispose()
            raise CopyRefused(f"the source {shown(self.source_url)} is not a chaosiq-server database")
        if revision != head:
            db.dispose()
            raise CopyRefused(
                f"the source database is at schema revision {revision}, this chaosiq-server's is "
                f"{head}: migrate the source first (run the copy again with --migrate-source)"
            )
        self.report.revision = revision
        return db

    def _target(self) -> Database:
        parsed = parse_url(self.target_url, "target")
        if _same_database(parse_url(self.source_url, "source"), parsed):
            raise CopyRefused("the source and the target are the same database")
        db = _open(self.target_url, "target")
        # The server's own migration (under its advisory lock on PostgreSQL): same
        # revision as the source, which was checked to be this code's newest.
        db.migrate(create=True)
        return db

    # -------------------------------------------------------------- copy
    def run(self) -> CopyReport:
        started = time.monotonic()
        source = self._source()
        try:
            target = self._target()
            try:
                self._copy(source, target)
            finally:
                target.dispose()
        finally:
            source.dispose()
            self.report.seconds = time.monotonic() - started
        return self.report

    def _copy(self, source: Database, target: Database) -> None:
        with source.engine.connect() as src:
            # One read transaction for the whole copy: a consistent snapshot.
            if source.is_sqlite:
                src.begin()
            else:
                src = src.execution_options(isolation_level="REPEATABLE READ")
                src.begin()
            counts = [TableCopy(t.name, source=_count(src, t)) for t in self.tables]
            with target.engine.connect() as dst:
                for entry, table in zip(counts, self.tables, strict=True):
                    entry.before = _count(dst, table)
                dst.commit()
                self._check_target(counts)
                if self.mode == "overwrite" and any(c.before for c in counts):
                    self._empty(dst)
                    for entry in counts:
                        entry.before = 0
                self.report.tables = counts
                self.progress.tables(counts)
                for entry, table in zip(counts, self.tables, strict=True):
                    self.report.current = entry
                    self._copy_table(src, dst, table, entry)
                    entry.after = _count(dst, table)
                    dst.commit()
                self.report.current = None
                self._reset_sequences(dst)
        short = [t for t in counts if t.after != t.source]
        if short:
            raise CopyRefused(
                "the target's counts differ from the source's ("
                + ", ".join(f"{t.name}: {t.after} of {t.source}" for t in short)
                + "): was the server writing to either during the copy?"
            )

    def _check_target(self, counts: list[TableCopy]) -> None:
        held = [c for c in counts if c.before]
        if held and self.mode == "new":
            rows = sum(c.before for c in held)
            raise CopyRefused(
                f"the target database is not empty ({rows} rows in {len(held)} tables): "
                "--resume continues an interrupted copy into it, --overwrite deletes its data first"
            )
        if self.mode == "resume":
            over = [c for c in held if c.before > c.source]
            if over:
                raise CopyRefused(
                    f"the target holds more rows than the source in {', '.join(c.name for c in over)}: "
                    "it is not an interrupted copy of this source (--overwrite deletes its data first)"
                )

    def _empty(self, dst: Connection) -> None:
        names = [t.name for t in self.tables]
        if dst.dialect.name == "postgresql":
            quoted = ", ".join(dst.dialect.identifier_preparer.quote(n) for n in names)
            dst.exec_driver_sql(f"TRUNCATE {quoted} RESTART IDENTITY")
        else:
            # TRUNCATE fires no row trigger; SQLite's DELETE does, and the audit log's
            # append-only trigger would refuse it: set the triggers aside while emptying
            triggers = dst.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
            for name, _ in triggers:
                dst.exec_driver_sql(f'DROP TRIGGER "{name}"')
            for table in reversed(self.tables):
                dst.execute(table.delete())
            for _, sql in triggers:
                dst.exec_driver_sql(sql)
            if dst.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")).first():
                dst.execute(text("DELETE FROM sqlite_sequence"))
        dst.commit()

    def _copy_table(self, src: Connection, dst: Connection, table: Table, entry: TableCopy) -> None:
        src_key = _key(table, src.dialect.name)
        last = _last_key(dst, table) if entry.before else None
        dst.commit()
        stop = _test_signal()
        cols = list(table.primary_key.columns)
        positions = [list(table.columns).index(c) for c in cols]
        names = [c.name for c in table.columns]
        while True:
            query = select(table).order_by(*src_key).limit(self.batch_size)
            if last is not None:
                query = query.where(_after(src_key, last))
            rows = src.execute(query).all()
            if not rows:
                return
            self._write(dst, table, names, rows)
            last = tuple(rows[-1][i] for i in positions)
            entry.copied += len(rows)
            self.progress.advance(entry, len(rows))
            if stop is not None and stop[0] == table.name and entry.copied >= stop[1]:
                os.kill(os.getpid(), stop[2])

    def _write(self, dst: Connection, table: Table, names: list[str], rows: Sequence[Any]) -> None:
        """Store one batch in one transaction: with COPY on PostgreSQL (several times
        faster than INSERTs), else with an executemany INSERT."""
        if dst.dialect.name == "postgresql":
            dst.begin()
            quote = dst.dialect.identifier_preparer.quote
            sql = f"COPY {quote(table.name)} ({', '.join(quote(n) for n in names)}) FROM STDIN"
            with dst.connection.driver_connection.cursor() as cur, cur.copy(sql) as copying:  # type: ignore[union-attr]
                for row in rows:
                    copying.write_row(row)
        else:
            dst.execute(table.insert(), [dict(zip(names, row, strict=True)) for row in rows])
        dst.commit()

    def _reset_sequences(self, dst: Connection) -> None:
        """PostgreSQL: the sequence of each autoincrement column continues after the
        greatest value copied (SQLite's AUTOINCREMENT follows explicit values itself)."""
        if dst.dialect.name != "postgresql":
            return
        for table in self.tables:
            col = table.autoincrement_column
            if col is None:
                continue
            name = dst.dialect.identifier_preparer.quote(table.name)
            column = dst.dialect.identifier_preparer.quote(col.name)
            dst.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                    f"COALESCE(MAX({column}), 1), MAX({column}) IS NOT NULL) FROM {name}"
                ),
                {"table": table.name, "column": col.name},
            )
        dst.commit()


# ---------------------------------------------------------------- rich output
class RichProgress(Progress):
    """One progress bar per table (rows copied of rows in the source), on stderr."""

    def __init__(self, console: Any) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as Bars

        self.bars = Bars(
            TextColumn("{task.description:<24}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.ids: dict[str, Any] = {}

    def tables(self, tables: Sequence[TableCopy]) -> None:
        self.bars.start()  # only now: a refusal before it is one line, with no empty bars
        for t in tables:
            self.ids[t.name] = self.bars.add_task(t.name, total=t.source, completed=t.before)

    def advance(self, table: TableCopy, rows: int) -> None:
        self.bars.advance(self.ids[table.name], rows)

    @contextmanager
    def shown(self) -> Iterator[RichProgress]:
        try:
            yield self
        finally:
            if self.ids:  # started
                self.bars.stop()


def summary(report: CopyReport, console: Any) -> None:
    """The counts per table at the end."""
    from rich.table import Table as Grid

    grid = Grid(title=f"copied {report.copied:,} rows in {report.seconds:.1f} s")
    for heading in ("table", "source", "in target before", "copied", "in target"):
        grid.add_column(heading, justify="left" if heading == "table" else "right")
    for t in report.tables:
        grid.add_row(t.name, f"{t.source:,}", f"{t.before:,}", f"{t.copied:,}", f"{t.after or 0:,}")
    console.print(grid)


def interrupted_line(report: CopyReport) -> str:
    current, where = report.current, ""
    if current is not None:
        held = current.before + current.copied
        where = f" during table {current.name} ({held:,} of {current.source:,} rows in the target)"
    return f"interrupted{where}: run the same command with --resume to continue"
