"""Input read as an attacker would write it: duplicate keys, huge numbers, deep
nesting, lone surrogates and NUL, lax types, framing. Every write is either
refused with a clear 4xx or stored so that every read of it keeps working.

These tests use only the HTTP API (and SQL to plant rows an earlier version could
have written), so they also run against older versions of the server.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_helpers import CE_HEADERS, Env, cloud_event, experiment, journal, make_env
from sqlalchemy import create_engine, text

JSON = {"content-type": "application/json"}


@pytest.fixture
def hostile(db_url: str) -> Iterator[Env]:
    """The ``env`` of conftest (SQLite and PostgreSQL), with a client that turns
    server errors into 500 answers instead of raising them in the test."""
    for env in make_env(db_url):
        with TestClient(env.client.app, raise_server_exceptions=False) as client:
            env.client = client
            yield env


def _signed_in(env: Env) -> None:
    page = env.client.get("/signin")
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = env.client.post(
        "/signin",
        data={"token": env.a.token, "csrf_token": csrf, "next": ""},
        headers={"Origin": "http://testserver"},  # as the browser sends a form of this page
        follow_redirects=False,
    )
    assert r.status_code == 303


def _execution(env: Env, journal_body: dict[str, Any] | None = None) -> tuple[str, str]:
    c, a = env.client, env.a
    eid = c.post(f"{a.base}/experiments", json={"experiment": experiment()}, headers=a.headers).json()["id"]
    body = {"journal": journal_body if journal_body is not None else journal({})}
    xid = c.post(f"{a.base}/experiments/{eid}/executions", json=body, headers=a.headers).json()["id"]
    return eid, xid


def _reads(env: Env, eid: str, xid: str) -> dict[str, int]:
    """Status of every read of an execution: API (both routes, timeline), console (page,
    live fragment, journal download)."""
    c, a = env.client, env.a
    api = f"{a.base}/experiments/{eid}/executions/{xid}"
    page = f"/organizations/{a.org_id}/teams/{a.team_id}/experiments/{eid}/executions/{xid}"
    return {
        "api": c.get(api, headers=a.headers).status_code,
        "api short": c.get(f"{a.base}/executions/{xid}", headers=a.headers).status_code,
        "events": c.get(f"{api}/events", headers=a.headers).status_code,
        "events short": c.get(f"{a.base}/executions/{xid}/events", headers=a.headers).status_code,
        "list": c.get(f"{a.base}/executions", headers=a.headers).status_code,
        "page": c.get(page).status_code,
        "live": c.get(f"{page}/live.json").status_code,
        "download": c.get(f"{page}/journal.json").status_code,
        "console list": c.get(f"/organizations/{a.org_id}/teams/{a.team_id}/executions").status_code,
    }


ALL_OK = dict.fromkeys(
    ["api", "api short", "events", "events short", "list", "page", "live", "download", "console list"], 200
)


def _plant(env: Env, sql: str, **params: Any) -> None:
    """Write a row as an earlier version of the server could have written it."""
    engine = create_engine(env.url)
    with engine.begin() as conn:
        conn.execute(text(sql), params)
    engine.dispose()


# ------------------------------------------------------------- duplicate keys
def test_duplicate_keys_are_refused_on_every_path_and_break_no_read(hostile: Env) -> None:
    """A key twice in one object is refused (422) wherever it is, on a warm cache
    (the event front door) as on a cold one; the stored journal stays readable."""
    env = hostile
    c, a = env.client, env.a
    _signed_in(env)
    eid, xid = _execution(env)
    x = f"{a.base}/experiments/{eid}/executions/{xid}"
    h = {**a.headers, **JSON}
    assert c.post(f"{x}/events", json=cloud_event("warm-up"), headers=a.headers).status_code == 201
    twice = b'{"journal": {"status": "completed"}, "journal": {"status": "failed"}}'
    for cold in (False, True):
        if cold:
            c.app.state.auth.clear()
        r = c.put(x, content=twice, headers=h)
        assert r.status_code == 422 and "appears twice" in json.dumps(r.json()), r.text
    assert _reads(env, eid, xid) == ALL_OK
    assert c.get(x, headers=a.headers).json()["journal"] == journal({})

    event = json.dumps(cloud_event("t", event_id="dup"))
    bodies = {
        "events": event[:-1] + ', "type": "other"}',
        "events/batch": "[" + event[:-1] + ', "id": "other"}]',
    }
    for path, body in bodies.items():
        r = c.post(f"{x}/{path}", content=body, headers={**a.headers, **CE_HEADERS})
        assert r.status_code == 422 and "appears twice" in r.text, (path, r.text)
    inner = {**cloud_event("t"), "data": '{"state": 1, "state": 2}'}
    r = c.post(f"{x}/events", json=inner, headers=a.headers)
    assert r.status_code == 422 and "appears twice" in r.text
    r = c.post(f"{a.base}/experiments", content=b'{"experiment": {"title": "a", "title": "b"}}', headers=h)
    assert r.status_code == 422 and "'title' appears twice" in r.text
    assert c.get(f"{x}/events", headers=a.headers).json()["total"] == 1  # only the warm-up


# ---------------------------------------------------------------- big numbers
def test_big_integers_are_kept_exact_on_every_path(hostile: Env) -> None:
    env = hostile
    c, a = env.client, env.a
    eid, xid = _execution(env)
    x = f"{a.base}/experiments/{eid}/executions/{xid}"
    big = 123456789012345678901234567890
    assert c.post(f"{x}/events", json=cloud_event("warm-up"), headers=a.headers).status_code == 201
    r = c.put(x, content=b'{"journal":{"status":"completed","n":%d}}' % big, headers={**a.headers, **JSON})
    assert r.status_code == 204
    assert c.get(x, headers=a.headers).json()["journal"]["n"] == big
    for i, data in enumerate([{"n": big}, json.dumps({"n": big})]):
        ev = {**cloud_event("t", event_id=f"big{i}"), "data": data}
        assert c.post(f"{x}/events", json=ev, headers=a.headers).status_code == 201
    items = {i["id"]: i for i in c.get(f"{x}/events", headers=a.headers).json()["items"]}
    assert items["big0"]["data"] == {"n": big} and items["big1"]["data"] == {"n": big}
    # numbers that cannot be stored and served back exactly: 422, saying why
    for body, why in [
        (b'{"experiment": {"n": 1e400}}', "too large for a double"),
        (b'{"experiment": {"n": Infinity}}', "not a JSON number"),
        (b'{"experiment": {"n": ' + b"9" * 5000 + b"}}", "more than 4300 digits"),
    ]:
        r = c.post(f"{a.base}/experiments", content=body, headers={**a.headers, **JSON})
        assert r.status_code == 422 and why in r.text, r.text


# ------------------------------------------------------------ lone surrogates
SURROGATE_WRITES = [
    ("POST", "/experiments", '{"experiment": {"title": "\\ud800"}}'),
    ("POST", "/executions", '{"experiment": {"title": "s"}, "journal": {"x": "\\udc00 tail"}}'),
    ("POST", "/experiments/{eid}/executions", '{"journal": {"x": "\\ud800"}}'),
    ("PUT", "/experiments/{eid}/executions/{xid}", '{"journal": {"\\ud800": 1}}'),
    ("POST", "/experiments/{eid}/executions/{xid}/events", "EVENT"),
    ("POST", "/experiments/{eid}/executions/{xid}/events", "EVENT-IN-DATA-STRING"),
    ("POST", "/experiments/{eid}/executions/{xid}/events/batch", "BATCH"),
    ("POST", "/experiments/{eid}/executions/{xid}/policies", '{"name": "\\ud800", "allowed": false}'),
    ("POST", "/executions/{xid}/stop", '{"reason": "\\ud800"}'),
    ("POST", "/verifications/v1/runs", '{"journal": {"x": "\\ud800"}}'),
    ("PUT", "/verifications/v1/runs/4f1c2b1e-0d6a-4a51-9d7e-2f3c9b1a8e01", '{"status": "\\ud800"}'),
    ("POST", "/verifications/v1/runs/{rid}/events", '{"category": "c", "payload": "\\ud800"}'),
    ("POST", "/verifications/v1/runs/{rid}/finished", '{"journal": {"x": ["\\ud800"]}}'),
]


def test_lone_surrogates_are_refused_at_the_door(hostile: Env) -> None:
    env = hostile
    c, a = env.client, env.a
    _signed_in(env)
    eid, xid = _execution(env)
    rid = c.post(f"{a.base}/verifications/v1/runs", json={"status": "s"}, headers=a.headers).json()["id"]
    c.post(f"{a.base}/experiments/{eid}/executions/{xid}/events", json=cloud_event("w"), headers=a.headers)
    event = cloud_event("t")
    bodies = {
        "EVENT": json.dumps({**event, "data": {"x": "\ud800"}}),
        # the data string holds JSON whose string is a lone surrogate
        "EVENT-IN-DATA-STRING": json.dumps({**event, "data": '{"x": "\\ud800"}'}),
        "BATCH": json.dumps([{**event, "source": "\udfff"}]),
    }
    for method, path, body in SURROGATE_WRITES:
        url = a.base + path.format(eid=eid, xid=xid, rid=rid)
        r = c.request(method, url, content=bodies.get(body, body), headers={**a.headers, **JSON})
        assert r.status_code == 422, (method, path, r.status_code, r.text)
        assert "surrogate" in r.text, r.text
    assert _reads(env, eid, xid) == ALL_OK
    assert c.get(f"{a.base}/verifications/v1/runs/{rid}/events", headers=a.headers).status_code == 200
    # a valid pair (what json.dumps writes for an emoji) is not a lone surrogate
    ok = c.post(
        f"{a.base}/experiments",
        content='{"experiment": {"title": "\\ud83d\\ude00"}}',
        headers=JSON | a.headers,
    )
    assert ok.status_code == 201
    assert c.get(f"{a.base}/experiments/{ok.json()['id']}", headers=a.headers).json()["title"] == "😀"


def test_rows_an_earlier_version_stored_with_lone_surrogates_are_served(hostile: Env) -> None:
    """An event whose data held an escaped lone surrogate was stored as it came;
    reading it answered 500 for ever. It is served with U+FFFD instead."""
    env = hostile
    c, a = env.client, env.a
    _signed_in(env)
    eid, xid = _execution(env)
    _plant(
        env,
        "INSERT INTO events (execution_id, event_id, type, source, time, time_key, data, received_at) "
        "VALUES (:x, 'old', 't', 's', NULL, '2024-01-01T00:00:00.000000Z', :d, '2024')",
        x=xid,
        d='{"x": "\\ud800"}',
    )
    _plant(env, "UPDATE executions SET journal = :j WHERE id = :x", x=xid, j='{"status": "\\udc00"}')
    assert _reads(env, eid, xid) == ALL_OK
    items = c.get(f"{a.base}/executions/{xid}/events", headers=a.headers).json()["items"]
    assert items[0]["data"] == {"x": "\ufffd"}


def test_surrogates_and_nul_in_urls_headers_and_cursors(hostile: Env) -> None:
    """Nothing in a URL, a header or a cursor reaches the database as text it cannot hold."""
    env = hostile
    c, a = env.client, env.a
    eid, xid = _execution(env)
    for path in ("/experiments/%ED%A0%80", "/verifications/%ED%B0%80/runs", "/executions/%F0%9F%98"):
        r = c.get(a.base + path, headers=a.headers)
        assert r.status_code == 404, (path, r.text)
    for path in ("/experiments/a%00b", "/verifications/v%00/runs", "/executions/x%00/events"):
        r = c.get(a.base + path, headers=a.headers)
        assert r.status_code == 400 and "NUL" in r.text, (path, r.text)
    assert c.get(f"{a.base}/executions?cursor=%00", headers=a.headers).status_code == 400
    for parts in (["\ud800", "x"], ["a\x00", "x"], ["2024", 10**30]):
        cursor = base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")
        for path in ("/executions", "/experiments", f"/executions/{xid}/events", "/verifications"):
            r = c.get(a.base + path, params={"cursor": cursor}, headers=a.headers)
            assert r.status_code == 400, (parts, path, r.text)
    r = c.get("/api/v1/organizations", headers={"Authorization": b"Bearer \xed\xa0\x80"})
    assert r.status_code == 401
    # binary mode: percent-encoded attributes are decoded (invalid UTF-8 becomes U+FFFD)
    head = {**a.headers, "ce-specversion": "1.0", "ce-type": "t", "ce-source": "s"}
    url = f"{a.base}/experiments/{eid}/executions/{xid}/events"
    assert c.post(url, content=b"{}", headers={**head, "ce-id": "%ED%A0%80"}).status_code == 201
    r = c.post(url, content=b"{}", headers={**head, "ce-id": "a%00b"})
    assert r.status_code == 422 and "pattern" in r.text


def test_nul_is_refused_where_a_column_would_hold_it(hostile: Env) -> None:
    """PostgreSQL text cannot hold NUL: ids, names and statuses with one are refused
    (422); inside a JSON document it is kept (escaped), and a title keeps the rest."""
    env = hostile
    c, a = env.client, env.a
    _signed_in(env)
    eid, xid = _execution(env)
    x = f"{a.base}/experiments/{eid}/executions/{xid}"
    refused = [
        (f"{x}/policies", {"name": "a\x00b", "allowed": False}),
        (f"{a.base}/executions/{xid}/stop", {"reason": "\x00"}),
        (f"{x}/events", {**cloud_event("t"), "id": "a\x00b"}),
        (f"{x}/events/batch", [{**cloud_event("t"), "type": "\x00"}]),
        (f"{a.base}/verifications/v1/runs", {"status": "a\x00"}),
    ]
    for url, body in refused:
        r = c.post(url, json=body, headers=a.headers)
        assert r.status_code == 422, (url, r.text)
    r = c.post(f"{a.base}/experiments", json={"experiment": experiment("t\x00itle")}, headers=a.headers)
    assert r.status_code == 201
    got = c.get(f"{a.base}/experiments/{r.json()['id']}", headers=a.headers).json()
    assert got["experiment"]["title"] == "t\x00itle" and got["title"] == "title"
    final = {**journal({}, status="fail\x00ed"), "note": "\x00"}
    assert c.put(x, json={"journal": final}, headers=a.headers).status_code == 204
    got = c.get(x, headers=a.headers).json()
    assert got["journal"] == final and got["status"] == "failed"
    assert _reads(env, eid, xid) == ALL_OK


# -------------------------------------------------------------------- nesting
def _nested(depth: int) -> str:
    """A JSON object nested ``depth`` levels deep."""
    return '{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)


def test_nesting_is_limited_at_ingestion(hostile: Env) -> None:
    """64 levels per JSON document: a body (the journal's wrapper counts) or the JSON
    text of an event's data. Deeper is refused with 422, and the console shows
    whatever was accepted (the tree collapses deep levels into JSON text)."""
    env = hostile
    c, a = env.client, env.a
    _signed_in(env)
    eid, _ = _execution(env)
    url = f"{a.base}/experiments/{eid}/executions"
    h = {**a.headers, **JSON}
    r = c.post(url, content='{"journal": ' + _nested(65) + "}", headers=h)
    assert r.status_code == 422 and "nested more than 64 deep" in r.text, r.text
    r = c.post(url, content='{"journal": ' + _nested(63) + "}", headers=h)
    assert r.status_code == 201
    xid = r.json()["id"]
    assert _reads(env, eid, xid) == ALL_OK
    page = c.get(f"/organizations/{a.org_id}/teams/{a.team_id}/experiments/{eid}/executions/{xid}").text
    assert 'class="v deep"' in page
    events = f"{url}/{xid}/events"
    deep_data = {**cloud_event("t"), "data": _nested(65)}
    r = c.post(events, json=deep_data, headers=a.headers)
    assert r.status_code == 422 and "nested more than 64" in r.text
    assert c.post(events, json={**deep_data, "data": _nested(64)}, headers=a.headers).status_code == 201
    assert _reads(env, eid, xid) == ALL_OK


@pytest.mark.parametrize("depth", [400, 1020])
def test_deep_rows_an_earlier_version_stored_are_served(hostile: Env, depth: int) -> None:
    """Journals nested 400 levels were accepted before the limit; the console page
    answered 500 on them (the tree template recursed). Every read answers now."""
    env = hostile
    _signed_in(env)
    eid, xid = _execution(env)
    deep = '{"status": "completed", "d": ' + _nested(depth) + "}"
    _plant(env, "UPDATE executions SET journal = :j WHERE id = :x", x=xid, j=deep)
    assert _reads(env, eid, xid) == ALL_OK


# ---------------------------------------------------------------- strict types
@pytest.mark.parametrize(
    "path,body",
    [
        ("/experiments/{eid}/executions/{xid}/policies", {"name": "0", "allowed": 0}),
        ("/experiments/{eid}/executions/{xid}/policies", {"name": "0", "allowed": "false"}),
        ("/experiments/{eid}/executions/{xid}/policies", {"name": 0, "allowed": False}),
        ("/verifications/v1/runs/{rid}/finished", {"results": {"total_duration": False}}),
        ("/verifications/v1/runs/{rid}/finished", {"results": {"deviated_samples": True}}),
        ("/verifications/v1/runs/{rid}/finished", {"results": {"deviated_samples": 1.5}}),
        ("/verifications/v1/runs/{rid}/finished", {"status": 3}),
        ("/verifications/v1/runs/{rid}/events", {"category": True}),
        ("/experiments/{eid}/executions/{xid}/events", {**cloud_event("t"), "specversion": 1.0}),
    ],
)
def test_request_bodies_are_strictly_typed(hostile: Env, path: str, body: dict[str, Any]) -> None:
    env = hostile
    c, a = env.client, env.a
    eid, xid = _execution(env)
    rid = c.post(f"{a.base}/verifications/v1/runs", json={}, headers=a.headers).json()["id"]
    r = c.post(a.base + path.format(eid=eid, xid=xid, rid=rid), json=body, headers=a.headers)
    assert r.status_code == 422, r.text
    # the same fields with their own types are accepted (an int is a number)
    finished = {"results": {"total_duration": 3, "deviated_samples": 1}, "status": "completed"}
    ok = c.post(f"{a.base}/verifications/v1/runs/{rid}/finished", json=finished, headers=a.headers)
    assert ok.status_code == 204
    run = c.get(f"{a.base}/verifications/v1/runs/{rid}", headers=a.headers).json()
    assert run["results"] == {"total_duration": 3.0, "deviated_samples": 1}


# ------------------------------------------------------------------- framing
def test_the_api_docs_page_cannot_be_framed(hostile: Env) -> None:
    r = hostile.client.get("/api/v1/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
