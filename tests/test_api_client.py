"""The API client: timeouts, retries, User-Agent, where the token goes, TLS, typed errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import requests_mock as rm

from chaosiq_core import api
from chaosiq_core.api import DEFAULT_TIMEOUT, ApiClient, normalize_url
from chaosiq_core.errors import (
    ApiError,
    AuthError,
    InsecureURLError,
    TLSError,
    UnreachableError,
)
from chaosiq_core.testing import FakeServer, SilentServer
from chaosiq_core.types import Scope

TOKEN = "tok-VERY-secret-42"
URL = "https://chaosiq.example.com"
SCOPE = Scope("o1", "t1", "org", "team")


@pytest.fixture
def client() -> ApiClient:
    # A session of its own (requests-mock patches every session alike), without the
    # environment's CA bundle so that `verify` shows what the client asked for.
    session = requests.Session()
    session.trust_env = False
    return ApiClient(URL, TOKEN, scope=SCOPE, session=session)


def test_every_call_has_timeouts_tls_verification_and_user_agent(client: ApiClient) -> None:
    with rm.Mocker() as m:
        m.get(f"{URL}/api/v1/organizations", json=[])
        m.post(f"{URL}/api/v1/organizations/o1/teams/t1/experiments", status_code=201, json={"id": "e"})
        client.get_json("/api/v1/organizations")
        client.request("POST", "experiments", json={"experiment": {}})
        client.request("GET", "/api/v1/organizations", timeout=(1.0, 2.0))
    first, second, third = m.request_history
    assert first.timeout == DEFAULT_TIMEOUT and second.timeout == DEFAULT_TIMEOUT
    assert third.timeout == (1.0, 2.0)
    assert all(r.verify is True for r in m.request_history)
    ua = api.shared_session().headers["User-Agent"]
    assert ua.startswith("chaosiq-core/0.1.0")
    assert second.url == f"{URL}/api/v1/organizations/o1/teams/t1/experiments"
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in m.request_history)


def test_json_bodies_never_fail_on_values_json_cannot_hold(client: ApiClient) -> None:
    """A journal may hold a datetime (an activity's output) or NaN: sent as text and null."""
    import datetime as dt

    with rm.Mocker() as m:
        route = m.post(f"{URL}/api/v1/organizations/o1/teams/t1/experiments", status_code=201, json={})
        when = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.timezone.utc)
        client.request("POST", "/experiments", json={"at": when, "ratio": float("nan"), "n": [1, 2]})
        sent = route.last_request
        assert sent.headers["Content-Type"] == "application/json"
        assert sent.json() == {"at": "2026-11-27T12:00:00+00:00", "ratio": None, "n": [1, 2]}
        assert sent.headers["Authorization"] == f"Bearer {TOKEN}"


def test_shared_session_sends_user_agent_and_is_reused() -> None:
    session = api.shared_session()
    assert api.shared_session() is session
    client = ApiClient(URL, TOKEN, scope=SCOPE)
    with rm.Mocker() as m:
        m.get(f"{URL}/api/v1/capabilities", json={"capabilities": ["paging"]})
        assert client.capabilities() == frozenset({"paging"})
        assert client.capabilities() == frozenset({"paging"})  # asked once
    assert m.call_count == 1
    assert m.last_request.headers["User-Agent"].startswith("chaosiq-core/")
    assert m.last_request.headers["Accept"] == "application/json"


def test_original_server_has_no_capabilities(client: ApiClient) -> None:
    with rm.Mocker() as m:
        m.get(f"{URL}/api/v1/capabilities", status_code=404)
        assert client.capabilities() == frozenset()


def test_capabilities_are_asked_again_when_the_server_could_not_answer(client: ApiClient) -> None:
    """A server that is down when first asked is not taken for one without extensions."""
    import requests

    with rm.Mocker() as m:
        m.get(f"{URL}/api/v1/capabilities", exc=requests.exceptions.ConnectionError)
        with pytest.raises(ApiError, match="cannot reach"):
            client.capabilities(timeout=(1, 1))
        m.get(f"{URL}/api/v1/capabilities", json={"capabilities": ["events-batch"]})
        assert client.capabilities() == frozenset({"events-batch"})


def test_token_never_goes_to_another_host(client: ApiClient) -> None:
    with rm.Mocker() as m:
        m.get(f"{URL}/api/v1/x", status_code=302, headers={"Location": "https://evil.example/steal"})
        other = m.get("https://evil.example/steal", text="gotcha")
        resp = client.request("GET", "/api/v1/x")
        assert resp.status_code == 302  # redirects are not followed
        with pytest.raises(ApiError, match=r"evil\.example: not the ChaosIQ server"):
            client.request("GET", "https://evil.example/steal")
    assert other.call_count == 0


def test_bearer_auth_is_bound_to_its_host() -> None:
    auth = api._HostBoundBearer(TOKEN, "chaosiq.example.com")
    for url, expected in [("https://chaosiq.example.com/a", True), ("https://other.example/a", False),
                          ("https://chaosiq.example.com:8443/a", False)]:  # fmt: skip
        prepared = requests.Request("GET", url).prepare()
        assert ("Authorization" in auth(prepared).headers) is expected
    assert TOKEN not in repr(auth)


@pytest.mark.parametrize("url", ["http://chaosiq.example.com", "http://10.1.2.3:8080"])
def test_plain_http_to_a_remote_host_needs_an_opt_in(url: str) -> None:
    with pytest.raises(InsecureURLError) as info:
        ApiClient(url, TOKEN)
    assert "--insecure" in str(info.value) and TOKEN not in str(info.value)
    ApiClient(url, TOKEN, allow_insecure_http=True)
    ApiClient(url)  # no token, nothing to protect


@pytest.mark.parametrize("url", ["http://127.0.0.1:9", "http://localhost:8080", "http://[::1]:80"])
def test_plain_http_to_loopback_is_fine(url: str) -> None:
    assert ApiClient(url, TOKEN).url == url


@pytest.mark.parametrize("bad", ["chaosiq.example.com", "ftp://x", "https://", "  "])
def test_url_without_scheme_is_refused(bad: str) -> None:
    with pytest.raises(ApiError, match="with its scheme"):
        normalize_url(bad)


def test_url_is_reduced_to_scheme_and_host() -> None:
    assert normalize_url("https://h.example:8443/some/path?q=1 ") == "https://h.example:8443"


@pytest.mark.parametrize(
    ("exc", "kind", "needle"),
    [
        (requests.exceptions.ConnectTimeout, UnreachableError, "did not accept a connection in time"),
        (requests.exceptions.ReadTimeout, UnreachableError, "did not answer within 10 s"),
        (requests.exceptions.SSLError, TLSError, "TLS certificate"),
        (requests.exceptions.ConnectionError, UnreachableError, "cannot reach"),
        (requests.exceptions.RetryError, UnreachableError, "kept failing"),
        (requests.exceptions.ChunkedEncodingError, ApiError, "failed: ChunkedEncodingError"),
    ],
)
def test_transport_failures_are_one_typed_error(
    client: ApiClient, exc: type, kind: type, needle: str
) -> None:
    with rm.Mocker() as m:
        m.get(f"{URL}/api/v1/organizations", exc=exc(f"boom with {TOKEN}"))
        with pytest.raises(kind) as info:
            client.get_json("/api/v1/organizations")
    message = str(info.value)
    assert needle in message and TOKEN not in message and "\n" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.parametrize("status", [401, 403])
def test_refused_token(client: ApiClient, status: int) -> None:
    with rm.Mocker() as m:
        m.get(f"{URL}/api/v1/organizations", status_code=status, json={"detail": "no"})
        with pytest.raises(AuthError, match=f"refused the token \\(HTTP {status}\\)") as info:
            client.get_json("/api/v1/organizations")
    assert info.value.status == status


def test_http_errors_carry_the_detail_but_never_the_token(client: ApiClient) -> None:
    with rm.Mocker() as m:
        m.post(f"{URL}/api/v1/organizations/o1/teams/t1/experiments", status_code=422,
               json={"detail": f"bad token {TOKEN} in body"})  # fmt: skip
        with pytest.raises(ApiError) as info:
            client.request("POST", "experiments", json={})
    assert str(info.value) == (
        "POST /api/v1/organizations/o1/teams/t1/experiments failed: HTTP 422: bad token *** in body"
    )
    assert info.value.status == 422


def test_non_json_answer_is_an_api_error(client: ApiClient) -> None:
    with rm.Mocker() as m:
        m.get(f"{URL}/api/v1/organizations", text="<html>")
        with pytest.raises(ApiError, match="did not answer JSON"):
            client.get_json("/api/v1/organizations")


def test_team_path_needs_a_scope() -> None:
    with pytest.raises(ApiError, match="no default organization and team"):
        ApiClient(URL, TOKEN, session=requests.Session()).request("GET", "executions")


# ------------------------------------------- retries (real HTTP on loopback)


@pytest.fixture
def fake() -> FakeServer:
    server = FakeServer(token=TOKEN)
    yield server
    server.close()


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_get_is_retried_on_transient_statuses(fake: FakeServer, status: int) -> None:
    fake.routes[("GET", "/api/v1/thing")] = [(status, {}), (status, {}), (200, {"ok": True})]
    client = ApiClient(fake.url, TOKEN, session=_fresh_session())
    assert client.get_json("/api/v1/thing") == {"ok": True}
    assert [r[0] for r in fake.requests] == ["GET"] * 3


def test_get_gives_up_after_a_few_retries(fake: FakeServer) -> None:
    fake.routes[("GET", "/api/v1/thing")] = [(503, {"detail": "down"})]
    client = ApiClient(fake.url, TOKEN, session=_fresh_session())
    with pytest.raises(ApiError, match="HTTP 503"):
        client.get_json("/api/v1/thing")
    assert len(fake.requests) == 4  # the first try and 3 retries


def test_post_that_reached_the_server_is_not_retried(fake: FakeServer) -> None:
    fake.routes[("POST", "/api/v1/thing")] = [(503, {"detail": "down"}), (201, {"id": "x"})]
    client = ApiClient(fake.url, TOKEN, session=_fresh_session())
    with pytest.raises(ApiError, match="HTTP 503"):
        client.request("POST", "/api/v1/thing", json={"a": 1})
    assert [r[0] for r in fake.requests] == ["POST"]


def test_a_server_that_never_answers_times_out() -> None:
    silent = SilentServer()
    try:
        client = ApiClient(silent.url, TOKEN, timeout=(1.0, 0.3), session=_fresh_session())
        with pytest.raises(UnreachableError, match=r"did not answer within 0.3 s"):
            client.request("POST", "/api/v1/thing", json={})
    finally:
        silent.close()


def _fresh_session() -> requests.Session:
    """A session built like the shared one, but private to the test (no pooled state)."""
    saved = api._session
    api._session = None
    try:
        return api.shared_session()
    finally:
        api._session = saved


def test_a_hung_server_on_a_retried_get_says_it_did_not_answer() -> None:
    silent = SilentServer()
    try:
        client = ApiClient(silent.url, TOKEN, timeout=(1.0, 0.2), session=_fresh_session())
        with pytest.raises(UnreachableError, match=r"did not answer within 0.2 s"):
            client.get_json("/api/v1/organizations")
        assert len(silent.conns) == 3  # the first try and 2 read retries
    finally:
        silent.close()


def test_timeout_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSIQ_HTTP_TIMEOUT", "0.5")
    assert ApiClient(URL).timeout == (0.5, 0.5)
    monkeypatch.setenv("CHAOSIQ_HTTP_TIMEOUT", "60")
    assert ApiClient(URL).timeout == (DEFAULT_TIMEOUT[0], 60.0)
    monkeypatch.setenv("CHAOSIQ_HTTP_TIMEOUT", "soon")
    assert ApiClient(URL).timeout == DEFAULT_TIMEOUT


def test_a_background_client_reads_the_proxy_variables_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """without_retries(): the environment is resolved for its host at creation, as requests would."""
    proxy = FakeServer()
    try:
        for name in ("NO_PROXY", "no_proxy", "http_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        plain = ApiClient("http://chaosiq.test:8080", proxy.token, allow_insecure_http=True)
        client = plain.without_retries()
        monkeypatch.delenv("HTTP_PROXY")  # read once: a later change does not matter
        client.request("GET", "/api/v1/organizations", ok=(200, 404))  # the fake proxy knows no such path
        method, target, _headers = proxy.requests[-1]
        assert (method, target) == ("GET", "http://chaosiq.test:8080/api/v1/organizations")  # via the proxy
        assert client.session.trust_env is False
    finally:
        proxy.close()


def test_no_proxy_and_the_ca_bundle_variable_are_honoured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("http_proxy", "https_proxy", "ALL_PROXY", "all_proxy", "no_proxy", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "chaosiq.test")
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    client = ApiClient("https://chaosiq.test", "tok").without_retries()
    assert "https" not in client.session.proxies  # NO_PROXY names the host
    assert client.verify_tls == str(bundle)
    insecure = ApiClient("https://chaosiq.test", "tok", verify_tls=False).without_retries()
    assert insecure.verify_tls is False  # --insecure stays what it says
    other = ApiClient("https://elsewhere.test", "tok").without_retries()
    assert other.session.proxies.get("https") == "http://127.0.0.1:9"


def _signed_in(url: str, verify_tls: bool) -> dict:
    from chaosiq_core import settings as s

    settings: dict = {}
    s.set_server(settings, url, verify_tls=verify_tls)
    s.set_auth(settings, url, TOKEN)
    s.set_default_org(settings, {"id": "o1", "name": "org"}, {"id": "t1", "name": "team"})
    return settings


def test_the_settings_client_has_their_token_team_and_tls_choice() -> None:
    from chaosiq_core.manager import make_hooks

    settings = _signed_in("http://chaosiq.example.com", verify_tls=False)  # `chaos signin --insecure`
    client = ApiClient.for_settings(settings, make_hooks(settings, load_entrypoints=False))
    assert client is not None and client.signed_in
    assert (client.url, client.verify_tls, client.scope and client.scope.path) == (
        "http://chaosiq.example.com", False, "/organizations/o1/teams/t1"
    )  # fmt: skip
    assert ApiClient.for_settings({}, make_hooks({}, load_entrypoints=False)) is None


def test_the_insecure_choice_of_the_settings_server_is_not_lent_to_another_host() -> None:
    """A control naming another server keeps TLS verification on there, and sends it no token."""
    from chaosiq_core.manager import make_hooks

    settings = _signed_in("https://chaosiq.example.com", verify_tls=False)
    hooks = make_hooks(settings, load_entrypoints=False)
    other = ApiClient.for_settings(settings, hooks, url="https://other.example.com")
    assert other is not None and other.verify_tls is True and not other.signed_in
    with pytest.raises(InsecureURLError):  # and a token may not go there over plain HTTP
        s_copy = {**settings, "auths": {"other.example.com": {"type": "bearer", "value": TOKEN}}}
        ApiClient.for_settings(s_copy, hooks, url="http://other.example.com")
