"""When the database cannot store what it is sent: disk full, a read-only file,
the file deleted while serving. Every write answers 503 with ``Retry-After``
(clients keep their events and retry), the log says why once, and a lost
database is never silently replaced by an empty one."""

from __future__ import annotations

import ctypes
import json
import logging
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import server_helpers
from server_helpers import (
    CE_HEADERS,
    cloud_event,
    experiment,
    journal,
    seed,
    server_cmd,
    start_server,
    stop_server,
)
from sqlalchemy import event

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _signed_in(c: Any, token: str) -> None:
    c.headers["Origin"] = str(c.base_url).rstrip("/")  # as a browser sends it with a form
    page = c.get("/signin")
    form = {"token": token, "csrf_token": CSRF_RE.search(page.text).group(1), "next": ""}
    assert c.post("/signin", data=form, follow_redirects=False).status_code == 303


def _execution(c: Any, tenant: Any) -> str:
    eid = c.post(
        f"{tenant.base}/experiments", json={"experiment": experiment()}, headers=tenant.headers
    ).json()["id"]
    r = c.post(
        f"{tenant.base}/experiments/{eid}/executions", json={"journal": journal({})}, headers=tenant.headers
    )
    return f"{tenant.base}/experiments/{eid}/executions/{r.json()['id']}"


def _assert_unavailable(r: Any, words: str) -> None:
    assert r.status_code == 503, (r.status_code, r.text)
    assert int(r.headers["retry-after"]) > 0
    assert words in r.json()["detail"], r.text


# ------------------------------------------------------------------ disk full
def test_disk_full_answers_503_everywhere_and_recovers(lite: Any, caplog: pytest.LogCaptureFixture) -> None:
    """SQLite's ``max_page_count`` makes the database full, as a full disk does
    (``database or disk is full``, SQLITE_FULL)."""
    c, a = lite.client, lite.a
    x = _execution(c, a)
    db = c.app.state.db
    limit = {"pages": None}

    @event.listens_for(db.engine, "connect")
    def _cap(dbapi_conn: Any, _rec: Any) -> None:
        if limit["pages"] is not None:
            dbapi_conn.execute(f"PRAGMA max_page_count={limit['pages']}")

    def full(is_full: bool) -> None:
        limit["pages"] = None
        db.engine.dispose()
        if is_full:
            with db.engine.connect() as conn:
                limit["pages"] = conn.exec_driver_sql("PRAGMA page_count").scalar()
            db.engine.dispose()  # every connection from now on has the cap

    full(True)

    big = "x" * 20_000
    headers = {**a.headers, **CE_HEADERS}
    caplog.set_level(logging.INFO, logger="chaosiq_server")
    # The single-event POST (the front door), a batch, a new execution and a policy.
    single = c.post(f"{x}/events", content=json.dumps(cloud_event("e", payload=big)), headers=headers)
    _assert_unavailable(single, "full")
    batch = c.post(
        f"{x}/events/batch", json=[cloud_event("e", payload=big) for _ in range(3)], headers=a.headers
    )
    _assert_unavailable(batch, "full")
    policy = c.post(f"{x}/policies", json={"name": "n", "allowed": False, "reason": big}, headers=a.headers)
    _assert_unavailable(policy, "full")
    refused = [r for r in caplog.records if r.levelno == logging.ERROR and "503" in r.getMessage()]
    assert len(refused) == 1 and "full" in refused[0].getMessage(), [r.getMessage() for r in caplog.records]
    assert c.get("/health").status_code == 200  # alive: the data is all there

    # The console: a browser gets a page saying so, with Retry-After.
    full(False)
    _signed_in(c, a.token)
    page_url = x.replace("/api/v1", "")
    page = c.get(page_url)
    assert page.status_code == 200
    full(True)
    for _ in range(40):  # until the policies' last page is full too
        stop = c.post(
            page_url + "/stop",
            data={"reason": big, "csrf_token": CSRF_RE.search(page.text).group(1)},
            headers={"accept": "text/html"},
            follow_redirects=False,
        )
        if stop.status_code != 303:
            break
    assert stop.status_code == 503 and int(stop.headers["retry-after"]) > 0
    assert "text/html" in stop.headers["content-type"] and "full" in stop.text

    # Space again: the client's retry is stored.
    full(False)
    again = c.post(f"{x}/events", content=json.dumps(cloud_event("e", payload="small")), headers=headers)
    assert again.status_code == 201, again.text
    assert any("takes writes again" in r.getMessage() for r in caplog.records)


# ------------------------------------------------------ real server processes
def _without_root_file_override() -> None:
    """In the server process: root loses CAP_DAC_OVERRIDE (and read-search), so
    file modes apply to it as to any user (a no-op for other users)."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
            libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP


@pytest.fixture
def served(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    a, _ = seed(sqlite_url)
    real_popen = subprocess.Popen

    def popen(*args: Any, **kwargs: Any) -> Any:
        return real_popen(*args, preexec_fn=_without_root_file_override, **kwargs)

    monkeypatch.setattr(server_helpers.subprocess, "Popen", popen)
    s = start_server(sqlite_url, tmp_path / "server.log")
    monkeypatch.undo()
    s.tenant = a  # type: ignore[attr-defined]
    s.db_path = Path(sqlite_url.removeprefix("sqlite:///"))  # type: ignore[attr-defined]
    try:
        yield s
    finally:
        stop_server(s)


def _post_both(c: httpx.Client, x: str, tag: str) -> tuple[httpx.Response, httpx.Response]:
    single = c.post(
        f"{x}/events", content=json.dumps(cloud_event("e", event_id=f"{tag}-1")), headers=CE_HEADERS
    )
    batch = c.post(f"{x}/events/batch", json=[cloud_event("e", event_id=f"{tag}-{i}") for i in (2, 3)])
    return single, batch


def _stored(c: httpx.Client, x: str) -> set[str]:
    return {e["id"] for e in c.get(f"{x}/events", params={"limit": 1000}).json()["items"]}


def test_read_only_file_while_serving_answers_503_then_recovers(served: Any) -> None:
    a = served.tenant
    with httpx.Client(base_url=served.base, headers=a.headers, timeout=10) as c:
        x = _execution(c, a)
        assert all(r.status_code in (200, 201) for r in _post_both(c, x, "before"))
        os.chmod(served.db_path, 0o444)
        try:
            for r in _post_both(c, x, "ro"):
                _assert_unavailable(r, "read-only")
            assert c.get("/health").status_code == 200
        finally:
            os.chmod(served.db_path, 0o644)
        assert all(r.status_code in (200, 201) for r in _post_both(c, x, "ro"))  # the client's retry
        assert {"ro-1", "ro-2", "ro-3", "before-1"} <= _stored(c, x)
    log = served.log.read_text()
    errors = [line for line in log.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "is read-only" in errors[0], log  # once, not per request
    assert "takes writes again" in log


def test_deleted_file_is_detected_and_not_replaced_on_restart(
    served: Any, sqlite_url: str, tmp_path: Path
) -> None:
    a = served.tenant
    with httpx.Client(base_url=served.base, headers=a.headers, timeout=10) as c:
        x = _execution(c, a)
        assert all(r.status_code in (200, 201) for r in _post_both(c, x, "before"))
        served.db_path.unlink()
        for i in range(5):
            for r in _post_both(c, x, f"gone{i}"):
                _assert_unavailable(r, "deleted")
        health = c.get("/health")
        assert health.status_code == 503 and health.json()["status"] == "lost"
    stop_server(served)
    log = served.log.read_text()
    errors = [line for line in log.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "was deleted while serving" in errors[0], errors

    # Restart: no empty database in its place, one clear line.
    r = subprocess.run(
        [*server_cmd(), "serve", "--database-url", sqlite_url, "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "no chaosiq-server database" in r.stderr, r.stderr
    assert not served.db_path.exists()
    # Told to, it starts on a new one.
    fresh = start_server(sqlite_url, tmp_path / "fresh.log", "--init")
    stop_server(fresh)
    assert served.db_path.exists()


def test_admin_command_on_a_read_only_database_is_one_line(sqlite_url: str) -> None:
    seed(sqlite_url)
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    os.chmod(path, 0o444)
    try:
        r = subprocess.run(
            [*server_cmd(), "org", "create", "acme", "--database-url", sqlite_url],
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=_without_root_file_override,
        )
    finally:
        os.chmod(path, 0o644)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert "database unavailable" in line and "read-only" in line, line
