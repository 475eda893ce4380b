"""Console security: login CSRF and the Origin check on every form, server-side sessions
signed with a key the database does not hold, and the secret key's file."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from chaosiq_server.app import create_app
from chaosiq_server.config import Settings
from chaosiq_server.console.admin import router as admin_router
from chaosiq_server.console.policies import router as policies_router
from chaosiq_server.console.views import router as console_router
from chaosiq_server.db import Database
from chaosiq_server.store import Store
from fastapi.testclient import TestClient
from replay import replay_run
from server_helpers import seed, server_cmd, start_server, stop_server
from sqlalchemy import create_engine, inspect, text

from conftest import ORIGIN, csrf_of, sign_in, team_api

# What the console answers a form from another site (one message for every form).
CROSS_ORIGIN = "it came from another site, or without an Origin header"

EVIL_ORIGINS = [
    "http://evil.example",
    "http://testserver:8080",  # another port of the same host: another origin
    "https://testserver",  # another scheme
    "null",  # a sandboxed or privacy-hiding page
]


def _signed_in(client: Any) -> bool:
    return client.get("/", follow_redirects=False).headers.get("location") != "/signin"


def _refused(resp: Any) -> None:
    assert resp.status_code == 403, (resp.status_code, resp.text[:300])
    assert CROSS_ORIGIN in resp.text
    assert "ciq_session" not in resp.headers.get("set-cookie", "")


# ---------------------------------------------------------------- login CSRF
def test_a_planted_signin_cookie_with_the_attackers_token_does_not_sign_in(lite: Any) -> None:
    """Another port of the host planted ``ciq_signin_csrf=planted`` and auto-posts its own token."""
    c = lite.client
    c.cookies.set("ciq_signin_csrf", "planted", path="/signin")
    form = {"token": lite.b.token, "csrf_token": "planted", "next": ""}
    # even when the post looked same-origin, the planted value is no token of this server
    resp = c.post("/signin", data=form, follow_redirects=False)
    assert resp.status_code == 403 and "ciq_session" not in resp.headers.get("set-cookie", "")
    assert not _signed_in(c)
    # as the attacker's page really sends it: from its own origin
    for origin in EVIL_ORIGINS:
        _refused(c.post("/signin", data=form, headers={"Origin": origin}, follow_redirects=False))
        assert not _signed_in(c)


def test_a_signin_csrf_pair_fetched_by_the_attacker_is_refused_from_another_origin(lite: Any) -> None:
    """The attacker may fetch a valid (cookie, token) pair himself and plant it: the Origin
    check refuses the post his page makes."""
    attacker = TestClient(lite.client.app, base_url="http://testserver")
    page = attacker.get("/signin")
    nonce, token = attacker.cookies["ciq_signin_csrf"], csrf_of(page.text)
    victim = lite.client
    victim.cookies.set("ciq_signin_csrf", nonce, path="/signin")
    form = {"token": lite.b.token, "csrf_token": token, "next": ""}
    _refused(victim.post("/signin", data=form, headers={"Origin": "http://testserver:8080"}))
    assert not _signed_in(victim)


def _forms(env: Any) -> dict[str, tuple[str, dict[str, str]]]:
    """Every console form but sign-in, filled in as its own page does (valid CSRF token)."""
    api = team_api(env.client, env.a)
    eid, xid = replay_run(api, title="Going", finish=False)
    a = env.a
    page = env.client.get(f"/organizations/{a.org_id}/teams/{a.team_id}/experiments/{eid}/executions/{xid}")
    csrf = csrf_of(page.text)
    team = f"/organizations/{a.org_id}/teams/{a.team_id}"
    _, victim = Store(env.client.app.state.db).tokens.create("victim", [a.team_id], "viewer")
    kept = {"name": "kept", "kind": "deny", "tag": "nothing-has-it"}
    pid = api("POST", "/policies", json=kept).json()["id"]
    execution = f"{team}/experiments/{eid}/executions/{xid}"
    policy = {"csrf_token": csrf, "name": "from evil", "kind": "deny"}
    return {
        "/signout": ("/signout", {"csrf_token": csrf}),
        "/organizations/{org}/teams/{team}/tokens": (
            f"{team}/tokens",
            {"csrf_token": csrf, "name": "evil", "role": "owner", f"team-{a.team_id}": "1"},
        ),
        "/organizations/{org}/teams/{team}/tokens/{tid}/revoke": (
            f"{team}/tokens/{victim['id']}/revoke",
            {"csrf_token": csrf},
        ),
        "/organizations/{org}/teams/{team}/experiments/{eid}/executions/{xid}/stop": (
            f"{execution}/stop",
            {"csrf_token": csrf, "reason": "from evil"},
        ),
        "/organizations/{org}/teams/{team}/experiments/{eid}/executions/{xid}/pause": (
            f"{execution}/pause",
            {"csrf_token": csrf, "reason": "from evil"},
        ),
        "/organizations/{org}/teams/{team}/experiments/{eid}/executions/{xid}/resume": (
            f"{execution}/resume",
            {"csrf_token": csrf},
        ),
        "/organizations/{org}/teams/{team}/policies": (f"{team}/policies", policy),
        "/organizations/{org}/teams/{team}/policies/{pid}": (f"{team}/policies/{pid}", policy),
        "/organizations/{org}/teams/{team}/policies/{pid}/delete": (
            f"{team}/policies/{pid}/delete",
            {"csrf_token": csrf},
        ),
    }


def _post_from(client: Any, path: str, data: dict[str, str], origin: str | None, referer: str | None) -> Any:
    """A form post whose Origin (and Referer) are the given ones, or absent when None."""
    saved = client.headers.get("Origin")
    client.headers.pop("Origin", None)
    headers = {}
    if origin is not None:
        headers["Origin"] = origin
    if referer is not None:
        headers["Referer"] = referer
    try:
        return client.post(path, data=data, headers=headers, follow_redirects=False)
    finally:
        if saved is not None:
            client.headers["Origin"] = saved


CROSS_SITE = [(o, None) for o in EVIL_ORIGINS] + [(None, "http://evil.example/page"), (None, None)]


def test_every_console_form_refuses_a_post_from_another_origin(console: Any) -> None:
    forms = _forms(console)
    routes = [*console_router.routes, *admin_router.routes, *policies_router.routes]
    posts = {r.path for r in routes if "POST" in getattr(r, "methods", ())}
    assert posts == {"/signin", *forms}, "a console POST route without a case here"
    c = console.client
    for path, data in forms.values():
        for origin, referer in CROSS_SITE:
            _refused(_post_from(c, path, data, origin, referer))
    # the sign-in form, with a valid pair of its own
    fresh = TestClient(c.app, base_url="http://testserver")
    signin = {"token": console.a.token, "csrf_token": csrf_of(fresh.get("/signin").text), "next": ""}
    for origin, referer in CROSS_SITE:
        _refused(_post_from(fresh, "/signin", signin, origin, referer))
    assert not _signed_in(fresh)
    # nothing happened: still signed in, no policy on the run
    assert _signed_in(c)
    stop_path = forms["/organizations/{org}/teams/{team}/experiments/{eid}/executions/{xid}/stop"][0]
    policies = stop_path.split(f"/teams/{console.a.team_id}", 1)[1].removesuffix("/stop") + "/policies"
    assert team_api(c, console.a)("GET", policies).json()["policies"] == []
    tokens = Store(c.app.state.db).tokens.list()
    assert "evil" not in {t["name"] for t in tokens} and all(t["revoked_at"] is None for t in tokens)
    assert [p["name"] for p in team_api(c, console.a)("GET", "/policies").json()["items"]] == ["kept"]
    # and the same form from the console's own origin is accepted
    assert _post_from(fresh, "/signin", signin, ORIGIN, None).status_code == 303


def test_same_origin_forms_work_with_origin_or_with_referer_only(console: Any) -> None:
    forms = _forms(console)
    c = console.client
    path, data = forms["/organizations/{org}/teams/{team}/experiments/{eid}/executions/{xid}/stop"]
    resp = _post_from(c, path, data, None, ORIGIN + path[: -len("/stop")])
    assert resp.status_code == 303 and resp.headers["location"].endswith("?stop=requested")
    # the default port is the same origin; scheme and host are compared without case
    assert _post_from(c, path, data, "HTTP://TestServer:80", None).status_code == 303


def test_over_https_the_cookies_are_host_prefixed_and_a_planted_plain_one_is_ignored(lite: Any) -> None:
    c = TestClient(lite.client.app, base_url="https://testserver", headers={"Origin": "https://testserver"})
    page = c.get("/signin")
    set_cookie = page.headers["set-cookie"]
    assert (
        set_cookie.startswith("__Host-ciq_signin_csrf=")
        and "Secure" in set_cookie
        and "Path=/;" in set_cookie
    )
    nonce = c.cookies["__Host-ciq_signin_csrf"]
    form = {"token": lite.a.token, "csrf_token": csrf_of(page.text), "next": ""}
    # the same nonce in a cookie without the prefix (as another port could plant it) is not read
    c.cookies.clear()
    c.cookies.set("ciq_signin_csrf", nonce)
    assert c.post("/signin", data=form, follow_redirects=False).status_code == 403
    c.cookies.clear()
    c.cookies.set("__Host-ciq_signin_csrf", nonce)
    ok = c.post("/signin", data=form, follow_redirects=False)
    assert ok.status_code == 303
    assert "__Host-ciq_session=" in ok.headers["set-cookie"] and "Secure" in ok.headers["set-cookie"]
    assert _signed_in(c)
    # the plain-HTTP origin is another origin for an HTTPS console
    _refused(_post_from(c, "/signout", {"csrf_token": "x"}, "http://testserver", None))
    # an X-Forwarded-Proto from a peer that is no named proxy changes nothing
    direct = lite.client.get("/signin", headers={"X-Forwarded-Proto": "https"})
    assert direct.headers["set-cookie"].startswith("ciq_signin_csrf=")


# ------------------------------------------------------------------ sessions
def test_a_session_cookie_replayed_after_sign_out_is_refused(console_db: Any) -> None:
    c = console_db.client
    cookie = c.cookies["ciq_session"]
    page = c.get("/").text
    assert c.post("/signout", data={"csrf_token": csrf_of(page)}, follow_redirects=False).status_code == 303
    assert not _signed_in(c)
    c.cookies.set("ciq_session", cookie)  # the stolen or kept cookie, replayed
    assert not _signed_in(c)
    executions = f"/organizations/{console_db.a.org_id}/teams/{console_db.a.team_id}/executions"
    assert c.get(executions, follow_redirects=False).status_code == 303


def _session_rows(url: str, token_id: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                text("SELECT COUNT(*) FROM console_sessions WHERE token_id = :t"), {"t": token_id}
            ).scalar_one()
    finally:
        engine.dispose()


def test_token_revoke_ends_the_tokens_console_sessions(console_db: Any) -> None:
    c = console_db.client
    other = TestClient(c.app, base_url="http://testserver", headers={"Origin": ORIGIN})
    assert sign_in(other, console_db.a.token).status_code == 303  # a second browser
    assert _session_rows(console_db.url, console_db.a.token_id) == 2
    cookie = c.cookies["ciq_session"]
    done = subprocess.run(
        [*server_cmd(), "token", "revoke", console_db.a.token_id, "--database-url", console_db.url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert _session_rows(console_db.url, console_db.a.token_id) == 0
    c.cookies.set("ciq_session", cookie)
    assert not _signed_in(c) and not _signed_in(other)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _forgeries(url: str, token_id: str) -> list[str]:
    """Every cookie an attacker can build from what the database holds: the token's stored
    digest and whatever a sessions table has, with the signing schemes they could feed."""
    engine = create_engine(url)
    with engine.connect() as conn:
        token_hash = conn.execute(
            text("SELECT token_hash FROM tokens WHERE id = :t"), {"t": token_id}
        ).scalar_one()
        tables = inspect(conn).get_table_names()
        stored = (
            [r[0] for r in conn.execute(text("SELECT id_hash FROM console_sessions"))]
            if "console_sessions" in tables
            else []
        )
    engine.dispose()
    keys = [
        hmac.new(token_hash.encode(), b"chaosiq-console-session-v1", hashlib.sha256).digest(),
        token_hash.encode(),
        bytes.fromhex(token_hash),
    ]
    out = []
    for key in keys:
        body = f"{token_id}.{4102444800}.{_b64(os.urandom(16))}"
        out.append(f"{body}.{_b64(hmac.new(key, body.encode(), hashlib.sha256).digest())}")
        for value in stored:
            for purpose in (b"console-session", b""):
                k = hmac.new(key, purpose, hashlib.sha256).digest() if purpose else key
                out.append(f"{value}.{hmac.new(k, value.encode(), hashlib.sha256).hexdigest()}")
    return out


def test_a_cookie_forged_from_the_database_contents_is_refused(console_db: Any) -> None:
    c = console_db.client
    assert _signed_in(c)  # a session exists: its row is in the database too
    forged = _forgeries(console_db.url, console_db.a.token_id)
    attacker = TestClient(c.app, base_url="http://testserver")
    for cookie in forged:
        attacker.cookies.set("ciq_session", cookie)
        assert not _signed_in(attacker), cookie


def _app(url: str, key: str | None = None) -> TestClient:
    client = TestClient(create_app(Settings(database_url=url, secret_key=key)), base_url="http://testserver")
    client.headers["Origin"] = ORIGIN
    return client


def test_two_servers_with_one_environment_key_accept_one_session(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = seed(db_url)
    monkeypatch.setenv("CHAOSIQ_SERVER_SECRET_KEY", "one-key-for-every-replica-" + "x" * 16)
    one, two = _app(db_url), _app(db_url)
    other = _app(db_url, key="another-key-another-server-" + "y" * 16)
    with one, two, other:
        assert sign_in(one, a.token).status_code == 303
        cookie = one.cookies["ciq_session"]
        two.cookies.set("ciq_session", cookie)
        assert two.get("/").status_code == 200 and "team-alpha" in two.get("/").text
        other.cookies.set("ciq_session", cookie)
        assert not _signed_in(other)  # a server with another key does not
        page = two.get("/").text
        assert (
            two.post("/signout", data={"csrf_token": csrf_of(page)}, follow_redirects=False).status_code
            == 303
        )
        assert not _signed_in(one)  # signed out on one replica: out on all


def test_failed_sign_ins_are_counted_across_servers_on_one_database(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chaosiq_server.store.signins import MAX_FAILURES

    seed(db_url)
    monkeypatch.setenv("CHAOSIQ_SERVER_SECRET_KEY", "one-key-for-every-replica-" + "x" * 16)
    one, two = _app(db_url), _app(db_url)
    with one, two:
        for i in range(MAX_FAILURES):
            assert sign_in(one if i % 2 else two, "ciq_guess").status_code == 401
        assert sign_in(one, "ciq_guess").status_code == 429
        assert sign_in(two, "ciq_guess").status_code == 429


# ---------------------------------------------------------------- secret key
def test_init_writes_a_0600_key_file_beside_the_database_and_serve_makes_a_missing_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHAOSIQ_SERVER_SECRET_KEY", raising=False)
    url = f"sqlite:///{tmp_path / 'chaosiq.db'}"
    done = subprocess.run(
        [*server_cmd(), "init", "--json", "--database-url", url], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) == {"organization", "team", "token", "token_id"}
    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert f"generated a new secret key for console sessions: the key file {key_file}" in done.stderr
    first = key_file.read_text()
    assert len(first.strip()) >= 32 and first not in done.stdout + done.stderr
    # a second init keeps it (sessions stay valid)
    subprocess.run(
        [*server_cmd(), "init", "--database-url", url], capture_output=True, check=True, timeout=60
    )
    assert key_file.read_text() == first
    key_file.unlink()
    served = start_server(url, tmp_path / "serve.log")
    try:
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and key_file.read_text() != first
    finally:
        stop_server(served)
    log = (tmp_path / "serve.log").read_text()
    assert re.search(r"WARNING .*generated a new secret key for console sessions: the key file", log), log


def test_a_too_short_environment_key_is_one_clear_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'chaosiq.db'}"
    done = subprocess.run(
        [*server_cmd(), "serve", "--init", "--database-url", url, "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CHAOSIQ_SERVER_SECRET_KEY": "short"},
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "Error: the secret key from the environment variable CHAOSIQ_SERVER_SECRET_KEY is too short: "
        "use at least 32 characters"
    )
    assert "Traceback" not in done.stderr and not (tmp_path / "secret_key").exists()


def test_store_sessions_are_gone_after_sign_out(console: Any) -> None:
    store = Store(Database(console.url, pool_size=1))
    assert store.sessions.count(console.a.token_id) == 1
    page = console.client.get("/").text
    console.client.post("/signout", data={"csrf_token": csrf_of(page)})
    assert store.sessions.count(console.a.token_id) == 0
    store.db.dispose()
