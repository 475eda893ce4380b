"""Forwarded headers are believed only from the proxies named by ``serve
--forwarded-allow-ips``: the sign-in limit counts the real client (a real ``serve``)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from haproxy_helpers import HAProxy, require_haproxy
from server_helpers import Served, free_port, seed, server_cmd, start_server, stop_server

MAX_FAILURES = 10  # the documented limit: 10 failed sign-ins a minute per address
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _wrong_sign_in(base: str, headers: dict[str, str]) -> int:
    """One sign-in with a wrong token, as a browser on ``base`` sends it: its status."""
    with httpx.Client(base_url=base, timeout=10) as browser:
        form = browser.get("/signin", headers=headers)
        csrf = CSRF_RE.search(form.text)
        assert csrf, form.text[:300]
        resp = browser.post(
            "/signin",
            data={"token": "ciq_wrong", "csrf_token": csrf.group(1), "next": ""},
            headers={**headers, "Origin": base},
        )
        return resp.status_code


class Servers:
    """``serve`` processes on one seeded SQLite database (``a``: a tenant of it)."""

    def __init__(self, url: str, log: Path) -> None:
        self.url, self.log = url, log
        self.a, _ = seed(url)
        self.started: list[Served] = []

    def __call__(self, *extra: str) -> Served:
        served = start_server(self.url, self.log, *extra)
        self.started.append(served)
        return served


@pytest.fixture
def serve(sqlite_url: str, tmp_path: Path) -> Iterator[Servers]:
    servers = Servers(sqlite_url, tmp_path / "serve.log")
    yield servers
    for served in servers.started:
        stop_server(served)


def test_a_rotating_x_forwarded_for_from_an_untrusted_peer_is_ignored(serve: Servers) -> None:
    base = serve().base  # loopback is not trusted by default
    codes = [_wrong_sign_in(base, {"X-Forwarded-For": f"10.0.0.{n}"}) for n in range(1, MAX_FAILURES + 3)]
    assert codes == [401] * MAX_FAILURES + [429, 429]
    # nor is its X-Forwarded-Proto: the console does not think it is served over HTTPS
    page = httpx.get(base + "/signin", headers={"X-Forwarded-Proto": "https"}, timeout=10)
    assert page.headers["set-cookie"].startswith("ciq_signin_csrf=")


def test_a_trusted_proxys_forwarded_address_is_the_client(serve: Servers) -> None:
    base = serve("--forwarded-allow-ips", "127.0.0.1").base
    rotating = [_wrong_sign_in(base, {"X-Forwarded-For": f"10.0.0.{n}"}) for n in range(1, MAX_FAILURES + 3)]
    assert rotating == [401] * (MAX_FAILURES + 2)  # each is another client
    fixed = [_wrong_sign_in(base, {"X-Forwarded-For": "10.9.9.9"}) for _ in range(MAX_FAILURES + 1)]
    assert fixed == [401] * MAX_FAILURES + [429]
    assert _wrong_sign_in(base, {"X-Forwarded-For": "10.9.9.10"}) == 401  # another client still may
    # the proxy's own address (no header) is a client of its own too
    assert _wrong_sign_in(base, {}) == 401
    # a TLS-terminating proxy's X-Forwarded-Proto: the cookies are for HTTPS only
    page = httpx.get(base + "/signin", headers={"X-Forwarded-Proto": "https"}, timeout=10)
    assert (
        page.headers["set-cookie"].startswith("__Host-ciq_signin_csrf=")
        and "Secure" in page.headers["set-cookie"]
    )


def test_a_bad_forwarded_allow_ips_is_one_clear_line(sqlite_url: str) -> None:
    done = subprocess.run(
        [*server_cmd(), "serve", "--database-url", sqlite_url, "--forwarded-allow-ips", "127.0.0.1,proxy"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: Invalid value for '--forwarded-allow-ips'")
    assert last.endswith(": 'proxy' is not an IP address or network (e.g. 10.0.0.5, 10.0.0.0/24)")


def test_behind_haproxy_as_docs_server_md_shows_it(serve: Servers, tmp_path: Path) -> None:
    """The documented set-up: HAProxy adds X-Forwarded-For, ``serve`` trusts only the
    proxy's address (127.0.0.3 here; the client is 127.0.0.1, a different machine in life)."""
    require_haproxy()
    backend = serve("--forwarded-allow-ips", "127.0.0.3")
    proxy = HAProxy(tmp_path, "127.0.0.2", free_port(), [backend.base.split("//")[1]], source="127.0.0.3")
    base = proxy.base
    try:
        # a browser through the proxy signs in (Host and Origin are the proxy's URL)
        token = serve.a.token
        with httpx.Client(base_url=base, timeout=10) as browser:
            form = CSRF_RE.search(browser.get("/signin").text)
            assert form
            ok = browser.post(
                "/signin",
                data={"token": token, "csrf_token": form.group(1), "next": ""},
                headers={"Origin": base},
            )
            assert ok.status_code == 303, ok.text[:300]
        # a client's own X-Forwarded-For cannot pick its address: the proxy's entry wins
        codes = [_wrong_sign_in(base, {"X-Forwarded-For": f"10.0.0.{n}"}) for n in range(1, MAX_FAILURES + 2)]
        assert codes == [401] * MAX_FAILURES + [429]
    finally:
        proxy.stop()
