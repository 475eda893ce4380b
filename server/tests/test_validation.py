"""Bad input never gives a 500; size limit; idempotency; batch; paging."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from server_helpers import CE_HEADERS, Env, cloud_event, experiment, journal, make_env


def _execution(c, a):
    h = a.headers
    eid = c.post(f"{a.base}/experiments", json={"experiment": experiment()}, headers=h).json()["id"]
    xid = c.post(f"{a.base}/experiments/{eid}/executions", json={"journal": journal({})}, headers=h).json()[
        "id"
    ]
    return f"{a.base}/experiments/{eid}/executions/{xid}"


@pytest.fixture
def small(sqlite_url: str) -> Iterator[Env]:
    yield from make_env(sqlite_url, max_body_size=2048)


def test_413_by_content_length_and_stream(small):
    c, a = small.client, small.a
    x = _execution(c, a)
    big = json.dumps([cloud_event("t", payload="x" * 3000)])
    r = c.post(f"{x}/events/batch", content=big, headers={**a.headers, **CE_HEADERS})
    assert r.status_code == 413
    assert "larger than 2048" in r.json()["detail"]

    def chunks():
        for _ in range(10):
            yield b"[" + b" " * 500

    r = c.post(f"{x}/events/batch", content=chunks(), headers={**a.headers, **CE_HEADERS})
    assert r.status_code == 413
    r = c.post(
        f"{a.base}/experiments",
        content=b"{" + b" " * 4000 + b"}",
        headers={**a.headers, "content-type": "application/json"},
    )
    assert r.status_code == 413


@pytest.mark.parametrize(
    "body,status",
    [
        (b"{not json", 400),
        (b"", 422),
        (b"[]", 422),
        (b'"string"', 422),
        (b'{"specversion": "1.0"}', 422),
        (b'{"specversion": "1.0", "id": "", "source": "s", "type": "t"}', 422),
        (b'{"specversion": "9.9", "id": "1", "source": "s", "type": "t"}', 422),
        (b'{"specversion": "1.0", "id": "1", "source": "s", "type": "t", "time": "yesterday"}', 422),
        (b'{"specversion": "1.0", "id": "1", "source": "s", "type": "t", "data": NaN}', 422),
        (b'{"specversion": 1, "id": 2, "source": "s", "type": "t"}', 422),
        (b"[" * 100000, 422),  # deeper than the nesting limit (before it ends)
    ],
)
def test_malformed_cloudevents(lite, body, status):
    c, a = lite.client, lite.a
    x = _execution(c, a)
    r = c.post(f"{x}/events", content=body, headers={**a.headers, **CE_HEADERS})
    assert r.status_code == status, r.text
    assert r.json()["detail"]


@pytest.mark.parametrize(
    "path,body",
    [
        ("/experiments", b"{"),
        ("/experiments", b'{"experiment": []}'),
        ("/experiments", b'{"nothing": 1}'),
        ("/experiments", b'{"experiment": {"x": Infinity}}'),
        ("/verifications/v/runs", b'{"journal": 3}'),
        ("/verifications/v/runs", b"[1,2]"),
    ],
)
def test_malformed_bodies(lite, path, body):
    c, a = lite.client, lite.a
    r = c.post(a.base + path, content=body, headers={**a.headers, "content-type": "application/json"})
    assert r.status_code in (400, 422), r.text
    assert r.json()["detail"]


def test_bad_batch_is_rejected_whole(lite):
    c, a = lite.client, lite.a
    x = _execution(c, a)
    good = cloud_event("t")
    bad = {**cloud_event("t"), "time": "nope"}
    r = c.post(f"{x}/events/batch", json=[good, bad], headers=a.headers)
    assert r.status_code == 422
    assert c.get(f"{x}/events", headers=a.headers).json()["total"] == 0
    r = c.post(f"{x}/events/batch", json={"not": "a list"}, headers=a.headers)
    assert r.status_code == 422
    r = c.get(f"{x}/events", headers=a.headers, params={"cursor": "!!notacursor"})
    assert r.status_code == 400


def test_idempotent_events_and_batch(env):
    c, a = env.client, env.a
    x = _execution(c, a)
    h = {**a.headers, **CE_HEADERS}
    ev = cloud_event("starting-experiment", event_id="same-id")
    assert c.post(f"{x}/events", content=json.dumps(ev), headers=h).status_code == 201
    r = c.post(f"{x}/events", content=json.dumps(ev), headers=h)
    assert r.status_code == 200 and r.json() == {"id": "same-id", "stored": False}
    batch = [cloud_event("t", event_id=f"e{i}") for i in range(50)]
    batch += [batch[0], ev]  # duplicate inside the batch and of a stored one
    bh = {**a.headers, "content-type": "application/cloudevents-batch+json"}
    r = c.post(f"{x}/events/batch", content=json.dumps(batch), headers=bh)
    assert r.status_code == 200
    assert r.json() == {"received": 52, "stored": 50}
    r = c.post(f"{x}/events/batch", content=json.dumps(batch), headers=bh)
    assert r.json() == {"received": 52, "stored": 0}
    assert c.get(f"{x}/events", headers=a.headers).json()["total"] == 51


def test_timeline_order_and_paging(env):
    c, a = env.client, env.a
    x = _execution(c, a)
    # Sent out of order, with mixed offsets: ordered by the instant, then arrival.
    times = [
        "2024-01-01T12:00:03+00:00",
        "2024-01-01T13:00:01+02:00",
        "2024-01-01T11:00:02Z",
        "2024-01-01T11:00:02Z",
        None,
    ]
    evs = [cloud_event(f"t{i}", time=t) for i, t in enumerate(times)]
    evs[-1].pop("time")
    r = c.post(f"{x}/events/batch", json=evs, headers=a.headers)
    assert r.json()["stored"] == 5
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = c.get(f"{x}/events", headers=a.headers, params=params).json()
        assert page["total"] == 5
        seen += [i["type"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["t1", "t2", "t3", "t0", "t4"]


def test_paged_lists(env):
    c, a = env.client, env.a
    for i in range(5):
        eid = c.post(
            f"{a.base}/experiments", json={"experiment": experiment(f"e{i}")}, headers=a.headers
        ).json()["id"]
        c.post(f"{a.base}/experiments/{eid}/executions", json={"journal": {}}, headers=a.headers)
    for what in ("experiments", "executions"):
        ids, cursor = [], None
        while True:
            params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            page = c.get(f"{a.base}/{what}", headers=a.headers, params=params).json()
            ids += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert len(ids) == len(set(ids)) == 5
    r = c.get(f"{a.base}/executions", headers=a.headers, params={"limit": 0})
    assert r.status_code == 422


def test_unknown_routes_and_methods_are_json(lite):
    c, a = lite.client, lite.a
    r = c.get("/api/v1/nope", headers=a.headers)
    assert r.status_code == 404 and r.json()["detail"]
    r = c.delete(f"{a.base}/experiments", headers=a.headers)
    assert r.status_code == 405
