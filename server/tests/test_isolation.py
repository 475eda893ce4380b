"""Two teams, two tokens: every endpoint tried across the boundary gives 404."""

from __future__ import annotations

import json

import pytest
from server_helpers import CE_HEADERS, api_operations, cloud_event, experiment, journal

TEAM_POLICY = {"name": "freeze", "kind": "deny", "tag": "nothing-has-it"}


def _resources(c, t):
    h = t.headers
    eid = c.post(f"{t.base}/experiments", json={"experiment": experiment(t.team_id)}, headers=h).json()["id"]
    xid = c.post(f"{t.base}/experiments/{eid}/executions", json={"journal": journal({})}, headers=h).json()[
        "id"
    ]
    vid = f"ver-{t.team_id}"
    rid = c.post(f"{t.base}/verifications/{vid}/runs", json={"status": "started"}, headers=h).json()["id"]
    pid = c.post(f"{t.base}/policies", json=TEAM_POLICY, headers=h).json()["id"]
    return eid, xid, vid, rid, pid


def _calls(base, eid, xid, vid, rid, pid):
    x = f"{base}/experiments/{eid}/executions/{xid}"
    r = f"{base}/verifications/{vid}/runs/{rid}"
    p = f"{base}/policies/{pid}"
    ev = cloud_event("starting-experiment")
    intruder = {"name": "intruder", "kind": "deny"}  # would deny every run of the team
    return [
        ("GET", base, None),
        ("GET", f"{base}/experiments", None),
        ("POST", f"{base}/experiments", {"experiment": experiment("intruder")}),
        ("GET", f"{base}/experiments/{eid}", None),
        ("GET", f"{base}/experiments/{eid}/history", None),
        ("GET", f"{base}/executions?experiment={eid}&outcome=running", None),
        ("POST", f"{base}/experiments/{eid}/executions", {"journal": {}}),
        ("GET", x, None),
        ("PUT", x, {"journal": {"status": "hacked"}}),
        ("GET", f"{base}/executions", None),
        ("POST", f"{base}/executions", {"experiment": experiment("intruder"), "journal": {}}),
        ("GET", f"{base}/executions/{xid}", None),
        ("POST", f"{x}/events", ev),
        ("POST", f"{x}/events/batch", [ev]),
        ("GET", f"{x}/events", None),
        ("GET", f"{base}/executions/{xid}/events", None),
        ("GET", f"{x}/policies", None),
        ("POST", f"{x}/policies", {"name": "deny", "allowed": False}),
        ("POST", f"{base}/executions/{xid}/stop", {}),
        ("POST", f"{base}/executions/{xid}/pause", {"reason": "intruder", "timeout": 60}),
        ("POST", f"{base}/executions/{xid}/resume", None),
        ("GET", f"{base}/policies", None),
        ("POST", f"{base}/policies", intruder),
        ("GET", p, None),
        ("PUT", p, intruder),
        ("DELETE", p, None),
        ("GET", f"{base}/audit", None),
        ("GET", f"{base}/verifications", None),
        ("GET", f"{base}/verifications/{vid}", None),
        ("GET", f"{base}/verifications/{vid}/trend", None),
        ("POST", f"{base}/verifications/{vid}/runs", {"status": "started"}),
        ("GET", f"{base}/verifications/{vid}/runs", None),
        ("GET", r, None),
        ("PUT", r, {"status": "hacked"}),
        ("POST", f"{r}/events", {"category": "x"}),
        ("GET", f"{r}/events", None),
        ("POST", f"{r}/finished", {"status": "completed"}),
    ]


def test_every_endpoint_across_the_boundary(env):
    c, a, b = env.client, env.a, env.b
    ida = _resources(c, a)
    _resources(c, b)
    eid, xid, vid, rid, _pid = ida
    mine = [  # what B must not see change: A's policies, run, audit log
        f"{a.base}/policies",
        f"{a.base}/verifications/{vid}/runs/{rid}",
        f"{a.base}/audit",
    ]
    before = [c.get(url, headers=a.headers).json() for url in mine]
    # B's token on A's team URLs: the team itself is invisible.
    for method, url, body in _calls(a.base, *ida):
        r = c.request(
            method,
            url,
            headers=b.headers,
            content=None if body is None else json.dumps(body),
        )
        assert r.status_code == 404, (method, url, r.status_code, r.text)
        assert r.json()["detail"]
    # B's token on its own team URLs with A's ids: 404 except pure team listings
    # and creations that do not reference a foreign id.
    listings = ("", "/experiments", "/executions", "/verifications", "/policies", "/audit")
    own_ok = {f"{b.base}{path}" for path in listings}
    # B's list filtered on A's experiment: B's own (empty) list, never A's executions
    foreign = c.get(f"{b.base}/executions?experiment={ida[0]}&outcome=running", headers=b.headers)
    assert foreign.status_code == 200 and foreign.json() == {"items": [], "next_cursor": None, "total": 0}
    own_ok.add(f"{b.base}/executions?experiment={ida[0]}&outcome=running")
    mixed = _calls(b.base, *ida)
    for method, url, body in mixed:
        if url in own_ok or (method == "POST" and url.endswith("/runs")):
            continue
        r = c.request(method, url, headers=b.headers, content=None if body is None else json.dumps(body))
        assert r.status_code == 404, (method, url, r.status_code, r.text)
    # A run of B cannot reference A's experiment/execution.
    r = c.post(
        f"{b.base}/verifications/v/runs",
        headers=b.headers,
        json={"experiment_id": ida[0], "execution_id": ida[1]},
    )
    assert r.status_code == 404
    # Organizations and teams listings.
    assert c.get("/api/v1/organizations", headers=b.headers).json() == [{"id": b.org_id, "name": "org-beta"}]
    assert c.get(f"/api/v1/organizations/{a.org_id}/teams", headers=b.headers).status_code == 404
    assert c.get(f"/api/v1/organizations/{b.org_id}/teams/{a.team_id}", headers=b.headers).status_code == 404
    # Nothing of A changed: not stopped, not paused, its policy, run and audit log as they were.
    got = c.get(f"{a.base}/experiments/{eid}/executions/{xid}", headers=a.headers).json()
    assert got["status"] == "running" and got["events_count"] == 0
    verdict = c.get(f"{a.base}/experiments/{eid}/executions/{xid}/policies", headers=a.headers).json()
    assert verdict["allowed"] is True and verdict["policies"] == []
    assert c.get(f"{a.base}/experiments", headers=a.headers).json()["total"] == 1
    assert [c.get(url, headers=a.headers).json() for url in mine] == before


# Operations outside a team: each is checked above (B's listing, A's organization)
# or concerns no team's data.
NOT_OF_A_TEAM = {
    ("get", "/api/v1/organizations"),
    ("get", "/api/v1/organizations/{org}/teams"),
    ("get", "/api/v1/capabilities"),
    ("get", "/health"),
    ("get", "/ready"),
}


def test_the_boundary_list_has_every_operation(lite):
    """A route added without its line in ``_calls`` fails here."""
    team = "/api/v1/organizations/{org}/teams/{team}"
    listed = {
        (method.lower(), url.partition("?")[0])
        for method, url, _ in _calls(team, "{eid}", "{xid}", "{vid}", "{rid}", "{pid}")
    }
    spec = lite.client.get("/api/v1/openapi.json").json()
    operations = {(method, template) for method, template, _ in api_operations(spec)}
    assert len(operations) >= 40, "the OpenAPI document lost its routes"
    missing = sorted(operations - listed - NOT_OF_A_TEAM)
    assert not missing, f"operations not tried across the boundary (add them to _calls): {missing}"
    assert not listed - operations, "calls of _calls the OpenAPI document does not have"
    outside = {op for op in operations if not op[1].startswith(team)}
    assert outside == NOT_OF_A_TEAM, "an operation outside a team: check it across the boundary"


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer wrong", "Basic abc", "bearer  "])
def test_unauthenticated_is_401_json(lite, header):
    c, a = lite.client, lite.a
    headers = {} if header is None else {"Authorization": header}
    for url in ["/api/v1/organizations", f"{a.base}/experiments", "/api/v1/capabilities"]:
        r = c.get(url, headers=headers)
        assert r.status_code == 401
        assert "detail" in r.json()


def test_revoked_token_is_rejected(lite):
    c, a = lite.client, lite.a
    assert c.get("/api/v1/organizations", headers=a.headers).status_code == 200
    from chaosiq_server.store import Store

    store: Store = c.app.state.store
    assert store.tokens.revoke(a.token_id)
    c.app.state.auth.clear()
    assert c.get("/api/v1/organizations", headers=a.headers).status_code == 401


def test_event_data_object_and_string(lite):
    c, a = lite.client, lite.a
    h = a.headers
    eid = c.post(f"{a.base}/experiments", json={"experiment": experiment()}, headers=h).json()["id"]
    xid = c.post(f"{a.base}/experiments/{eid}/executions", json={"journal": {}}, headers=h).json()["id"]
    x = f"{a.base}/experiments/{eid}/executions/{xid}"
    ev = cloud_event("t")
    ev["data"] = {"already": "object"}
    assert c.post(f"{x}/events", content=json.dumps(ev), headers={**h, **CE_HEADERS}).status_code == 201
    ev2 = cloud_event("t")
    ev2["data"] = "not json at all"
    assert c.post(f"{x}/events", json=ev2, headers=h).status_code == 201
    items = c.get(f"{x}/events", headers=h).json()["items"]
    assert {json.dumps(i["data"]) for i in items} == {'{"already": "object"}', '"not json at all"'}
