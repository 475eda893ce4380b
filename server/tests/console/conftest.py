"""Fixtures for the console tests: an in-process app with two teams (see
../conftest.py ``lite``) and helpers to call its API and sign in."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for replay


def team_api(client: Any, tenant: Any) -> Callable[..., Any]:
    """``api(method, path, **kw)`` on the tenant's team base, with its bearer token."""

    def api(method: str, path: str, **kwargs: Any) -> Any:
        headers = {**tenant.headers, **kwargs.pop("headers", {})}
        return client.request(method, tenant.base + path, headers=headers, **kwargs)

    return api


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def sign_in(client: Any, token: str) -> Any:
    page = client.get("/signin")
    assert page.status_code == 200
    return client.post(
        "/signin",
        data={"token": token, "csrf_token": csrf_of(page.text), "next": ""},
        follow_redirects=False,
    )


ORIGIN = "http://testserver"  # the TestClient's base URL: a browser sends its page's origin


@pytest.fixture
def lite(lite: Any) -> Any:
    """The ``lite`` env whose client sends ``Origin`` as a browser does with every form."""
    lite.client.headers["Origin"] = ORIGIN
    return lite


@pytest.fixture
def env(env: Any) -> Any:
    """The ``env`` env whose client sends ``Origin`` as a browser does with every form."""
    env.client.headers["Origin"] = ORIGIN
    return env


@pytest.fixture
def console(lite: Any) -> Any:
    """The ``lite`` env, signed in to the console as tenant ``a``."""
    resp = sign_in(lite.client, lite.a.token)
    assert resp.status_code == 303, resp.text
    return lite


@pytest.fixture
def console_db(env: Any) -> Any:
    """Like ``console`` but on every storage backend (SQLite, and PostgreSQL when configured)."""
    resp = sign_in(env.client, env.a.token)
    assert resp.status_code == 303, resp.text
    return env


@pytest.fixture(scope="session")
def real_outcomes(chaosiq_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One real ``chaos run`` / ``chaos verify`` per outcome, published to the session's
    chaosiq-server on one team (run once, at once): ``(team, {case key: Case})``."""
    from real_runs import cases, run_all

    team = chaosiq_server.new_team()
    return team, run_all(team, tmp_path_factory.mktemp("outcomes"), cases())


class ConsoleSession:
    """A signed-in console session on a real server, over HTTP (``requests``)."""

    def __init__(self, team: Any) -> None:
        import requests

        self.team = team
        self.http = requests.Session()
        self.http.headers["Origin"] = team.server.url  # as a browser sends it with a form
        form = self.http.get(team.server.url + "/signin", timeout=10)
        resp = self.http.post(
            team.server.url + "/signin",
            data={"token": team.token, "csrf_token": csrf_of(form.text), "next": ""},
            timeout=10,
            allow_redirects=False,
        )
        assert resp.status_code == 303, resp.text
        self.base = f"{team.server.url}/organizations/{team.org_id}/teams/{team.team_id}"

    def get(self, path: str) -> Any:
        resp = self.http.get(self.base + path, timeout=10)
        assert resp.status_code == 200, (path, resp.status_code)
        return resp
