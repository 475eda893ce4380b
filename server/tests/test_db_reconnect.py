"""PostgreSQL: a pooled connection that died while idle (a database restart, an idle
timeout, a killed backend) is replaced before a request uses it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from chaosiq_server import db as db_module
from chaosiq_server.db import Database
from chaosiq_server.errors import StorageUnavailable
from chaosiq_server.metrics import POOL_IN_USE
from server_helpers import PG_ENV, PG_SKIP, reset_postgres
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import OperationalError

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg() -> Iterator[Database]:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(PG_SKIP)
    reset_postgres(url)
    database = Database(url, pool_size=1)
    yield database
    database.engine.dispose()


def _kill_pooled_connection(database: Database) -> None:
    """Use the pool's one connection, then end its backend as a restart would."""
    with database.read() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    admin = create_engine(database.url)
    try:
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    finally:
        admin.dispose()


def test_an_idle_connection_killed_by_the_database_is_replaced_before_use(
    pg: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _kill_pooled_connection(pg)
    in_use = POOL_IN_USE._value.get()
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)  # as if idle long enough
    with pg.read() as conn:
        assert POOL_IN_USE._value.get() == in_use + 1  # the refused checkout is not counted
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    with pg.write() as conn:
        assert conn.execute(text("SELECT 2")).scalar_one() == 2
    assert POOL_IN_USE._value.get() == in_use


def test_a_connection_used_a_moment_ago_is_not_pinged(pg: Database) -> None:
    """The counterpart: no ping within the idle time (the round trip it saves), so a
    connection killed right after use fails its next request (a 503 for the client,
    which retries) and the pool starts afresh for the one after."""
    _kill_pooled_connection(pg)
    with pytest.raises((OperationalError, StorageUnavailable)), pg.read() as conn:
        conn.execute(text("SELECT 1"))
    with pg.read() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1


def test_a_failed_reconnect_leaves_the_pool_gauge_as_it_was(
    pg: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dead idle connection is replaced, but the database refuses the new one: the
    request fails, and the connection-in-use gauge does not count it (nor go below)."""
    _kill_pooled_connection(pg)
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)

    def refuse(*_args: object) -> None:
        raise psycopg.OperationalError("connection refused (the database is still down)")

    event.listen(pg.engine, "do_connect", refuse)
    in_use = POOL_IN_USE._value.get()
    for _ in range(2):
        with pytest.raises((OperationalError, StorageUnavailable)), pg.read() as conn:
            conn.execute(text("SELECT 1"))
    assert POOL_IN_USE._value.get() == in_use
    event.remove(pg.engine, "do_connect", refuse)
    with pg.read() as conn:  # the database is back
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    assert POOL_IN_USE._value.get() == in_use
