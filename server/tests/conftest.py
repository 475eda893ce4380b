"""Fixtures: a database per test (SQLite, and PostgreSQL when configured) and
a seeded app with two teams and two tokens."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for server_helpers

from replica_helpers import replicas  # noqa: F401  (a fixture: replicas behind HAProxy)
from server_helpers import PG_ENV, PG_SKIP, PG_TEST_SECRET_KEY, Env, make_env, reset_postgres


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Storage backends: every test using this runs on SQLite and PostgreSQL.

    On PostgreSQL the console's secret key comes from the environment (inherited by
    ``serve`` subprocesses), so no test writes a key file in the user's data directory."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'chaosiq.db'}"
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(PG_SKIP)
    reset_postgres(url)
    monkeypatch.setenv("CHAOSIQ_SERVER_SECRET_KEY", PG_TEST_SECRET_KEY)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'chaosiq.db'}"


@pytest.fixture
def env(db_url: str) -> Iterator[Env]:
    yield from make_env(db_url)


@pytest.fixture
def lite(sqlite_url: str) -> Iterator[Env]:
    """SQLite only (for API behaviour that does not depend on storage)."""
    yield from make_env(sqlite_url)
