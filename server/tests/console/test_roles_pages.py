"""Roles in the console: what a viewer, a member and an owner see and may do; the Tokens
page (create: the secret shown once with its ``chaos signin`` line; revoke, confirmed)
and the Audit page (who did what, newest first)."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from chaosiq_server.store import Store
from fastapi.testclient import TestClient
from replay import replay_run

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


def test_a_viewer_sees_no_stop_button_tokens_or_audit_and_a_forged_stop_is_refused(lite: Any) -> None:
    eid, xid = replay_run(team_api(lite.client, lite.a), finish=False)
    viewer, _ = _client(lite, "viewer")
    path = f"{_team(lite)}/experiments/{eid}/executions/{xid}"
    page = viewer.get(path)
    assert page.status_code == 200
    assert 'id="stop-button"' not in page.text and "/stop" not in page.text
    assert 'id="pause-button"' not in page.text and "/pause" not in page.text
    assert "This token's role is viewer: stopping a run needs member or owner." in page.text
    assert 'id="nav-audit"' not in page.text and 'id="nav-tokens"' not in page.text
    assert "(viewer)" in page.text
    # a forged form (with the session's own CSRF token and Origin): 403, nothing stopped
    forged = viewer.post(path + "/stop", data={"csrf_token": csrf_of(page.text), "reason": "x"})
    assert forged.status_code == 403
    assert "This token's role is viewer; stopping a run needs member or owner." in unescape(forged.text)
    policies = team_api(lite.client, lite.a)("GET", f"/experiments/{eid}/executions/{xid}/policies")
    assert policies.json()["policies"] == []
    for url in (f"{_team(lite)}/tokens", f"{_team(lite)}/audit"):
        assert viewer.get(url).status_code == 403
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
    gone = owner.post(
        f"{policies}/{pid}/delete", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert gone.status_code == 303 and api("GET", "/policies").json()["items"] == []
    log = api("GET", "/audit").json()["items"]
    assert (log[0]["action"], log[0]["token_name"], log[0]["target_id"]) == (
        "policy.delete",
        "owner-token",
        pid,
    )


def test_a_member_stops_a_run_reads_the_audit_log_and_cannot_manage_tokens(lite: Any) -> None:
    eid, xid = replay_run(team_api(lite.client, lite.a), finish=False)
    member, _ = _client(lite, "member")
    path = f"{_team(lite)}/experiments/{eid}/executions/{xid}"
    page = member.get(path)
    assert 'id="stop-button"' in page.text and 'id="nav-audit"' in page.text
    assert 'id="nav-tokens"' not in page.text
    stop = member.post(
        path + "/stop", data={"csrf_token": csrf_of(page.text), "reason": "game over"}, follow_redirects=False
    )
    assert stop.status_code == 303
    audit = member.get(f"{_team(lite)}/audit")
    assert audit.status_code == 200
    rows = re.findall(r'<tr class="audit-row" data-action="([^"]+)">(.*?)</tr>', audit.text, re.S)
    action, row = rows[0]  # the newest
    assert (
        action == "execution.stop" and "member-token" in row and xid in row and "game over" in unescape(row)
    )
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
