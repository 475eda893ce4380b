"""Migrations: several servers starting at once migrate the schema exactly once,
a server older than the database's schema refuses to start, and the tokens of a
database made before roles become owners that still work."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from chaosiq_server.db import utcnow
from chaosiq_server.store import Store
from chaosiq_server.store.tokens import generate_token, hash_token
from server_helpers import (
    PG_ENV,
    PG_SKIP,
    database_at,
    free_port,
    make_env,
    reset_postgres,
    seed,
    server_cmd,
    wait_healthy,
)
from sqlalchemy import create_engine, text

# `chaosiq-server serve …` (argv[3:]) once the modules it needs are imported
# (it then creates the file argv[1]) and the file argv[2] exists: processes
# whose imports take different times begin migrating within a millisecond.
AT_ONCE = """
import sys, time
import alembic.command, alembic.runtime.migration, alembic.script, psycopg, uvicorn
import chaosiq_server.cli, chaosiq_server.db, chaosiq_server.models
from pathlib import Path
Path(sys.argv[1]).touch()
while not Path(sys.argv[2]).exists():
    time.sleep(0.001)
chaosiq_server.cli.main(sys.argv[3:])
"""


def _serve(url: str, port: int) -> list[str]:
    return ["serve", "--init", "--database-url", url, "--port", str(port)]


@pytest.mark.postgres
def test_servers_started_at_once_on_an_empty_postgres_both_serve(tmp_path: Path) -> None:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(PG_SKIP)
    for attempt in range(3):  # a race: three tries
        reset_postgres(url)
        ports = [free_port(), free_port()]
        logs = [tmp_path / f"s{attempt}-{i}.log" for i in range(2)]
        go = tmp_path / f"go{attempt}"
        ready = [log.with_suffix(".ready") for log in logs]
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", AT_ONCE, str(r), str(go), *_serve(url, port)],
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
            )
            for port, log, r in zip(ports, logs, ready, strict=True)
        ]
        deadline = time.monotonic() + 60
        while not all(r.exists() for r in ready):
            assert all(p.poll() is None for p in procs) and time.monotonic() < deadline
            time.sleep(0.01)
        go.touch()
        try:
            for port, proc, log in zip(ports, procs, logs, strict=True):
                try:
                    wait_healthy(f"http://127.0.0.1:{port}", proc, deadline_s=60)
                except RuntimeError as exc:
                    raise AssertionError(f"{exc}: {log.read_text()[-2000:]}") from exc
                assert httpx.get(f"http://127.0.0.1:{port}/health").json()["status"] == "ok"
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=30)
        engine = create_engine(url)
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        engine.dispose()
        assert len(versions) == 1


def test_a_server_older_than_the_schema_refuses_to_start(db_url: str) -> None:
    seed(db_url)
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_from_a_newer_server'"))
    engine.dispose()
    for command in (["serve", "--port", "0"], ["token", "list"], ["init"]):
        r = subprocess.run(
            [*server_cmd(), *command, "--database-url", db_url], capture_output=True, text=True, timeout=60
        )
        assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
        (line,) = r.stderr.strip().splitlines()
        assert "0099_from_a_newer_server" in line and "newer than this chaosiq-server" in line, line


def test_tokens_made_before_roles_become_owners_that_still_work(db_url: str) -> None:
    """0006 adds ``tokens.role``: a token stored by the server of 0005 (a SHA-256 of its
    secret, as today) is an owner afterwards, authenticates, and may do an owner's thing."""
    db = database_at(db_url, "0005")  # the revision before 0006_token_roles_audit
    secret, now = generate_token(), utcnow()
    with db.engine.begin() as conn:  # as the server of 0005 stored them: no role column yet
        conn.execute(
            text("INSERT INTO organizations (id, name, created_at) VALUES ('o', 'org-old', :t)"), {"t": now}
        )
        conn.execute(
            text("INSERT INTO teams (id, org_id, name, created_at) VALUES ('t', 'o', 'team-old', :t)"),
            {"t": now},
        )
        conn.execute(
            text("INSERT INTO tokens (id, name, token_hash, created_at) VALUES ('k', 'old-token', :h, :t)"),
            {"h": hash_token(secret), "t": now},
        )
        conn.execute(text("INSERT INTO token_teams (token_id, team_id) VALUES ('k', 't')"))
    db.migrate()
    with db.engine.connect() as conn:
        row = conn.execute(text("SELECT role, last_used_at FROM tokens WHERE id = 'k'")).one()
    assert (row.role, row.last_used_at) == ("owner", None)
    found = Store(db).tokens.live_by_hash(hash_token(secret))
    db.dispose()
    assert found is not None and (found.id, found.role) == ("k", "owner")
    assert [ref.team_id for ref in found.teams] == ["t"]
    # the app of this version on the migrated database: the old token manages policies
    with contextmanager(make_env)(db_url) as env:
        c, old = env.client, {"Authorization": f"Bearer {secret}", "Accept": "application/json"}
        base = "/api/v1/organizations/o/teams/t"
        policy = {"name": "freeze", "kind": "deny", "tag": "nothing-has-it"}
        r = c.post(f"{base}/policies", json=policy, headers=old)
        assert r.status_code == 201, r.text
        assert [p["name"] for p in c.get(f"{base}/policies", headers=old).json()["items"]] == ["freeze"]
        audit = c.get(f"{base}/audit", headers=old).json()["items"]
        assert [(e["action"], e["token_id"], e["token_name"]) for e in audit] == [
            ("policy.create", "k", "old-token")
        ]
        assert c.get(env.a.base, headers=old).status_code == 404  # still only its own team
