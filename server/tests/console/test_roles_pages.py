"""Roles in the console: what a viewer, a member and an owner see and may do; the Tokens
page (create: the secret shown once with its ``chaos signin`` line; revoke, confirmed)
and the Audit page (who did what, newest first)."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from chaosiq_server.store import Store
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from replay import replay_run
from server_helpers import all_routes

from conftest import ORIGIN, csrf_of, sign_in, team_api


def _client(env: Any, role: str) -> tuple[TestClient, str]:
    """A browser signed in with a new token of ``role`` on team a; and the token."""
    store: Store = env.client.app.state.store
    secret, _ = store.tokens.create(f"{role}-token", [env.a.team_id], role)
    browser = TestClient(env.client.app, base_url="http://testserver")
    browser.headers["Origin"] = ORIGIN
    assert sign_in(browser, secret).status_code == 303
    return browser, secret


def _team(env: Any) -> str:
    return f"/organizations/{env.a.org_id}/teams/{env.a.team_id}"


def test_a_viewer_sees_the_audit_log_but_no_stop_button_or_tokens_and_a_forged_stop_is_refused(
    lite: Any,
) -> None:
    eid, xid = replay_run(team_api(lite.client, lite.a), finish=False)
    viewer, _ = _client(lite, "viewer")
    path = f"{_team(lite)}/experiments/{eid}/executions/{xid}"
    page = viewer.get(path)
    assert page.status_code == 200
    assert 'id="stop-button"' not in page.text and "/stop" not in page.text
    assert 'id="pause-button"' not in page.text and "/pause" not in page.text
    assert "This token's role is viewer: stopping a run needs member or owner." in page.text
    assert 'id="nav-audit"' in page.text and 'id="nav-tokens"' not in page.text
    assert "(viewer)" in page.text
    # a forged form (with the session's own CSRF token and Origin): 403, nothing stopped
    forged = viewer.post(path + "/stop", data={"csrf_token": csrf_of(page.text), "reason": "x"})
    assert forged.status_code == 403
    assert "This token's role is viewer; stopping a run needs member or owner." in unescape(forged.text)
    policies = team_api(lite.client, lite.a)("GET", f"/experiments/{eid}/executions/{xid}/policies")
    assert policies.json()["policies"] == []
    assert viewer.get(f"{_team(lite)}/tokens").status_code == 403
    audit = viewer.get(f"{_team(lite)}/audit")
    assert audit.status_code == 200 and 'class="audit-row"' in audit.text  # the owner's token.create
    forged = viewer.post(path + "/pause", data={"csrf_token": csrf_of(page.text)})
    assert forged.status_code == 403
    assert "This token's role is viewer; pausing or resuming a run needs member or owner." in unescape(
        forged.text
    )
    verdict = team_api(lite.client, lite.a)("GET", f"/experiments/{eid}/executions/{xid}/policies")
    assert verdict.json()["policies"] == []


def test_only_an_owner_manages_policies_in_the_console(lite: Any) -> None:
    api = team_api(lite.client, lite.a)
    pid = api("POST", "/policies", json={"name": "freeze", "kind": "deny", "tag": "prod"}).json()["id"]
    policies = f"{_team(lite)}/policies"
    for role in ("viewer", "member"):
        browser, _ = _client(lite, role)
        page = browser.get(policies)
        assert page.status_code == 200 and "freeze" in page.text  # every role sees them
        assert 'id="new-policy"' not in page.text and "delete-policy" not in page.text
        assert f"This token's role is {role}: managing policies needs owner." in page.text
        assert browser.get(f"{policies}/new").status_code == 403
        assert browser.get(f"{policies}/{pid}").status_code == 403
        csrf = csrf_of(page.text)
        form = {"csrf_token": csrf, "name": "from a " + role, "kind": "deny"}
        for url, data in (
            (policies, form),
            (f"{policies}/{pid}", form),
            (f"{policies}/{pid}/delete", {"csrf_token": csrf}),
        ):
            refused = browser.post(url, data=data)
            assert refused.status_code == 403, (role, url)
            assert f"This token's role is {role}; managing policies needs owner." in unescape(refused.text)
    assert [(p["id"], p["name"]) for p in api("GET", "/policies").json()["items"]] == [(pid, "freeze")]
    owner, _ = _client(lite, "owner")
    page = owner.get(policies)
    assert 'id="new-policy"' in page.text and "delete-policy" in page.text
    csrf = csrf_of(page.text)
    window = {"csrf_token": csrf, "name": "weekend", "kind": "window", "start_day": "4",
              "start_time": "16:00", "end_day": "0", "end_time": "08:00",
              "time_zone": "Europe/Paris"}  # fmt: skip
    made = owner.post(policies, data=window, follow_redirects=False)
    assert made.status_code == 303, made.text
    new = made.headers["location"].rsplit("saved=", 1)[1]
    edited = owner.post(f"{policies}/{new}", data={**window, "name": "long weekend", "end_day": "1"})
    assert edited.status_code == 200  # the redirect followed: the list
    gone = owner.post(f"{policies}/{pid}/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert gone.status_code == 303
    assert [(p["id"], p["name"], p["end_day"]) for p in api("GET", "/policies").json()["items"]] == [
        (new, "long weekend", 1)
    ]
    # the audit log says who did each, newest first
    log = api("GET", "/audit").json()["items"]
    assert [(e["action"], e["token_name"], e["target_id"]) for e in log[:3]] == [
        ("policy.delete", "owner-token", pid),
        ("policy.update", "owner-token", new),
        ("policy.create", "owner-token", new),
    ]
    assert log[1]["details"]["name"] == "long weekend" and log[2]["details"]["name"] == "weekend"


def test_a_member_pauses_resumes_and_stops_a_run_reads_the_audit_log_and_cannot_manage_tokens(
    lite: Any,
) -> None:
    eid, xid = replay_run(team_api(lite.client, lite.a), finish=False)
    member, _ = _client(lite, "member")
    path = f"{_team(lite)}/experiments/{eid}/executions/{xid}"
    page = member.get(path)
    assert 'id="stop-button"' in page.text and 'id="nav-audit"' in page.text
    assert 'id="nav-tokens"' not in page.text
    for action in ("pause", "resume"):
        done = member.post(
            f"{path}/{action}", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
        )
        assert done.status_code == 303, (action, done.text)
    stop = member.post(
        path + "/stop", data={"csrf_token": csrf_of(page.text), "reason": "game over"}, follow_redirects=False
    )
    assert stop.status_code == 303
    audit = member.get(f"{_team(lite)}/audit")
    assert audit.status_code == 200
    rows = re.findall(r'<tr class="audit-row" data-action="([^"]+)">(.*?)</tr>', audit.text, re.S)
    assert [action for action, _ in rows[:3]] == ["execution.stop", "execution.resume", "execution.pause"]
    assert all("member-token" in row and xid in row for _, row in rows[:3])
    assert "game over" in unescape(rows[0][1])
    tokens = member.get(f"{_team(lite)}/tokens")
    assert tokens.status_code == 403
    assert "This token's role is member; managing tokens needs owner." in unescape(tokens.text)
    forged = member.post(
        f"{_team(lite)}/tokens", data={"csrf_token": csrf_of(page.text), "name": "x", "role": "owner"}
    )
    assert forged.status_code == 403
    assert "x" not in {t["name"] for t in lite.client.app.state.store.tokens.list()}


def _created(page: str) -> tuple[str, str]:
    secret = re.search(r'id="new-secret" readonly value="([^"]+)"', page)
    line = re.search(r'<pre class="command" id="signin-line">([^<]+)</pre>', page)
    assert secret and line, "no secret shown"
    return unescape(secret.group(1)), unescape(line.group(1))


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_an_owner_creates_a_token_sees_its_secret_once_and_revokes_it(console_db: Any, role: str) -> None:
    env = console_db
    c, a = env.client, env.a
    tokens_url = f"{_team(env)}/tokens"
    page = c.get(tokens_url)
    assert page.status_code == 200 and 'id="nav-tokens"' in page.text
    assert "token-alpha" in page.text and "token-beta" not in page.text  # only the team's tokens
    form = {"csrf_token": csrf_of(page.text), "name": "ci runner", "role": role, f"team-{a.team_id}": "1"}
    made = c.post(tokens_url, data=form)
    assert made.status_code == 201
    secret, line = _created(made.text)
    assert line == (
        f"chaos signin --url http://testserver --token {secret} --org org-alpha --team team-alpha"
    )
    # the secret works with the API, with its role
    h = {"Authorization": f"Bearer {secret}"}
    assert c.get(f"{a.base}/experiments", headers=h).status_code == 200
    publish = c.post(f"{a.base}/experiments", json={"experiment": {"title": "t"}}, headers=h)
    assert publish.status_code == (403 if role == "viewer" else 201)
    # listed with its role, never its secret again
    again = c.get(tokens_url).text
    assert secret not in again and "ci runner" in again
    row = re.search(r'<tr data-token-id="([^"]+)" class="">\s*<td class="token-name">ci runner', again)
    assert row, again
    tid = row.group(1)
    assert re.search(rf'data-token-id="{tid}".*?<td class="token-role">{role}</td>', again, re.S)
    # revoke: a confirmation first, then the post
    confirm = c.get(f"{tokens_url}/{tid}/revoke")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    done = c.post(
        f"{tokens_url}/{tid}/revoke", data={"csrf_token": csrf_of(confirm.text)}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"].endswith("/tokens?revoked=ci%20runner")
    listed = c.get(tokens_url).text
    assert re.search(rf'<tr data-token-id="{tid}" class="revoked">', listed)
    c.app.state.auth.clear()  # the API's one-second cache, run out
    assert c.get(f"{a.base}/experiments", headers=h).status_code == 401
    # the audit log says who did both
    audit = c.get(f"{_team(env)}/audit").text
    actions = re.findall(
        r'data-action="([^"]+)">\s*<td class="audit-when">[^<]*</td>\s*<td class="audit-who">token-alpha',
        audit,
    )
    assert actions[:2] == ["token.revoke", "token.create"]


def test_token_creation_refuses_foreign_teams_bad_roles_and_empty_names(console: Any) -> None:
    c, a, b = console.client, console.a, console.b
    tokens_url = f"{_team(console)}/tokens"
    csrf = csrf_of(c.get(tokens_url).text)
    before = len(c.app.state.store.tokens.list())
    cases = [
        ({"name": "x", "role": "owner", f"team-{b.team_id}": "1"}, "Choose at least one team."),
        ({"name": "x", "role": "owner", f"team-{a.team_id}": "1", f"team-{b.team_id}": "1"},
         "A token can only be bound to teams of your token."),
        ({"name": "x", "role": "admin", f"team-{a.team_id}": "1"}, "Choose a role: viewer, member or owner."),
        ({"name": " ", "role": "viewer", f"team-{a.team_id}": "1"},
         "Give the token a name of 1 to 200 characters."),
    ]  # fmt: skip
    for data, message in cases:
        r = c.post(tokens_url, data={"csrf_token": csrf, **data})
        assert r.status_code == 400 and message in unescape(r.text), (data, r.status_code)
    assert len(c.app.state.store.tokens.list()) == before
    # a token of another team is not revocable here (404), nor one bound to a team the owner lacks
    assert c.get(f"{tokens_url}/{b.token_id}/revoke").status_code == 404
    store: Store = c.app.state.store
    _, shared = store.tokens.create("shared", [a.team_id, b.team_id], "viewer")
    page = c.get(tokens_url).text
    assert "+1 other team(s)" in page and f"/tokens/{shared['id']}/revoke" not in page
    r = c.post(f"{tokens_url}/{shared['id']}/revoke", data={"csrf_token": csrf})
    assert r.status_code == 403
    assert next(t for t in store.tokens.list() if t["id"] == shared["id"])["revoked_at"] is None


ROLES = ("viewer", "member", "owner")


def _form_role(path: str) -> str:
    """The role a console form needs, said independently of the code: stop, pause and
    resume a run are a member's; the policies' and the tokens' forms an owner's."""
    return "member" if path.endswith(("/stop", "/pause", "/resume")) else "owner"


def test_every_console_form_refuses_a_role_below_its_own_and_does_nothing(lite: Any) -> None:
    """A console form added without ``user.require`` fails here (the API's twin is
    ``test_every_api_route_declares_a_role``)."""
    api = team_api(lite.client, lite.a)
    eid, xid = replay_run(api, finish=False)
    pid = api("POST", "/policies", json={"name": "freeze", "kind": "deny", "tag": "prod"}).json()["id"]
    store: Store = lite.client.app.state.store
    _, token = store.tokens.create("ci runner", [lite.a.team_id], "member")
    ids = {
        "org": lite.a.org_id,
        "team": lite.a.team_id,
        "eid": eid,
        "xid": xid,
        "pid": pid,
        "tid": token["id"],
    }
    browsers = {role: _client(lite, role)[0] for role in ROLES}
    forms = sorted(
        route.path
        for route in all_routes(lite.client.app)
        if isinstance(route, APIRoute)
        and "POST" in route.methods
        and not route.path.startswith("/api")
        and route.path not in ("/signin", "/signout")
    )
    assert len(forms) >= 8, forms
    done_before = api("GET", "/audit").json()["total"]  # every console action is audited
    refused = 0
    for path in forms:
        need = _form_role(path)
        for role in ROLES[: ROLES.index(need)]:
            browser = browsers[role]
            csrf = csrf_of(browser.get(f"{_team(lite)}/executions").text)
            form = {"csrf_token": csrf, "name": "x", "kind": "deny", "role": "owner", "reason": "x"}
            r = browser.post(path.format(**ids), data=form, follow_redirects=False)
            assert r.status_code == 403, (role, path, r.status_code)
            said = unescape(r.text)
            assert f"This token's role is {role}; " in said, (role, path)
            assert f" needs {' or '.join(ROLES[ROLES.index(need) :])}." in said, (role, path)
            refused += 1
    assert refused >= 11
    assert api("GET", "/audit").json()["total"] == done_before  # nothing was done
    assert [p["id"] for p in api("GET", "/policies").json()["items"]] == [pid]
    assert api("GET", f"/experiments/{eid}/executions/{xid}/policies").json()["policies"] == []
