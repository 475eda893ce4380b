"""Event ingestion: the timeline shortcut, the maintained event count, group
commits of concurrent events, the lean fast path and its fall-backs."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from alembic import command
from chaosiq_server.app import create_app
from chaosiq_server.config import Settings
from chaosiq_server.db import Database, alembic_config
from chaosiq_server.store import Store
from fastapi.testclient import TestClient
from server_helpers import (
    CE_HEADERS,
    cloud_event,
    experiment,
    journal,
    make_env,
    seed,
    start_server,
    stop_server,
)
from sqlalchemy import text as sql

from chaosiq_core.testing import wait_until


def _execution(c: Any, t: Any) -> tuple[str, str]:
    eid = c.post(f"{t.base}/experiments", json={"experiment": experiment()}, headers=t.headers).json()["id"]
    r = c.post(f"{t.base}/experiments/{eid}/executions", json={"journal": journal({})}, headers=t.headers)
    return eid, r.json()["id"]


def test_timeline_shortcut_pages_like_the_long_route(env):
    c, a, b = env.client, env.a, env.b
    eid, xid = _execution(c, a)
    long = f"{a.base}/experiments/{eid}/executions/{xid}/events"
    evs = [cloud_event("t", time=f"2024-01-01T00:00:{59 - i:02d}+00:00", event_id=f"e{i}") for i in range(25)]
    assert c.post(f"{long}/batch", json=evs, headers=a.headers).json() == {"received": 25, "stored": 25}

    short = f"{a.base}/executions/{xid}/events"
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 10} | ({"cursor": cursor} if cursor else {})
        page = c.get(short, params=params, headers=a.headers).json()
        assert page == c.get(long, params=params, headers=a.headers).json()
        assert page["total"] == 25
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"e{i}" for i in reversed(range(25))]  # ordered by event time

    # Another team's execution, or an unknown one: 404 (not 403), with either token.
    assert c.get(f"{b.base}/executions/{xid}/events", headers=b.headers).status_code == 404
    assert c.get(short, headers=b.headers).status_code == 404
    assert c.get(f"{a.base}/executions/nope/events", headers=a.headers).status_code == 404
    assert c.get(short, headers=a.headers, params={"cursor": "!!bad"}).status_code == 400


def test_events_count_follows_idempotent_inserts(env):
    c, a = env.client, env.a
    eid, xid = _execution(c, a)
    x = f"{a.base}/experiments/{eid}/executions/{xid}"
    h = {**a.headers, **CE_HEADERS}
    one = cloud_event("t", event_id="same")
    assert c.post(f"{x}/events", content=json.dumps(one), headers=h).status_code == 201
    assert c.post(f"{x}/events", content=json.dumps(one), headers=h).json() == {"id": "same", "stored": False}
    batch = [cloud_event("t", event_id=f"b{i % 5}") for i in range(10)] + [one]
    assert c.post(f"{x}/events/batch", json=batch, headers=a.headers).json() == {"received": 11, "stored": 5}
    assert c.post(f"{x}/events/batch", json=batch, headers=a.headers).json() == {"received": 11, "stored": 0}
    assert c.get(x, headers=a.headers).json()["events_count"] == 6
    assert c.get(f"{x}/events", headers=a.headers).json()["total"] == 6
    # A rejected batch (one bad event) stores and counts nothing.
    bad = [cloud_event("t"), {**cloud_event("t"), "time": "nope"}]
    assert c.post(f"{x}/events/batch", json=bad, headers=a.headers).status_code == 422
    assert c.get(x, headers=a.headers).json()["events_count"] == 6


def test_concurrent_events_share_commits_and_stay_idempotent(env):
    """50 concurrent POSTs (10 of them with one id): every answer comes after a
    commit, the repeated id is stored once, and commits are shared."""
    c, a = env.client, env.a
    eid, xid = _execution(c, a)
    x = f"{a.base}/experiments/{eid}/executions/{xid}/events"
    app = c.app
    writer = app.state.store.events.writer
    c.post(x, content=json.dumps(cloud_event("warm-up")), headers={**a.headers, **CE_HEADERS})

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as ac:
            evs = [cloud_event("t", event_id="dup" if i < 10 else f"u{i}") for i in range(50)]
            h = {**a.headers, **CE_HEADERS}
            return await asyncio.gather(*(ac.post(x, content=json.dumps(ev), headers=h) for ev in evs))

    before = writer.groups
    answers = asyncio.run(burst())
    codes = [r.status_code for r in answers]
    assert codes[:10].count(201) == 1 and codes[:10].count(200) == 9
    assert codes[10:] == [201] * 40
    assert writer.groups - before < 50  # group commit: fewer commits than requests
    page = c.get(x, headers=a.headers, params={"limit": 1000}).json()
    assert page["total"] == 42 and len(page["items"]) == 42


def test_fast_path_falls_back_for_errors_and_cold_caches(lite):
    """The lean route answers the happy path; anything else gets the app's own answer."""
    c, a, b = lite.client, lite.a, lite.b
    eid, xid = _execution(c, a)
    x = f"{a.base}/experiments/{eid}/executions/{xid}/events"
    h = {**a.headers, **CE_HEADERS}
    assert c.post(x, content=json.dumps(cloud_event("t")), headers=h).status_code == 201
    # Wrong experiment id for a cached execution, foreign token, no token.
    wrong = f"{a.base}/experiments/other/executions/{xid}/events"
    assert c.post(wrong, content=json.dumps(cloud_event("t")), headers=h).status_code == 404
    assert (
        c.post(x, content=json.dumps(cloud_event("t")), headers={**b.headers, **CE_HEADERS}).status_code
        == 404
    )
    assert c.post(x, content=json.dumps(cloud_event("t")), headers=CE_HEADERS).status_code == 401
    # Bad bodies keep their documented answers.
    r = c.post(x, content=b"{nope", headers=h)
    assert r.status_code == 400 and "malformed JSON" in json.dumps(r.json()["detail"])
    r = c.post(x, content=json.dumps({**cloud_event("t"), "data": '{"x": NaN}'}), headers=h)
    assert r.status_code == 422
    for odd in ({"specversion": []}, {"specversion": {}}, {"time": 3}, {"data_base64": 1}):
        r = c.post(x, content=json.dumps({**cloud_event("t"), **odd}), headers=h)
        assert r.status_code == 422, (odd, r.text)
    r = c.post(f"{x}/batch", content=json.dumps([cloud_event("t"), {"id": 1}]), headers=h)
    assert r.status_code == 422 and r.json()["detail"]
    # data as a JSON string is stored as its value; a non-JSON string stays a string.
    ev = {**cloud_event("t", event_id="s"), "data": "not json"}
    assert c.post(x, content=json.dumps(ev), headers=h).status_code == 201
    items = {i["id"]: i for i in c.get(x, headers=a.headers, params={"limit": 1000}).json()["items"]}
    assert items["s"]["data"] == "not json"
    assert all(isinstance(i["data"], dict) for k, i in items.items() if k != "s")


def test_new_executions_are_known_to_the_fast_path_at_once(lite):
    """Creating an execution (either route) caches it for its team: a run's first batch
    (often its only one, and the longest request of a short run) needs no lookup."""
    c, a, b = lite.client, lite.a, lite.b
    store = c.app.state.store
    eid, xid = _execution(c, a)
    body = {"experiment": experiment(), "journal": journal({})}
    r = c.post(f"{a.base}/executions", json=body, headers=a.headers)
    assert r.status_code == 201
    both = [(eid, xid), (r.json()["experiment_id"], r.json()["id"])]
    for e, x in both:
        assert store.executions.cached(a.team_id, x, e)
        assert not store.executions.cached(b.team_id, x, e)  # another team still gets 404
        batch = f"{a.base}/experiments/{e}/executions/{x}/events/batch"
        stored = c.post(batch, json=[cloud_event("t")], headers=a.headers).json()
        assert stored == {"received": 1, "stored": 1}
        assert c.post(batch, json=[cloud_event("t")], headers=b.headers).status_code == 404


def test_journal_put_fast_path_stores_what_the_app_stores(env):
    """The final journal's PUT: same stored journal, status and answer as the FastAPI route."""
    c, a, b = env.client, env.a, env.b
    eid, xid = _execution(c, a)
    x = f"{a.base}/experiments/{eid}/executions/{xid}"
    final = journal({}, status="failed")
    final["extensions"] = [{"name": "chaosiq", "note": 'é ✓ "quoted"', "n": 1.5}]
    jh = {**a.headers, "Content-Type": "application/json"}
    ev = json.dumps(cloud_event("t"))
    assert c.post(f"{x}/events", content=ev, headers={**a.headers, **CE_HEADERS}).status_code == 201
    # chaosiq's own body: {"journal": <text>}, stored as it came (not encoded again)
    text = json.dumps(final, ensure_ascii=False)
    r = c.put(x, content=('{"journal": ' + text + "}").encode(), headers=jh)
    assert r.status_code == 204 and r.content == b""
    assert r.headers["content-location"] == f"http://testserver{x}"
    got = c.get(x, headers=a.headers).json()
    assert got["status"] == "failed" and got["journal"] == final
    db = Database(env.url)
    with db.read() as conn:
        stored = conn.execute(sql("SELECT journal FROM executions WHERE id = :x"), {"x": xid}).scalar_one()
    db.dispose()
    assert stored == text
    # any other spelling of the body (spaces, other members) is decoded and encoded again
    final["status"] = "completed"
    spaced = json.dumps({"other": 1, "journal": final}, indent=2).encode()
    assert c.put(x, content=spaced, headers=jh).status_code == 204
    got = c.get(x, headers=a.headers).json()
    assert got["status"] == "completed" and got["journal"] == final
    # what the fast path does not take gets the app's own answers
    assert c.put(x, content=b'{"journal": {"status": NaN}}', headers=jh).status_code == 422
    assert c.put(x, content=b'{"journal": [1]}', headers=jh).status_code == 422
    assert c.put(x, content=b"{nope", headers=jh).status_code in (400, 422)
    assert c.put(x, json={"journal": final}, headers=b.headers).status_code == 404
    assert c.put(x, json={"journal": final}).status_code == 401
    wrong = f"{a.base}/experiments/other/executions/{xid}"
    assert c.put(wrong, json={"journal": final}, headers=a.headers).status_code == 404
    assert c.get(x, headers=a.headers).json()["journal"] == final  # none of those changed it


def test_first_event_after_restart_is_accepted(sqlite_url):
    """A fresh process has cold caches: the first event goes through the full app."""
    for env in make_env(sqlite_url):
        a = env.a
        eid, xid = _execution(env.client, a)
    with TestClient(create_app(Settings(database_url=sqlite_url))) as client:
        x = f"{a.base}/experiments/{eid}/executions/{xid}/events"
        r = client.post(x, content=json.dumps(cloud_event("t")), headers={**a.headers, **CE_HEADERS})
        assert r.status_code == 201
        assert client.get(x, headers=a.headers).json()["total"] == 1


def test_api_routes_are_matched_before_the_console(lite):
    from chaosiq_server.console.views import router as console_router
    from chaosiq_server.routes import API_ROUTERS, meta

    included = [getattr(r, "original_router", r) for r in lite.client.app.router.routes]
    console = included.index(console_router)
    for api in API_ROUTERS:
        assert included.index(api) < console
    assert included.index(meta.probe_router) > console
    # ``/`` still belongs to the console for browsers and to the API probe for tokens.
    assert lite.client.get("/", follow_redirects=False).headers["location"] == "/signin"
    assert lite.client.head("/", headers=lite.a.headers).status_code == 200


def test_migration_backfills_events_count(db_url):
    """Databases created before the counter existed get it filled from the events."""
    db = Database(db_url, pool_size=1)
    cfg = alembic_config(db_url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    now = "2024-01-01T00:00:00.000000Z"
    with db.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO organizations (id, name, created_at) VALUES ('o', 'o', '2024')")
        conn.exec_driver_sql(
            "INSERT INTO teams (id, org_id, name, created_at) VALUES ('t', 'o', 't', '2024')"
        )
        conn.exec_driver_sql(
            "INSERT INTO experiments (id, team_id, content_hash, title, body, created_at, updated_at) "
            "VALUES ('e', 't', 'h', 'x', '{}', '2024', '2024')"
        )
        for xid in ("x1", "x2"):
            conn.exec_driver_sql(
                "INSERT INTO executions (id, team_id, experiment_id, status, journal, created_at, "
                f"updated_at) VALUES ('{xid}', 't', 'e', 'running', '{{}}', '2024', '2024')"
            )
        for i in range(3):
            conn.exec_driver_sql(
                "INSERT INTO events (execution_id, event_id, type, source, time, time_key, data, "
                f"received_at) VALUES ('x1', 'ev{i}', 't', 's', NULL, '{now}', 'null', '{now}')"
            )
    db.migrate()
    store = Store(db)
    assert store.executions.get("t", "x1")["events_count"] == 3
    assert store.executions.get("t", "x2")["events_count"] == 0
    assert store.events.add("t", "e", "x1", [cloud_event("t", event_id="ev0"), cloud_event("t")]) == 1
    assert store.events.list("t", None, "x1", None, None).total == 4
    db.dispose()


@pytest.mark.parametrize("payload", ['{"n": 1e999}', '{"n": Infinity}'])
def test_event_data_that_json_cannot_hold_is_refused(lite, payload):
    c, a = lite.client, lite.a
    eid, xid = _execution(c, a)
    x = f"{a.base}/experiments/{eid}/executions/{xid}/events"
    r = c.post(
        x, content=json.dumps({**cloud_event("t"), "data": payload}), headers={**a.headers, **CE_HEADERS}
    )
    assert r.status_code == 422
    assert c.get(x, headers=a.headers).json()["total"] == 0


def test_access_log_lines_arrive_while_serving(sqlite_url, tmp_path):
    """The access log is buffered (no write per request) but a line shows up
    within about FLUSH_INTERVAL, before the server stops."""
    log = tmp_path / "server.log"
    a, _ = seed(sqlite_url)
    served = start_server(sqlite_url, log)
    try:
        httpx.get(served.base + "/api/v1/organizations", headers=a.headers, timeout=10)
        wait_until(
            lambda: "GET /api/v1/organizations 200" in log.read_text(), timeout=5, what="access log line"
        )
    finally:
        stop_server(served)


def test_time_keys_of_the_common_shape_match_the_full_parse():
    """The per-second cache of ``time_key`` gives what parsing every timestamp gives."""
    from chaosiq_server.errors import BadInput
    from chaosiq_server.jsonutil import _time_key, time_key

    values = [
        "2026-11-27T10:00:00.000001+00:00",
        "2026-11-27T10:00:00.999999+00:00",  # same second, cached head
        "2026-11-27T10:00:00.500000+05:30",  # same clock text, another offset
        "2026-11-27T10:00:00.500000-08:00",
        "2026-12-31T23:59:59.123456-01:00",  # crosses into the next year in UTC
        "2026-11-27T10:00:01.000000Z",  # other shapes take the full parse
        "2026-11-27T10:00:01+02:00",
    ]
    for value in values * 2:  # the second pass hits the cache
        assert time_key(value, "fallback") == _time_key(value), value
    assert time_key(None, "fallback") == "fallback"
    for bad in (
        "2026-11-27T10:00:00.١٢٣٤٥٦+00:00",
        "2026-11-27T10:00:00.12x456+00:00",
        "not a time at all, 32 ch+00:00",
    ):
        with pytest.raises(BadInput):
            time_key(bad, "fallback")
