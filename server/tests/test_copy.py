"""`chaosiq-server copy`: a database seeded by real `chaos run`s and the real API, copied
by the real command from SQLite to PostgreSQL, then served by `serve` on each: the
console pages and the API answers are the same; an interrupted copy resumes without
a row twice; a non-empty target is refused; bad input is one line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from chaosiq_server import models
from chaosiq_server.copy import TEST_SIGNAL_ENV
from server_helpers import (
    PG_ENV,
    PG_SKIP,
    PG_TEST_SECRET_KEY,
    cloud_event,
    journal,
    reset_postgres,
    server_cmd,
)
from sqlalchemy import create_engine, select

from chaosiq_core.testing import ServerProcess, Team, free_port, start_server

sys.path.insert(0, str(Path(__file__).parent / "console"))  # real_runs

from real_runs import cases, run_all

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
# the experiment page's window: the last 30 days from the time of the request
SINCE = re.compile(r"received since [^<]*? that finished")
TABLES = [t.name for t in models.metadata.sorted_tables]


def pg_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(PG_SKIP)
    return url


@dataclass
class Seeded:
    url: str
    team: Team
    other: Team
    ids: dict[str, dict[str, str]]  # case key -> ids of the real run
    api_execution: tuple[str, str]  # (experiment id, execution id) made through the API
    cookie: dict[str, str]  # a console session made before the copy


def copy(*args: str, hook: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != TEST_SIGNAL_ENV}
    if hook:
        env[TEST_SIGNAL_ENV] = hook
    return subprocess.run(
        [*server_cmd(), "copy", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one ``Error:`` line a refused copy prints (and nothing else on stderr)."""
    assert result.returncode != 0, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the server's schema, sorted."""
    engine = create_engine(url)
    with engine.connect() as conn:
        out = {
            t.name: sorted((tuple(r) for r in conn.execute(select(t))), key=repr)
            for t in models.metadata.sorted_tables
        }
    engine.dispose()
    return out


def counts(url: str) -> dict[str, int]:
    return {name: len(rows) for name, rows in dump(url).items()}


@pytest.fixture(scope="module")
def secret_key() -> Iterator[None]:
    """Both servers sign console sessions with the same key (as a move would keep it)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHAOSIQ_SERVER_SECRET_KEY", PG_TEST_SECRET_KEY)
        yield


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, secret_key: None) -> Iterator[Seeded]:
    """A SQLite database written by a real server: real `chaos run` / `chaos verify` runs,
    an experiment with tags and an execution of 150 events through the API, a pause, a
    safeguard stop, a team policy (and so audit log rows), a second organization, a
    revoked token, a console session, a failed sign-in."""
    tmp = tmp_path_factory.mktemp("copy-source")
    server = start_server(tmp / "server")
    try:
        team = server.new_team("acme", "sre")
        other = server.new_team("globex", "ops")
        selected = [c for c in cases() if c.key in ("passed", "interrupted", "v-passed")]
        ran = run_all(team, tmp / "runs", selected)
        exp = {**_experiment(), "tags": ["copy", "postgres"]}
        eid = team.api("POST", "/experiments", json={"experiment": exp}).json()["id"]
        resp = team.api("POST", f"/experiments/{eid}/executions", json={"journal": journal(exp)})
        xid = resp.json()["id"]
        batch = [cloud_event("activity-finished", payload={"i": i}) for i in range(150)]
        assert team.api("POST", f"/experiments/{eid}/executions/{xid}/events/batch", json=batch).ok
        assert team.api("POST", f"/executions/{xid}/pause", json={"reason": "held"}).status_code == 201
        assert team.api("POST", f"/executions/{xid}/resume").status_code == 200
        assert team.stop(xid, "stopped before the move").status_code == 201
        window = {"name": "Friday freeze", "kind": "window", "tag": "nothing-has-it", "start_day": 4,
                  "start_time": "16:00", "end_day": 0, "end_time": "08:00",
                  "time_zone": "Europe/Paris"}  # fmt: skip
        assert team.api("POST", "/policies", json=window).status_code == 201
        # finished: a running execution's page shows its time so far, which differs per request
        done = journal(exp, status="interrupted")
        assert team.api("PUT", f"/experiments/{eid}/executions/{xid}", json={"journal": done}).ok
        other_eid = other.api("POST", "/experiments", json={"experiment": _experiment()}).json()["id"]
        assert other.api("POST", f"/experiments/{other_eid}/executions", json={"journal": journal({})}).ok
        revoked = json.loads(server.cli("token", "create", "--team", team.team_id, "--json").stdout)
        server.cli("token", "revoke", revoked["id"])
        http = requests.Session()
        http.headers["Origin"] = server.url

        def sign_in(token: str) -> int:
            form = CSRF.search(http.get(server.url + "/signin", timeout=10).text)
            assert form, "no CSRF token in the sign-in page"
            data = {"token": token, "csrf_token": form.group(1), "next": ""}
            return http.post(server.url + "/signin", data=data, timeout=10, allow_redirects=False).status_code

        assert sign_in(team.token) == 303
        cookie = http.cookies.get_dict()
        http.cookies.clear()
        assert sign_in("not-a-token") != 303  # a failed sign-in (the rate limit's table)
        ids = {key: case.ids for key, case in ran.items()}
    finally:
        server.stop()
    yield Seeded(server.database_url, team, other, ids, (eid, xid), cookie)


def _experiment() -> dict[str, Any]:
    from server_helpers import experiment

    return experiment("An experiment published through the API")


def _serve(url: str, log: Path) -> ServerProcess:
    return ServerProcess(url, free_port(), [], log_path=log).start()


def _pages(seeded: Seeded) -> list[str]:
    t = seeded.team
    team = f"/organizations/{t.org_id}/teams/{t.team_id}"
    eid, xid = seeded.api_execution
    v = seeded.ids["v-passed"]
    paths = [
        f"{team}/executions",
        f"{team}/executions?outcome=interrupted",
        f"{team}/experiments/{eid}/executions/{xid}",
        f"{team}/experiments/{eid}",
        f"{team}/verifications",
        f"{team}/verifications/{v['verification_id']}",
        f"{team}/verifications/{v['verification_id']}/runs/{v['run_id']}",
        f"{team}/policies",
        f"{team}/audit",
    ]
    for key in ("passed", "interrupted", "v-passed"):
        ids = seeded.ids[key]
        paths += [
            f"{team}/experiments/{ids['experiment_id']}/executions/{ids['execution_id']}",
            f"{team}/experiments/{ids['experiment_id']}",
        ]
    return paths


def _api(seeded: Seeded) -> list[str]:
    eid, xid = seeded.api_execution
    v = seeded.ids["v-passed"]
    paths = [
        "/api/v1/organizations",
        f"/api/v1/organizations/{seeded.team.org_id}/teams",
        "/experiments?limit=100",
        "/executions?limit=100",
        f"/experiments/{eid}/executions/{xid}",
        f"/experiments/{eid}/executions/{xid}/events?limit=500",
        f"/experiments/{eid}/executions/{xid}/policies",
        f"/experiments/{eid}/history",
        "/verifications",
        f"/verifications/{v['verification_id']}",
        f"/verifications/{v['verification_id']}/runs",
        f"/verifications/{v['verification_id']}/runs/{v['run_id']}",
        f"/verifications/{v['verification_id']}/runs/{v['run_id']}/events",
        f"/verifications/{v['verification_id']}/trend",
        "/policies",
        "/audit",
    ]
    for key in ("passed", "interrupted", "v-passed"):
        ids = seeded.ids[key]
        paths += [f"/executions/{ids['execution_id']}", f"/executions/{ids['execution_id']}/events?limit=500"]
    return paths


def _snapshot(server: ServerProcess, seeded: Seeded) -> dict[str, Any]:
    """The console pages (as the session made before the copy sees them) and API answers."""
    base = server.url
    out: dict[str, Any] = {}
    for path in _pages(seeded):
        resp = requests.get(base + path, cookies=seeded.cookie, timeout=10, allow_redirects=False)
        assert resp.status_code == 200, (path, resp.status_code)
        page = CSRF.sub('name="csrf_token" value="…"', resp.text.replace(base, "<server>"))
        out[path] = SINCE.sub("received since … that finished", page)
    team = Team(server, seeded.team.org_id, "", seeded.team.team_id, "", seeded.team.token)
    for path in _api(seeded):
        resp = team.api("GET", path)
        assert resp.status_code == 200, (path, resp.status_code, resp.text)
        out["API " + path] = _per_request_out(json.loads(resp.text.replace(base, "<server>")))
    return out


def _per_request_out(doc: Any) -> Any:
    """``doc`` without the start of a window counted back from the time of the request."""
    if isinstance(doc, dict):
        return {k: "…" if k == "since" else _per_request_out(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_per_request_out(v) for v in doc]
    return doc


@pytest.mark.postgres
def test_copy_to_postgresql_serves_the_same_console_and_api(seeded: Seeded, tmp_path: Path) -> None:
    target = pg_url()
    reset_postgres(target)
    result = copy("--from", seeded.url, "--to", target, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    source_counts = counts(seeded.url)
    # every table of the schema, each with the counts it printed, which are the real ones
    assert [t["table"] for t in report["tables"]] == TABLES
    for t in report["tables"]:
        assert t["source"] == t["copied"] == t["target"] == source_counts[t["table"]], t
    assert report["rows_copied"] == sum(source_counts.values())
    for table in TABLES:  # nothing the seed made is missing from the copy
        assert source_counts[table] > 0, f"the seed wrote no row in {table}"
    assert dump(target) == dump(seeded.url)

    lite = _serve(seeded.url, tmp_path / "sqlite.log")
    try:
        before = _snapshot(lite, seeded)
    finally:
        lite.stop()
    pg = _serve(target, tmp_path / "pg.log")
    try:
        after = _snapshot(pg, seeded)
        # the PostgreSQL sequences continue after the copied keys: new events are stored
        eid, xid = seeded.api_execution
        team = Team(pg, seeded.team.org_id, "", seeded.team.team_id, "", seeded.team.token)
        more = [cloud_event("activity-finished", payload={"after": "copy"}) for _ in range(3)]
        assert team.api("POST", f"/experiments/{eid}/executions/{xid}/events/batch", json=more).ok
        assert len(team.events(xid)) == 153
    finally:
        pg.stop()
    assert before.keys() == after.keys()
    for key in before:
        assert before[key] == after[key], key
    # the human summary says the same counts
    human = copy("--from", seeded.url, "--to", target, "--overwrite")
    assert human.returncode == 0, human.stderr
    for table, n in source_counts.items():
        assert re.search(rf"{table}\s+│\s+{n:,}\s+│\s+0\s+│\s+{n:,}\s+│\s+{n:,}", human.stdout), (
            table,
            human.stdout,
        )


@pytest.mark.postgres
def test_interrupted_copy_resumes_without_duplicates(seeded: Seeded, tmp_path: Path) -> None:
    target = pg_url()
    reset_postgres(target)
    source = counts(seeded.url)
    args = ("--from", seeded.url, "--to", target, "--batch-size", "7")

    # Ctrl-C once 20 events are in: batches of 7, so 21 committed, later tables empty
    stopped = copy(*args, hook="events:20:INT")
    assert stopped.returncode == 130, stopped.stderr
    assert "interrupted during table events (21 of " in stopped.stderr
    assert "--resume" in stopped.stderr
    partial = counts(target)
    assert partial["events"] == 21
    order = TABLES.index("events")
    assert all(partial[t] == source[t] for t in TABLES[:order])
    assert all(partial[t] == 0 for t in TABLES[order + 1 :])

    # not told: refused, nothing written
    refused = one_error_line(copy(*args))
    assert "not empty" in refused and "--resume" in refused and "--overwrite" in refused
    assert counts(target) == partial

    # resumed, then killed (-9) after 14 more events
    killed = copy(*args, "--resume", hook="events:14:KILL")
    assert killed.returncode == -9
    assert counts(target)["events"] == 35

    done = copy(*args, "--resume", "--json")
    assert done.returncode == 0, done.stderr
    report = {t["table"]: t for t in json.loads(done.stdout)["tables"]}
    assert report["events"] == {
        "table": "events",
        "source": source["events"],
        "target_before": 35,
        "copied": source["events"] - 35,
        "target": source["events"],
    }
    assert all(report[t]["copied"] == 0 for t in TABLES[:order])
    assert dump(target) == dump(seeded.url)

    # --overwrite empties the target first: the same copy again
    again = copy(*args, "--overwrite", "--json")
    assert again.returncode == 0, again.stderr
    assert all(t["copied"] == source[t["table"]] for t in json.loads(again.stdout)["tables"])
    assert dump(target) == dump(seeded.url)

    # and back: PostgreSQL to a new SQLite file, in batches keyed the same way
    back = f"sqlite:///{tmp_path / 'back.db'}"
    returned = copy("--from", target, "--to", back, "--batch-size", "7", "--json")
    assert returned.returncode == 0, returned.stderr
    assert dump(back) == dump(seeded.url)


def test_bad_input_is_one_line(seeded: Seeded, tmp_path: Path) -> None:
    new = f"sqlite:///{tmp_path / 'new.db'}"
    cases_ = [
        (("--from", seeded.url, "--to", "mysql://u:secret@host/db"), "unsupported target URL"),
        (("--from", seeded.url, "--to", "not a url"), "the target is not a database URL"),
        (("--from", f"sqlite:///{tmp_path / 'absent.db'}", "--to", new), "does not exist"),
        (
            ("--from", seeded.url, "--to", seeded.url.replace("/server/", "/server/../server/")),
            "the same database",
        ),
        (
            ("--from", seeded.url, "--to", "postgresql+psycopg://u:secret@127.0.0.1:1/chaosiq"),
            "cannot reach the target database postgresql+psycopg://u:***@127.0.0.1:1/chaosiq",
        ),
        (("--from", seeded.url, "--to", new, "--resume", "--overwrite"), "exclude each other"),
    ]
    for args, expected in cases_:
        line = one_error_line(copy(*args))
        assert expected in line, (args, line)
        assert "secret" not in line
    assert not (tmp_path / "absent.db").exists()
    assert not (tmp_path / "new.db").exists()

    # a SQLite file that is not a chaosiq-server database
    other = tmp_path / "other.db"
    import sqlite3

    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    assert "is not a chaosiq-server database" in one_error_line(
        copy("--from", f"sqlite:///{other}", "--to", new)
    )


def test_older_source_schema_is_refused_unless_migrated(tmp_path: Path) -> None:
    from alembic import command
    from chaosiq_server.db import alembic_config, schema_head

    old = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(old), "0004")
    new = f"sqlite:///{tmp_path / 'new.db'}"
    line = one_error_line(copy("--from", old, "--to", new))
    assert f"schema revision 0004, this chaosiq-server's is {schema_head()}" in line
    assert "--migrate-source" in line
    done = copy("--from", old, "--to", new, "--migrate-source", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["revision"] == schema_head()
