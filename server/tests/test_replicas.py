"""Two real ``serve`` processes on one database with one ``CHAOSIQ_SERVER_SECRET_KEY``:
one console session, one sign-out, one sign-in limit (as replicas behind a load balancer)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from server_helpers import seed, start_server, stop_server

MAX_FAILURES = 10  # the documented limit: 10 failed sign-ins a minute per address
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _csrf(page: httpx.Response) -> str:
    found = CSRF_RE.search(page.text)
    assert found, page.text[:300]
    return found.group(1)


def _sign_in(base: str, token: str) -> httpx.Response:
    with httpx.Client(base_url=base, timeout=10) as browser:
        form = browser.get("/signin")
        return browser.post(
            "/signin",
            data={"token": token, "csrf_token": _csrf(form), "next": ""},
            headers={"Origin": base},
        )


def _home(base: str, cookie: str) -> httpx.Response:
    return httpx.get(base + "/", cookies={"ciq_session": cookie}, timeout=10)


def test_two_replicas_with_one_key_share_sessions_and_the_sign_in_limit(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = seed(db_url)
    monkeypatch.setenv("CHAOSIQ_SERVER_SECRET_KEY", "the-replicas-key-" + "k" * 32)
    one = start_server(db_url, tmp_path / "one.log")
    two = start_server(db_url, tmp_path / "two.log")
    try:
        signed = _sign_in(one.base, a.token)
        assert signed.status_code == 303
        cookie = signed.cookies["ciq_session"]
        on_two = _home(two.base, cookie)
        assert on_two.status_code == 303 and on_two.headers["location"].endswith("/executions")
        # sign out on the second replica: the first one refuses the cookie too
        with httpx.Client(base_url=two.base, timeout=10, cookies={"ciq_session": cookie}) as browser:
            page = browser.get(on_two.headers["location"])
            out = browser.post("/signout", data={"csrf_token": _csrf(page)}, headers={"Origin": two.base})
            assert out.status_code == 303
        assert _home(one.base, cookie).headers["location"] == "/signin"
        # failed sign-ins add up over both
        codes = [_sign_in((one, two)[i % 2].base, "ciq_wrong").status_code for i in range(MAX_FAILURES + 2)]
        assert codes == [401] * MAX_FAILURES + [429, 429]
    finally:
        stop_server(one)
        stop_server(two)
    for log in ("one.log", "two.log"):
        text = (tmp_path / log).read_text()
        assert "console sessions are signed with the secret key from the environment variable" in text
        assert "the-replicas-key" not in text
