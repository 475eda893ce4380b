"""Builders for what the original chaosiq-cloud client sends (its calls and CloudEvents),
seeding, and the `serve` subprocess helpers shared by the server tests."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

import httpx
from chaosiq_server.app import create_app
from chaosiq_server.config import Settings
from chaosiq_server.db import Database, alembic_config
from chaosiq_server.store import Store
from fastapi.testclient import TestClient

from chaosiq_core.testing import PG_ENV, reset_postgres  # noqa: F401 - re-exported to the tests

CE_HEADERS = MappingProxyType({"content-type": "application/cloudevents+json"})  # shared: read-only


def experiment(title: str = "A simple experiment") -> dict[str, Any]:
    return {
        "version": "1.0.0",
        "title": title,
        "description": "n/a",
        "steady-state-hypothesis": {
            "title": "ok",
            "probes": [
                {
                    "type": "probe",
                    "name": "p",
                    "tolerance": True,
                    "provider": {
                        "type": "python",
                        "module": "os.path",
                        "func": "exists",
                        "arguments": {"path": "/"},
                    },
                }
            ],
        },
        "method": [
            {"type": "action", "name": "a1", "provider": {"type": "process", "path": "true"}},
            {"type": "action", "name": "a2", "provider": {"type": "process", "path": "true"}},
        ],
        "rollbacks": [{"type": "action", "name": "r1", "provider": {"type": "process", "path": "true"}}],
    }


def cloud_event(
    event_type: str,
    payload: Any = None,
    state: Any = None,
    time: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A CloudEvent exactly as chaosiq-cloud builds it: data is a JSON *string*."""
    return {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": "chaosiq-cloud",
        "type": event_type,
        "datacontenttype": "application/json",
        "time": time or datetime.now(timezone.utc).astimezone().isoformat(),
        "data": json.dumps({"context": payload, "state": state}, ensure_ascii=False),
    }


def journal(exp: dict[str, Any], status: str = "running") -> dict[str, Any]:
    return {
        "chaoslib-version": "1.44.0",
        "platform": "Linux",
        "node": "test",
        "experiment": exp,
        "start": "2024-01-01T00:00:00",
        "status": status,
        "deviated": False,
        "steady_states": {"before": None, "after": None, "during": []},
        "run": [],
        "rollbacks": [],
    }


def api_operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every operation of an OpenAPI document: (method, path template, operation)."""
    return [
        (method, template, op)
        for template, item in spec["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def all_routes(app: Any) -> list[Any]:
    """Every route of ``app``; FastAPI 0.165 keeps an included router as one entry."""

    def flat(routes: list[Any]) -> list[Any]:
        out = []
        for route in routes:
            inner = getattr(route, "original_router", None)
            out.extend(flat(inner.routes) if inner is not None else [route])
        return out

    return flat(app.routes)


def database_at(url: str, revision: str) -> Database:
    """A database at ``url`` migrated only up to ``revision``, as an older server left it
    (``Database.migrate()`` then takes it to head, as a newer server starting on it does)."""
    from alembic import command

    db = Database(url, pool_size=1)
    cfg = alembic_config(url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return db


PG_SKIP = f"PostgreSQL not configured: set {PG_ENV} (see scripts/ci-postgres.sh)"


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'chaosiq.db'}"


@dataclass
class Tenant:
    org_id: str
    team_id: str
    token: str
    token_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}

    @property
    def base(self) -> str:
        return f"/api/v1/organizations/{self.org_id}/teams/{self.team_id}"


def seed(url: str) -> tuple[Tenant, Tenant]:
    db = Database(url, pool_size=1)
    db.migrate()
    store = Store(db)
    out = []
    for name in ("alpha", "beta"):
        org = store.organizations.create(f"org-{name}")
        team = store.teams.create(org["id"], f"team-{name}")
        secret, tok = store.tokens.create(f"token-{name}", [team["id"]])
        out.append(Tenant(org["id"], team["id"], secret, tok["id"]))
    db.dispose()
    return out[0], out[1]


@dataclass
class Env:
    client: TestClient
    a: Tenant
    b: Tenant
    url: str


# PostgreSQL has no file to keep a key file beside: its tests give the key in the
# environment (as replicas do), never in the user's data directory.
PG_TEST_SECRET_KEY = "test-secret-key-for-postgresql-tests-only"


def make_env(url: str, **settings: Any) -> Iterator[Env]:
    a, b = seed(url)
    app = create_app(Settings(database_url=url, **settings))
    with TestClient(app, base_url="http://testserver") as client:
        yield Env(client, a, b, url)


def env(db_url: str) -> Iterator[Env]:
    yield from make_env(db_url)


def lite(sqlite_url: str) -> Iterator[Env]:
    """SQLite only (for API behaviour that does not depend on storage)."""
    yield from make_env(sqlite_url)


# ---------------------------------------------------------------- subprocess
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_cmd() -> list[str]:
    return [sys.executable, "-m", "chaosiq_server.cli"]


def wait_healthy(base: str, proc: subprocess.Popen[Any], deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(base + "/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{base}/health not ready after {deadline_s}s")


@dataclass
class Served:
    base: str
    proc: subprocess.Popen[Any]
    log: Path


def start_server(url: str, log: Path, *extra: str, port: int | None = None) -> Served:
    port = port or free_port()
    fh = log.open("ab")
    proc = subprocess.Popen(
        [*server_cmd(), "serve", "--database-url", url, "--port", str(port), *extra],
        stdout=fh,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc)
    except Exception:
        proc.kill()
        proc.wait()
        raise
    return Served(base, proc, log)


def stop_server(served: Served) -> None:
    if served.proc.poll() is None:
        served.proc.terminate()
        try:
            served.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            served.proc.kill()
            served.proc.wait()
