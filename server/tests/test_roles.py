"""Roles across the whole OpenAPI document: every operation called with a viewer, a
member and an owner token of the team; 403 (with a message naming the roles) exactly
where the role is not enough, success everywhere else. Every API route must declare
the role it needs, so a route added without one fails here. Also: the audit log
(recorded with the action, append-only in the database) and ``last_used_at``."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from chaosiq_server.routes.deps import declared_roles
from chaosiq_server.store import Store
from fastapi.routing import APIRoute
from server_helpers import all_routes, api_operations, cloud_event, experiment, journal
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

ROLES = ("viewer", "member", "owner")


# What each role may do, said independently of the code: GETs are for every role (the
# audit log too: a viewer sees everything of its teams), every write is a member's but
# the policies' (owners': an execution's, the team's); a stop, a pause and a resume are a
# member's.
def needed(method: str, template: str) -> str:
    if method == "get":
        return "viewer"
    if method == "post" and template.endswith("/policies"):
        return "owner"
    if method in ("put", "delete") and template.endswith("/policies/{pid}"):
        return "owner"
    return "member"


TEAM_POLICY = {"kind": "deny", "tag": "nothing-has-it", "reason": "role test"}


def _bodies() -> dict[tuple[str, str], Any]:
    """A valid body for every operation that takes one (keyed by method and template)."""
    ev = cloud_event("starting-experiment")
    x = "/api/v1/organizations/{org}/teams/{team}"
    xe = x + "/experiments/{eid}/executions/{xid}"
    vr = x + "/verifications/{vid}/runs"
    return {
        ("post", x + "/experiments"): lambda: {"experiment": experiment(f"exp {uuid.uuid4()}")},
        ("post", x + "/experiments/{eid}/executions"): lambda: {"journal": journal({})},
        ("post", x + "/executions"): lambda: {"experiment": experiment("combined"), "journal": journal({})},
        ("put", xe): lambda: {"journal": journal({}, status="completed")},
        ("post", xe + "/events"): lambda: {**ev, "id": str(uuid.uuid4())},
        ("post", xe + "/events/batch"): lambda: [{**ev, "id": str(uuid.uuid4())}],
        ("post", xe + "/policies"): lambda: {"name": "deny", "allowed": False, "reason": "test"},
        ("post", x + "/executions/{xid}/stop"): lambda: {"reason": "role test"},
        ("post", x + "/executions/{xid}/pause"): lambda: {"reason": "role test", "timeout": 60},
        ("post", x + "/policies"): lambda: {**TEAM_POLICY, "name": f"p {uuid.uuid4()}"},
        ("put", x + "/policies/{pid}"): lambda: {**TEAM_POLICY, "name": f"p {uuid.uuid4()}"},
        ("post", vr): lambda: {"status": "started"},
        ("put", vr + "/{rid}"): lambda: {"status": "started"},
        ("post", vr + "/{rid}/events"): lambda: {"category": "x"},
        ("post", vr + "/{rid}/finished"): lambda: {"status": "completed"},
    }


def _token(env: Any, role: str) -> dict[str, str]:
    store: Store = env.client.app.state.store
    secret, _ = store.tokens.create(f"{role}-token", [env.a.team_id], role)
    return {"Authorization": f"Bearer {secret}", "Accept": "application/json"}


def _running(env: Any) -> tuple[str, str]:
    """A new running execution: (experiment id, execution id)."""
    c, a = env.client, env.a
    h = a.headers
    exp = {"experiment": experiment(f"running {uuid.uuid4()}")}  # the same experiment again is a 204
    eid = c.post(f"{a.base}/experiments", json=exp, headers=h).json()["id"]
    xid = c.post(f"{a.base}/experiments/{eid}/executions", json={"journal": journal({})}, headers=h).json()[
        "id"
    ]
    return eid, xid


def _resources(env: Any) -> dict[str, str]:
    c, a = env.client, env.a
    h = a.headers
    eid, xid = _running(env)
    rid = c.post(f"{a.base}/verifications/v1/runs", json={"status": "started"}, headers=h).json()["id"]
    return {"org": a.org_id, "team": a.team_id, "eid": eid, "xid": xid, "vid": "v1", "rid": rid}


def _url(template: str, ids: dict[str, str], method: str) -> str:
    def fill(found: re.Match[str]) -> str:
        name = found.group(1)
        if name == "rid" and method == "put":
            return str(uuid.uuid4())  # a run the client names: a new one each time
        return ids[name]

    return re.sub(r"\{(\w+)\}", fill, template)


def test_every_operation_with_every_role(env: Any) -> None:
    c = env.client
    tokens = {role: _token(env, role) for role in ROLES}
    ids = _resources(env)
    team_policy = {**TEAM_POLICY, "name": "kept"}
    ids["pid"] = c.post(f"{env.a.base}/policies", json=team_policy, headers=env.a.headers).json()["id"]
    bodies = _bodies()
    spec = c.get("/api/v1/openapi.json").json()
    operations = api_operations(spec)
    assert len(operations) >= 30, "the OpenAPI document lost its routes"
    refused = 0
    for role in ROLES:  # the viewer first: what it is refused changes nothing
        # a pause needs a running execution: the one of ``ids`` is finished by its PUT
        running = {**ids, "xid": _running(env)[1]}
        for method, template, op in operations:
            body = None
            if "requestBody" in op:
                assert (method, template) in bodies, f"no test body for {method.upper()} {template}: add one"
                body = bodies[(method, template)]()
            url = _url(template, running if template.endswith(("/pause", "/resume")) else ids, method)
            r = c.request(
                method, url, headers=tokens[role], content=None if body is None else json.dumps(body)
            )
            need = needed(method, template)
            if ROLES.index(role) < ROLES.index(need):
                refused += 1
                assert r.status_code == 403, (role, method, url, r.status_code, r.text)
                detail = r.json()["detail"]
                assert detail.startswith(f"this token's role is {role}; "), detail
                assert detail.endswith(" needs " + " or ".join(ROLES[ROLES.index(need) :])), detail
                if method != "get" and not re.search(r"/(stop|pause|resume|policies)\b", template):
                    assert detail == f"this token's role is {role}; publishing needs member or owner"
            else:
                assert r.status_code < 300, (role, method, url, r.status_code, r.text)
    # the viewer: 12 writes, a pause, a resume and 3 policy changes; the member: an
    # execution's policy and 3 team policy changes
    assert refused >= 21
    # what was refused did not happen: the viewer published nothing, stopped nothing
    a = env.a
    policies = c.get(f"{a.base}/experiments/{ids['eid']}/executions/{ids['xid']}/policies", headers=a.headers)
    by = [(p["name"], p["created_by"]) for p in policies.json()["policies"]]
    assert sorted(by) == [
        ("deny", "owner-token"),
        ("stopped-by-user", "member-token"),
        ("stopped-by-user", "owner-token"),
    ]


PUBLIC = {"/api/v1/docs"}  # Swagger UI: a page without data (the OpenAPI document is public too)


def test_every_api_route_declares_a_role(lite: Any) -> None:
    """A route added under /api without Viewer/Member/Owner (or Auth) fails here."""
    missing, seen = [], 0
    for route in all_routes(lite.client.app):
        if not isinstance(route, APIRoute) or not route.path.startswith("/api") or route.path in PUBLIC:
            continue
        seen += 1
        roles = declared_roles(route.dependant)
        if len(roles) != 1:
            missing.append(f"{sorted(route.methods)} {route.path}: {sorted(roles) or 'no role'}")
        else:
            method = sorted(route.methods)[0].lower()
            assert roles == {needed(method, route.path)}, (route.path, roles)
    assert seen >= 30
    assert not missing, "API routes that do not declare exactly one role: " + "; ".join(missing)


def test_the_event_front_door_refuses_a_viewer_as_the_app_does(lite: Any) -> None:
    """``POST …/events`` is answered by a door in front of the app once the execution is
    cached: a viewer's event still gets the app's 403 and is not stored."""
    c, a = lite.client, lite.a
    ids = _resources(lite)
    url = f"{a.base}/experiments/{ids['eid']}/executions/{ids['xid']}/events"
    member, viewer = _token(lite, "member"), _token(lite, "viewer")
    for _ in range(2):  # the second goes through the door (the execution is cached by then)
        assert c.post(url, json=cloud_event("t"), headers=member).status_code == 201
    door = c.app.state.event_front_door
    answered = door.answered
    assert answered >= 1, "the front door answered no event: this test tests nothing"
    r = c.post(url, json=cloud_event("t"), headers=viewer)
    assert r.status_code == 403 and r.json()["detail"].startswith("this token's role is viewer; publishing")
    assert door.answered == answered
    assert c.get(url, headers=viewer).json()["total"] == 2


def test_roles_of_another_team_stay_404(lite: Any) -> None:
    """A role never opens another team: B's owner on A's team is a 404, not a 403."""
    c, a, b = lite.client, lite.a, lite.b
    r = c.post(f"{a.base}/experiments", json={"experiment": experiment()}, headers=b.headers)
    assert r.status_code == 404


def test_audit_records_stop_and_policy_with_who_and_is_append_only(env: Any) -> None:
    c, a = env.client, env.a
    ids = _resources(env)
    member = _token(env, "member")
    x = f"{a.base}/experiments/{ids['eid']}/executions/{ids['xid']}"
    assert (
        c.post(
            f"{a.base}/executions/{ids['xid']}/stop", json={"reason": "enough"}, headers=member
        ).status_code
        == 201
    )
    assert (
        c.post(f"{x}/policies", json={"name": "freeze", "allowed": False}, headers=a.headers).status_code
        == 201
    )
    page = c.get(f"{a.base}/audit?limit=2", headers=member).json()
    # newest first: the policy, then the stop; earlier: the member token's creation (admin)
    assert page["total"] == 4
    policy, stop = page["items"]
    assert (policy["action"], policy["token_name"], policy["token_id"]) == (
        "policy.create",
        "token-alpha",
        a.token_id,
    )
    assert policy["target_id"] == ids["xid"] and policy["details"]["name"] == "freeze"
    assert (stop["action"], stop["token_name"], stop["details"]["reason"]) == (
        "execution.stop",
        "member-token",
        "enough",
    )
    assert stop["at"] <= policy["at"]
    rest = c.get(f"{a.base}/audit?cursor={page['next_cursor']}", headers=member).json()
    # the seeded token and the member's, both made by the admin CLI's way (no token acts)
    assert [(e["action"], e["token_id"]) for e in rest["items"]] == [("token.create", None)] * 2
    assert rest["next_cursor"] is None
    # the other team's log is its own
    theirs = c.get(f"{env.b.base}/audit", headers=env.b.headers).json()["items"]
    assert [(e["action"], e["target_id"]) for e in theirs] == [("token.create", env.b.token_id)]
    # a viewer reads it too (it sees everything of its team)
    viewer = _token(env, "viewer")
    r = c.get(f"{a.base}/audit?limit=3", headers=viewer)  # newest: the viewer's own creation
    assert r.status_code == 200 and r.json()["items"][1:] == page["items"]
    # no route changes it, and the database refuses to
    assert c.delete(f"{a.base}/audit", headers=a.headers).status_code == 405
    db = c.app.state.db
    for statement in ("UPDATE audit_log SET token_name = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(text(statement))
    with db.engine.connect() as conn:
        names = {r[0] for r in conn.execute(text("SELECT token_name FROM audit_log"))}
    assert "someone else" not in names and len(names) == 3  # the admin, token-alpha, member-token


def test_pause_and_resume_need_a_member_and_are_audited(env: Any) -> None:
    c, a = env.client, env.a
    ids = _resources(env)  # a running execution
    viewer, member = _token(env, "viewer"), _token(env, "member")
    verdict = f"{a.base}/experiments/{ids['eid']}/executions/{ids['xid']}/policies"
    pause, resume = (f"{a.base}/executions/{ids['xid']}/{verb}" for verb in ("pause", "resume"))

    def paused() -> bool:
        return any(p.get("pause") for p in c.get(verdict, headers=a.headers).json()["policies"])

    r = c.post(pause, json={"reason": "look"}, headers=viewer)
    assert r.status_code == 403 and r.json()["detail"] == (
        "this token's role is viewer; pausing or resuming a run needs member or owner"
    )
    assert not paused()
    assert c.post(pause, json={"reason": "look", "timeout": 60}, headers=member).status_code == 201
    assert paused()
    assert c.post(resume, headers=viewer).status_code == 403
    assert paused()
    assert c.post(resume, headers=member).status_code == 200
    assert not paused()
    log = c.get(f"{a.base}/audit?limit=2", headers=member).json()["items"]
    assert [(e["action"], e["token_name"], e["target_id"]) for e in log] == [
        ("execution.resume", "member-token", ids["xid"]),
        ("execution.pause", "member-token", ids["xid"]),
    ]
    assert log[1]["details"]["reason"] == "look" and log[1]["details"]["timeout"] == 60


def test_team_policies_are_an_owners_and_audited(env: Any) -> None:
    c, a = env.client, env.a
    member = _token(env, "member")
    window = {"name": "Friday freeze", "kind": "window", "start_day": 4, "start_time": "16:00",
              "end_day": 0, "end_time": "08:00", "time_zone": "Europe/Paris"}  # fmt: skip
    r = c.post(f"{a.base}/policies", json=window, headers=member)
    assert r.status_code == 403 and r.json()["detail"] == (
        "this token's role is member; managing policies needs owner"
    )
    assert c.get(f"{a.base}/policies", headers=member).json()["items"] == []
    pid = c.post(f"{a.base}/policies", json=window, headers=a.headers).json()["id"]
    assert c.put(f"{a.base}/policies/{pid}", json=window, headers=member).status_code == 403
    assert c.delete(f"{a.base}/policies/{pid}", headers=member).status_code == 403
    changed = {**window, "time_zone": "UTC"}
    assert c.put(f"{a.base}/policies/{pid}", json=changed, headers=a.headers).status_code == 200
    assert c.delete(f"{a.base}/policies/{pid}", headers=a.headers).status_code == 204
    log = c.get(f"{a.base}/audit?limit=3", headers=member).json()["items"]
    assert [(e["action"], e["token_name"], e["target_id"]) for e in log] == [
        ("policy.delete", "token-alpha", pid),
        ("policy.update", "token-alpha", pid),
        ("policy.create", "token-alpha", pid),
    ]
    assert [e["details"]["time_zone"] for e in log] == ["UTC", "UTC", "Europe/Paris"]


def test_last_used_is_written_at_most_once_a_minute(lite: Any) -> None:
    c, a = lite.client, lite.a
    store: Store = c.app.state.store

    def last_used() -> str | None:
        return next(t["last_used_at"] for t in store.tokens.list() if t["id"] == a.token_id)

    assert last_used() is None
    assert c.get(f"{a.base}/experiments", headers=a.headers).status_code == 200
    first = last_used()
    assert first is not None
    c.app.state.auth.clear()  # a new lookup, as a second later: no new write within the minute
    assert c.get(f"{a.base}/experiments", headers=a.headers).status_code == 200
    assert last_used() == first
    db = c.app.state.db
    with db.engine.begin() as conn:  # a minute ago
        conn.execute(text("UPDATE tokens SET last_used_at = '2000-01-01T00:00:00.000000Z'"))
    c.app.state.auth.clear()
    assert c.get(f"{a.base}/experiments", headers=a.headers).status_code == 200
    assert last_used() > "2000-01-01T00:00:00.000000Z"
