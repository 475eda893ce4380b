"""The policies pages and the pause/resume buttons in a real browser (Debian's chromium,
Playwright) against a real chaosiq-server on SQLite and on PostgreSQL, with a run made
by the real ``chaos run``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_browser import browser, fits, page, phone, pytestmark, shot, sign_in, start_chaos, write_experiment  # noqa: F401
from test_browser import sleep as sleep_action

from chaosiq_core.testing import Team, chaosiq_server_each_database, gate_activity, wait_until

chaosiq_server = chaosiq_server_each_database  # the real server, on SQLite then PostgreSQL


def _team_url(team: Team) -> str:
    return f"{team.server.url}/organizations/{team.org_id}/teams/{team.team_id}"


def _row(page: Any, name: str) -> Any:  # noqa: F811
    return page.locator(f'#policies tr.policy-row[data-name="{name}"]')


def test_create_edit_and_delete_policies_in_the_console(
    page: Any,  # noqa: F811
    phone: Any,  # noqa: F811
    chaosiq_team: Team,
) -> None:
    sign_in(page, chaosiq_team.server.url, chaosiq_team.token)
    page.goto(_team_url(chaosiq_team) + "/executions")
    page.click("#tab-policies")
    assert page.locator("#no-policies").count() == 1
    # a window with a time zone that does not exist: one clear line, the form kept
    page.click("#new-policy")
    page.fill("#p-name", "Friday freeze")
    page.select_option("#p-kind", "window")
    page.select_option("#p-start-day", "4")
    page.fill("#p-start-time", "16:00")
    page.select_option("#p-end-day", "0")
    page.fill("#p-end-time", "08:00")
    page.fill("#p-zone", "Europe/Pariss")
    page.fill("#p-reason", "no chaos over the weekend")
    page.click("#save-policy")
    assert "unknown time zone 'Europe/Pariss'" in page.inner_text("#form-error")
    assert page.input_value("#p-name") == "Friday freeze"
    page.fill("#p-zone", "Europe/Paris")
    page.click("#save-policy")
    page.wait_for_url(f"{_team_url(chaosiq_team)}/policies?saved=*")
    row = _row(page, "Friday freeze")
    assert row.locator(".policy-kind").inner_text() == "Time window"
    assert row.locator(".policy-description").inner_text() == (
        "no run while Fri 16:00 \N{EN DASH} Mon 08:00 Europe/Paris is open (every experiment)"
    )
    # a concurrency limit
    page.click("#new-policy")
    page.fill("#p-name", "one at a time")
    page.select_option("#p-kind", "concurrency")
    page.fill("#p-max-runs", "1")
    page.click("#save-policy")
    assert _row(page, "one at a time").locator(".policy-description").inner_text() == (
        "at most 1 run at a time (every experiment)"
    )
    # edit the window: later end, only experiments tagged prod
    _row(page, "Friday freeze").locator(".policy-name a").click()
    assert page.input_value("#p-zone") == "Europe/Paris"
    page.fill("#p-end-time", "09:30")
    page.fill("#p-tag", "prod")
    page.click("#save-policy")
    assert _row(page, "Friday freeze").locator(".policy-description").inner_text() == (
        "no run while Fri 16:00 \N{EN DASH} Mon 09:30 Europe/Paris is open (experiments tagged 'prod')"
    )
    api = chaosiq_team.api("GET", "/policies").json()["items"]
    window = next(p for p in api if p["name"] == "Friday freeze")
    assert (window["end_time"], window["tag"], window["time_zone"]) == ("09:30", "prod", "Europe/Paris")
    fits(page)
    shot(page, "console-policies.png")
    # delete the limit
    _row(page, "one at a time").locator("button.delete-policy").click()
    page.wait_for_url(f"{_team_url(chaosiq_team)}/policies?deleted=1")
    assert _row(page, "one at a time").count() == 0
    assert [p["name"] for p in chaosiq_team.api("GET", "/policies").json()["items"]] == ["Friday freeze"]
    # on a phone the list fits
    sign_in(phone, chaosiq_team.server.url, chaosiq_team.token)
    phone.goto(_team_url(chaosiq_team) + "/policies")
    assert _row(phone, "Friday freeze").count() == 1
    fits(phone)


def test_pause_and_resume_buttons_hold_a_real_run(
    page: Any,  # noqa: F811
    signed_in: Path,
    chaosiq_team: Team,
    tmp_path: Path,
) -> None:
    flag = tmp_path / "go"
    exp = write_experiment(
        tmp_path, "A run we pause", [gate_activity("first", flag), sleep_action("second", 0.1)]
    )
    proc, log = start_chaos(signed_in, tmp_path, "run", str(exp))
    try:
        chaos_log = tmp_path / "chaostoolkit.log"
        wait_until(lambda: chaos_log.exists() and "Action: first" in chaos_log.read_text(), timeout=30)
        xid = chaosiq_team.executions()[0]["id"]
        sign_in(page, chaosiq_team.server.url, chaosiq_team.token)
        page.goto(chaosiq_team.server.url + f"/executions/{xid}")
        page.click("#pause-button")
        assert page.inner_text("#pause-standing").startswith("Paused by admin")
        wait_until(
            lambda: "pauses the run" in chaos_log.read_text(), timeout=30, what="the run to see the pause"
        )
        flag.touch()  # the first action ends: the run holds before the second
        page.locator("#pause-standing").filter(has_text="held before its next activity").wait_for(
            timeout=20_000
        )
        page.locator("svg.timeline rect.phase-pause").wait_for(timeout=20_000)
        assert proc.poll() is None
        assert "Action: second" not in chaos_log.read_text()
        page.click("#resume-button")
        assert proc.wait(timeout=30) == 0
        page.locator("#status").filter(has_text="passed").wait_for(timeout=20_000)
        assert page.locator("#pause-button").count() == 0
        assert page.locator("svg.timeline rect.phase-pause").count() == 1
        events = page.inner_text("#events")
        assert "run-paused" in events and "run-resumed" in events
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
