"""The Tokens and Audit pages in a real browser (Debian's chromium, Playwright) against a
real chaosiq-server on SQLite and on PostgreSQL: an owner creates a token (its secret
shown once, with a ``chaos signin`` line that works as it is), revokes it (confirmed;
the API refuses it within the authentication cache's second); a member stops a real
``chaos run`` and the Audit page says who and when; a viewer sees no Stop button."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import requests
from test_browser import (  # noqa: F401
    ARTIFACTS,
    browser,
    page,
    pytestmark,
    shot,
    sign_in,
    sleep,
    start_chaos,
    write_experiment,
)

from chaosiq_core.testing import (
    Team,
    chaosiq_server_each_database,
    exists_activity,
    run_chaos,
    small_experiment,
    wait_until,
)

chaosiq_server = chaosiq_server_each_database  # the real server, on SQLite then PostgreSQL


def _status(team: Team, token: str) -> int:
    return requests.get(
        team.base + "/experiments", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).status_code


def test_an_owner_creates_a_token_uses_its_signin_line_and_revokes_it(
    page: Any,  # noqa: F811
    chaosiq_team: Team,
    tmp_path: Path,
) -> None:
    base = chaosiq_team.server.url
    sign_in(page, base, chaosiq_team.token)
    page.click("#nav-tokens")
    assert page.locator("#tokens tr[data-token-id]").count() == 1  # the owner's own (admin)
    page.fill("#token-name", "ci-runner")
    page.select_option("#token-role", "member")
    page.click("#create-token-button")
    secret = page.input_value("#new-secret")
    line = page.inner_text("#signin-line")
    assert secret.startswith("ciq_") and f"--token {secret}" in line
    row = page.locator("#tokens tr[data-token-id]", has_text="ci-runner")
    assert row.locator(".token-role").inner_text() == "member"
    assert row.locator(".token-used").inner_text() == "never"
    shot(page, "console-tokens.png")
    # the line, pasted as it is, signs the real chaos in; a run is then published with it
    settings = tmp_path / "settings.yaml"
    args = shlex.split(line)
    assert args[:2] == ["chaos", "signin"]
    signed = run_chaos(*args[1:], settings=settings)
    assert signed.returncode == 0, signed.stdout + signed.stderr
    exp = tmp_path / "experiment.json"
    exp.write_text(json.dumps(small_experiment("published with the new token", [exists_activity("a")])))
    ran = run_chaos("run", str(exp), settings=settings, cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    wait_until(lambda: chaosiq_team.executions(), timeout=20, what="the run on the server")
    # shown once: the page seen again has no secret; the token's last use is now known
    page.click("#nav-tokens")
    assert secret not in page.content() and page.locator("#new-secret").count() == 0
    row = page.locator("#tokens tr[data-token-id]", has_text="ci-runner")
    assert row.locator(".token-used").inner_text() != "never"
    # revoke, with a confirmation
    row.locator("a.revoke").click()
    assert "cannot be undone" in page.inner_text("#confirm-revoke")
    page.click("#confirm-revoke-button")
    assert "Token “ci-runner” revoked" in page.inner_text("#token-revoked")
    revoked = page.locator("#tokens tr.revoked", has_text="ci-runner")
    assert "revoked" in revoked.locator(".token-state").inner_text()
    wait_until(lambda: _status(chaosiq_team, secret) == 401, timeout=2.5, what="the revoked token refused")
    assert _status(chaosiq_team, chaosiq_team.token) == 200


def test_a_member_stops_a_run_and_the_audit_page_says_who_and_when(
    page: Any,  # noqa: F811
    signed_in: Path,
    chaosiq_team: Team,
    tmp_path: Path,
) -> None:
    server = chaosiq_team.server

    def token(role: str) -> str:
        out = server.cli("token", "create", "--team", chaosiq_team.team_id, "--name", f"{role}-alice",
                         "--role", role, "--json").stdout  # fmt: skip
        return str(json.loads(out)["token"])

    exp = write_experiment(tmp_path, "A long sleep a member stops", [sleep("sleep-20", 20)])
    proc, log = start_chaos(signed_in, tmp_path, "run", str(exp))
    try:
        xid = wait_until(chaosiq_team.executions, timeout=30, what="the execution on the server")[0]["id"]
        # a viewer: the run, no Stop button, the Audit link but no Tokens link
        sign_in(page, server.url, token("viewer"))
        page.goto(server.url + f"/executions/{xid}")
        assert page.inner_text("#status") == "running"
        assert page.locator("#stop-button").count() == 0
        assert "stopping a run needs member or owner" in page.inner_text("#stop-not-allowed")
        assert page.locator("#nav-audit").count() == 1 and page.locator("#nav-tokens").count() == 0
        page.click("button:has-text('Sign out')")
        # a member stops it
        sign_in(page, server.url, token("member"))
        page.goto(server.url + f"/executions/{xid}")
        page.fill("#reason", "the game day is over")
        page.click("#stop-button")
        assert proc.wait(timeout=20) == 1
        page.click("#nav-audit")
        first = page.locator("#audit tr.audit-row").first
        assert first.get_attribute("data-action") == "execution.stop"
        assert first.locator(".audit-who").inner_text().startswith("member-alice")
        assert first.locator(".audit-when").inner_text().endswith("UTC")
        assert "the game day is over" in first.locator(".audit-details").inner_text()
        first.locator(".audit-target a").click()  # the target links to the run
        page.locator("#status").filter(has_text="interrupted").wait_for(timeout=20_000)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
