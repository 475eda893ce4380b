"""Event ingestion: the timeline shortcut, the maintained event count, group
commits of concurrent events, error answers, the execution cache."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from chaosiq_server.app import create_app
from chaosiq_server.config import Settings
from chaosiq_server.db import Database
from chaosiq_server.store import Store
from fastapi.testclient import TestClient
from server_helpers import (
    CE_HEADERS,
    cloud_event,
    database_at,
    experiment,
    journal,
    make_env,
    seed,
    start_server,
    stop_server,
)
from sqlalchemy import text as sql

from chaosiq_core.testing import wait_until


def _execution(c: Any, t: Any, title: str = "A simple experiment") -> tuple[str, str]:
    body = {"experiment": experiment(title)}
    eid = c.post(f"{t.base}/experiments", json=body, headers=t.headers).json()["id"]
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


def test_a_group_of_events_for_two_executions_counts_each_one(env):
    """Concurrent single events for two executions, some ids sent twice, share commits:
    each answer says whether its event was new, and each execution counts its own."""
    c, a = env.client, env.a
    ids = [_execution(c, a, title) for title in ("one", "two")]  # two experiments: two executions
    paths = [f"{a.base}/experiments/{eid}/executions/{xid}/events" for eid, xid in ids]
    h = {**a.headers, **CE_HEADERS}
    for path in paths:  # the executions are cached: the events go through the front door
        c.post(path, content=json.dumps(cloud_event("warm-up")), headers=h)
    app = c.app

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as ac:
            sends = [(paths[i % 2], cloud_event("t", event_id=f"e{i % 30}")) for i in range(60)]
            return await asyncio.gather(*(ac.post(p, content=json.dumps(ev), headers=h) for p, ev in sends))

    writer = app.state.store.events.writer
    before = writer.groups
    codes = [r.status_code for r in asyncio.run(burst())]
    assert writer.groups - before < 60  # groups held events of both executions
    # ids e0..e29 go to the execution of their parity: each pair of sends is one new, one known
    assert sorted(codes) == [200] * 30 + [201] * 30
    for path in paths:
        page = c.get(path, headers=a.headers, params={"limit": 1000}).json()
        assert page["total"] == len(page["items"]) == 16  # the warm-up and 15 ids
        xid = path.split("/")[-2]
        assert c.get(f"{a.base}/executions/{xid}", headers=a.headers).json()["events_count"] == 16


def test_event_errors_get_their_documented_answers(lite):
    """Foreign ids, missing tokens and bad bodies of a cached execution answer as documented."""
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


def test_new_executions_are_known_at_once(lite):
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


def test_journal_put_stores_the_journal_and_its_status(env):
    """The final journal's PUT as chaosiq sends it: stored (decoded and encoded once),
    status from ``journal.status``, 204 with the execution's ``Content-Location``."""
    c, a, b = env.client, env.a, env.b
    eid, xid = _execution(c, a)
    x = f"{a.base}/experiments/{eid}/executions/{xid}"
    final = journal({}, status="failed")
    final["extensions"] = [{"name": "chaosiq", "note": 'é ✓ "quoted"', "n": 1.5, "big": 10**30}]
    jh = {**a.headers, "Content-Type": "application/json"}
    ev = json.dumps(cloud_event("t"))
    assert c.post(f"{x}/events", content=ev, headers={**a.headers, **CE_HEADERS}).status_code == 201
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
    assert json.loads(stored) == final and "1000000000000000000000000000000" in stored
    # any other spelling of the body (spaces, other members) stores the same journal
    final["status"] = "completed"
    spaced = json.dumps({"other": 1, "journal": final}, indent=2).encode()
    assert c.put(x, content=spaced, headers=jh).status_code == 204
    got = c.get(x, headers=a.headers).json()
    assert got["status"] == "completed" and got["journal"] == final
    # bad bodies, foreign or missing tokens and wrong ids change nothing
    assert c.put(x, content=b'{"journal": {"status": NaN}}', headers=jh).status_code == 422
    assert c.put(x, content=b'{"journal": [1]}', headers=jh).status_code == 422
    assert c.put(x, content=b"{nope", headers=jh).status_code == 400
    assert c.put(x, json={"journal": final}, headers=b.headers).status_code == 404
    assert c.put(x, json={"journal": final}).status_code == 401
    wrong = f"{a.base}/experiments/other/executions/{xid}"
    assert c.put(wrong, json={"journal": final}, headers=a.headers).status_code == 404
    assert c.get(x, headers=a.headers).json()["journal"] == final


def test_first_event_after_restart_is_accepted(sqlite_url):
    """A fresh process has cold caches: the first event looks its execution up."""
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
    db = database_at(db_url, "0001")
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
    # and the run id of an execution, unique per team, with the old rows' left empty
    assert store.executions.create_run("t", "e", {}, "r1") == (*store.executions.of_run("t", "r1"), True)
    assert store.executions.create_run("t", "e", {}, "r1")[2] is False
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


def _front_door_corpus() -> list[tuple[str, str, bytes, dict[str, str]]]:
    """(name, path suffix, body, headers) of event POSTs, plain and hostile."""
    ce = {"content-type": "application/cloudevents+json"}
    batch = {"content-type": "application/cloudevents-batch+json"}
    ev = cloud_event("t", event_id="e1")
    text = json.dumps(ev)
    deep = '{"a":' * 64 + "{}" + "}" * 64
    return [
        ("valid", "", text.encode(), ce),
        ("repeated id", "", text.encode(), ce),
        (
            "valid batch",
            "/batch",
            json.dumps([cloud_event("t", event_id=f"b{i}") for i in range(3)]).encode(),
            batch,
        ),
        ("no content type", "", json.dumps(cloud_event("t", event_id="e2")).encode(), {}),
        (
            "text/plain",
            "",
            json.dumps(cloud_event("t", event_id="e3")).encode(),
            {"content-type": "text/plain"},
        ),
        ("extra members", "", json.dumps({**cloud_event("t", event_id="e4"), "x-ext": 1}).encode(), ce),
        ("duplicate key", "", (text[:-1] + ', "type": "u"}').encode(), ce),
        ("duplicate key in data", "", json.dumps({**ev, "data": '{"a": 1, "a": 2}'}).encode(), ce),
        ("NaN", "", text[:-1].encode() + b', "n": NaN}', ce),
        ("NaN in data", "", json.dumps({**ev, "data": '{"n": NaN}'}).encode(), ce),
        ("1e400", "", text[:-1].encode() + b', "n": 1e400}', ce),
        ("big int", "", json.dumps({**cloud_event("t", event_id="e5"), "data": {"n": 10**40}}).encode(), ce),
        ("deep body", "", text[:-1].encode() + b', "x": ' + deep.encode() + b"}", ce),
        ("deep data", "", json.dumps({**ev, "data": deep}).encode(), ce),
        ("surrogate", "", text[:-1].encode() + b', "x": "\\ud800"}', ce),
        ("surrogate in data", "", json.dumps({**ev, "data": '{"x": "\\udc00"}'}).encode(), ce),
        ("NUL id", "", json.dumps({**ev, "id": "a\x00"}).encode(), ce),
        ("bad specversion", "", json.dumps({**ev, "specversion": "9"}).encode(), ce),
        ("bad time", "", json.dumps({**ev, "time": "yesterday"}).encode(), ce),
        ("id not a string", "", json.dumps({**ev, "id": 7}).encode(), ce),
        ("malformed", "", b'{"id": ', ce),
        ("not UTF-8", "", text.encode()[:-1] + b', "x": "\xff"}', ce),
        ("empty", "", b"", ce),
        (
            "batch with a bad event",
            "/batch",
            json.dumps([ev, {**ev, "id": "z", "time": "no"}]).encode(),
            batch,
        ),
        ("batch not a list", "/batch", text.encode(), batch),
        (
            "binary mode",
            "",
            b'{"k": 1}',
            {"ce-specversion": "1.0", "ce-id": "bin", "ce-type": "t", "ce-source": "s"},
        ),
    ]


def test_the_event_front_door_answers_as_the_app_does(env):
    """The front door (ingest.py) calls the routes' own functions; for every body, plain
    or hostile, a warm request (answered by the door when it can) gets the answer a
    cold one (answered by the app) gets, and stores the same."""
    c, a = env.client, env.a
    eid, warm = _execution(c, a)
    cold = c.post(f"{a.base}/experiments/{eid}/executions", json={"journal": {}}, headers=a.headers).json()[
        "id"
    ]
    urls = {k: f"{a.base}/experiments/{eid}/executions/{x}/events" for k, x in (("w", warm), ("c", cold))}
    warm_up = cloud_event("warm-up")
    c.post(urls["w"], json=warm_up, headers=a.headers)
    c.post(urls["c"], json=warm_up, headers=a.headers)
    door = c.app.state.event_front_door
    answered = []
    for name, suffix, body, headers in _front_door_corpus():
        before = door.answered
        c.app.state.store.executions.check(a.team_id, warm, eid)  # warm: in the cache
        w = c.post(urls["w"] + suffix, content=body, headers={**a.headers, **headers})
        if door.answered > before:
            answered.append(name)
        c.app.state.store.executions.clear_cache()  # cold: the door hands the request to the app
        by_door = door.answered
        k = c.post(urls["c"] + suffix, content=body, headers={**a.headers, **headers})
        assert door.answered == by_door, name
        assert (w.status_code, w.content) == (k.status_code, k.content), (name, w.text, k.text)
    # the door answered the valid single events with a JSON media type itself (batches: the app)
    assert answered == ["valid", "repeated id", "extra members", "big int", "binary mode"]
    listed = [c.get(urls[k], headers=a.headers, params={"limit": 1000}).json() for k in ("w", "c")]
    assert listed[0]["total"] == listed[1]["total"] == 9
    strip = [[{k: v for k, v in i.items() if k != "time"} for i in page["items"]] for page in listed]
    assert strip[0] == strip[1]
