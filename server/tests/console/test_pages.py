"""Console pages in-process: sign-in, sessions, CSRF, isolation, pages' content."""

from __future__ import annotations

from typing import Any

from chaosiq_server.console import session
from replay import create, replay_run, replay_verification

from conftest import csrf_of, sign_in, team_api


def test_root_redirects_a_browser_to_sign_in_and_keeps_the_api_probe(lite: Any) -> None:
    c = lite.client
    resp = c.get("/", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/signin"
    assert c.head("/").status_code == 401
    assert c.get("/", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert c.get("/", headers=lite.a.headers).json() == {"name": "chaosiq-server"}


def test_sign_in_sets_a_hardened_session_cookie_and_lands_on_the_team(lite: Any) -> None:
    resp = sign_in(lite.client, lite.a.token)
    assert resp.status_code == 303
    cookie = resp.headers["set-cookie"]
    assert "ciq_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert lite.a.token not in cookie
    home = lite.client.get("/")
    assert home.status_code == 200
    assert f"/organizations/{lite.a.org_id}/teams/{lite.a.team_id}/executions" in str(home.url)
    assert "team-alpha" in home.text
    assert home.headers["content-security-policy"].startswith("default-src 'self'")


def test_wrong_token_is_refused_with_a_clear_message(lite: Any) -> None:
    resp = sign_in(lite.client, "ciq_not-a-real-token")
    assert resp.status_code == 401
    assert "This token is not valid" in resp.text
    assert "ciq_not-a-real-token" not in resp.text
    assert "ciq_session" not in resp.headers.get("set-cookie", "")
    assert lite.client.get("/", follow_redirects=False).headers["location"] == "/signin"


def test_repeated_wrong_tokens_are_slowed_down(lite: Any) -> None:
    from chaosiq_server.store.signins import MAX_FAILURES

    for _ in range(MAX_FAILURES):
        assert sign_in(lite.client, "ciq_guess").status_code == 401
    resp = sign_in(lite.client, "ciq_guess")
    assert resp.status_code == 429 and "Too many failed sign-ins" in resp.text
    assert 0 < int(resp.headers["retry-after"]) <= 60
    # even the right token waits: the address is refused before the token is looked at
    assert sign_in(lite.client, lite.a.token).status_code == 429


def test_a_good_sign_in_clears_the_failures(lite: Any) -> None:
    from chaosiq_server.store.signins import MAX_FAILURES

    for _ in range(MAX_FAILURES - 1):
        assert sign_in(lite.client, "ciq_typo").status_code == 401
    assert sign_in(lite.client, lite.a.token).status_code == 303
    lite.client.cookies.clear()  # signed out again
    for _ in range(MAX_FAILURES - 1):
        assert sign_in(lite.client, "ciq_typo").status_code == 401


def test_the_failure_window_slides(lite: Any) -> None:
    from chaosiq_server.db import Database
    from chaosiq_server.store.signins import FailedSignins

    now = [100.0]
    limiter = FailedSignins(Database(lite.url, pool_size=1), limit=2, window=60, clock=lambda: now[0])
    limiter.failed("a")
    now[0] += 30
    limiter.failed("a")
    assert limiter.retry_after("a") == 30 and limiter.retry_after("b") == 0
    now[0] += 30  # the first failure left the window
    assert limiter.retry_after("a") == 0
    limiter.failed("a")
    assert limiter.retry_after("a") == 30


def test_sign_in_without_csrf_is_refused(lite: Any) -> None:
    lite.client.get("/signin")
    resp = lite.client.post("/signin", data={"token": lite.a.token}, follow_redirects=False)
    assert resp.status_code == 403
    assert "ciq_session" not in resp.headers.get("set-cookie", "")


def test_revoked_token_ends_the_session(console: Any) -> None:
    assert console.client.get("/", follow_redirects=False).status_code == 303
    page = console.client.get(f"/organizations/{console.a.org_id}/teams/{console.a.team_id}/executions")
    assert page.status_code == 200
    from chaosiq_server.db import Database
    from chaosiq_server.store import Store

    db = Database(console.url, pool_size=1)
    assert Store(db).tokens.revoke(console.a.token_id)
    db.dispose()
    resp = console.client.get(
        f"/organizations/{console.a.org_id}/teams/{console.a.team_id}/executions", follow_redirects=False
    )
    assert resp.status_code == 303 and resp.headers["location"].startswith("/signin?next=")


def test_a_tampered_cookie_is_not_a_session(lite: Any) -> None:
    resp = sign_in(lite.client, lite.a.token)
    value = resp.cookies[session.SESSION_COOKIE]
    lite.client.cookies.clear()
    forged = value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB")
    lite.client.cookies.set(session.SESSION_COOKIE, forged)
    assert lite.client.get("/", follow_redirects=False).headers["location"] == "/signin"


def test_executions_list_newest_first_with_status_and_paging(console_db: Any) -> None:
    console = console_db
    api = team_api(console.client, console.a)
    ids = [replay_run(api, title=f"Experiment number {i}")[1] for i in range(3)]
    _, running = replay_run(api, title="Still going", finish=False)
    page = console.client.get(f"/organizations/{console.a.org_id}/teams/{console.a.team_id}/executions")
    html = page.text
    positions = [html.index(f'data-execution-id="{x}"') for x in [running, *reversed(ids)]]
    assert positions == sorted(positions)
    assert "Still going" in html
    assert html.count('data-outcome="running"') == 1 and html.count('data-outcome="passed"') == 3
    assert "8.5 s" in html  # duration from the journal
    # paging: 25 a page
    for i in range(22):
        create(api, f"bulk {i}")
    first = console.client.get(f"/organizations/{console.a.org_id}/teams/{console.a.team_id}/executions").text
    assert 'rel="next"' in first
    nxt = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = console.client.get(nxt).text
    assert ids[0] in second and ids[0] not in first


def test_execution_page_shows_timeline_steady_state_events_and_journal(console: Any) -> None:
    api = team_api(console.client, console.a)
    eid, xid = replay_run(api)
    url = f"/organizations/{console.a.org_id}/teams/{console.a.team_id}/experiments/{eid}/executions/{xid}"
    page = console.client.get(url)
    assert page.status_code == 200
    html = page.text
    assert "Checkout survives a pod kill" in html
    assert "<svg" in html and 'class="timeline"' in html
    for name in ("stress-cpu", "kill-pod", "restore", "service-is-up"):
        assert f'data-name="{name}"' in html
    assert 'data-outcome="failed" data-name="kill-pod"' in html
    assert 'data-outcome="ok" data-name="stress-cpu"' in html
    assert "Steady state before" in html and "Steady state after" in html
    assert "Method" in html and "Rollbacks" in html
    assert html.count('class="event"') == 20
    assert "Download journal.json" in html
    assert "Stop this run" not in html  # finished
    download = console.client.get(url + "/journal.json")
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.json()["status"] == "completed"


def test_short_aliases_lead_to_the_execution_page(console: Any) -> None:
    api = team_api(console.client, console.a)
    eid, xid = replay_run(api)
    canonical = (
        f"/organizations/{console.a.org_id}/teams/{console.a.team_id}/experiments/{eid}/executions/{xid}"
    )
    for alias in (
        f"/executions/{xid}",
        f"/organizations/{console.a.org_id}/teams/{console.a.team_id}/executions/{xid}",
        "/v1" + canonical,
    ):
        resp = console.client.get(alias, follow_redirects=False)
        assert resp.status_code == 303 and resp.headers["location"] == canonical, alias


def test_another_teams_execution_is_404(console_db: Any) -> None:
    console = console_db
    api_b = team_api(console.client, console.b)
    eid, xid = replay_run(api_b, title="Team beta secret")
    b = console.b
    for url in (
        f"/organizations/{b.org_id}/teams/{b.team_id}/experiments/{eid}/executions/{xid}",
        f"/organizations/{console.a.org_id}/teams/{console.a.team_id}/experiments/{eid}/executions/{xid}",
        f"/executions/{xid}",
        f"/organizations/{b.org_id}/teams/{b.team_id}/executions",
        f"/organizations/{b.org_id}/teams/{b.team_id}/experiments/{eid}/executions/{xid}/journal.json",
        f"/organizations/{b.org_id}/teams/{b.team_id}/experiments/{eid}/executions/{xid}/live.json",
    ):
        resp = console.client.get(url)
        assert resp.status_code == 404, url
        assert "Team beta secret" not in resp.text


def test_stop_requires_csrf_and_adds_the_same_policy_as_the_api(console: Any) -> None:
    api = team_api(console.client, console.a)
    eid, xid = replay_run(api, finish=False)
    url = f"/organizations/{console.a.org_id}/teams/{console.a.team_id}/experiments/{eid}/executions/{xid}"
    page = console.client.get(url).text
    assert "Stop this run" in page
    refused = console.client.post(url + "/stop", data={"reason": "no csrf"})
    assert refused.status_code == 403
    wrong = console.client.post(url + "/stop", data={"reason": "bad", "csrf_token": "x" * 43})
    assert wrong.status_code == 403
    assert api("GET", f"/experiments/{eid}/executions/{xid}/policies").json()["allowed"] is True
    done = console.client.post(url + "/stop", data={"reason": "enough", "csrf_token": csrf_of(page)})
    assert done.status_code == 200 and "A stop was requested" in done.text
    verdict = api("GET", f"/experiments/{eid}/executions/{xid}/policies").json()
    assert verdict["allowed"] is False
    (policy,) = verdict["policies"]
    assert policy["name"] == "stopped-by-user" and policy["reason"] == "enough"
    assert policy["created_by"] == "token-alpha"
    assert "token-alpha" in done.text and "stop requested: stopped-by-user" in done.text


def test_sign_out_needs_csrf_and_ends_the_session(console: Any) -> None:
    page = console.client.get("/", follow_redirects=True).text
    assert console.client.post("/signout", data={}).status_code == 403
    resp = console.client.post("/signout", data={"csrf_token": csrf_of(page)}, follow_redirects=False)
    assert resp.status_code == 303
    assert console.client.get("/", follow_redirects=False).headers["location"] == "/signin"


def test_no_token_in_any_page_after_sign_in(console: Any) -> None:
    api = team_api(console.client, console.a)
    eid, xid = replay_run(api, finish=False)
    vid, rid = replay_verification(api)
    a = console.a
    base = f"/organizations/{a.org_id}/teams/{a.team_id}"
    urls = [
        "/",
        f"{base}/executions",
        f"{base}/experiments/{eid}/executions/{xid}",
        f"{base}/experiments/{eid}/executions/{xid}/live.json",
        f"{base}/verifications",
        f"{base}/verifications/{vid}",
        f"{base}/verifications/{vid}/runs/{rid}",
    ]
    for url in urls:
        resp = console.client.get(url)
        assert resp.status_code == 200, url
        assert a.token not in resp.text, url
        assert a.token[4:20] not in resp.text, url


def test_live_json_gives_the_changing_fragment(console: Any) -> None:
    api = team_api(console.client, console.a)
    eid, xid = replay_run(api, finish=False)
    url = f"/organizations/{console.a.org_id}/teams/{console.a.team_id}/experiments/{eid}/executions/{xid}"
    body = console.client.get(url + "/live.json").json()
    assert body["running"] is True and body["status"] == "running"
    assert "<svg" in body["html"] and "Stop this run" in body["html"]
    console.client.cookies.clear()
    assert console.client.get(url + "/live.json").status_code == 401


def test_verification_pages_show_runs_results_and_the_chart(console: Any) -> None:
    api = team_api(console.client, console.a)
    vid, rid = replay_verification(api)
    base = f"/organizations/{console.a.org_id}/teams/{console.a.team_id}/verifications"
    assert vid in console.client.get(base).text
    runs = console.client.get(f"{base}/{vid}").text
    assert rid[:8] in runs
    # 2 of its 11 samples were out of tolerance: deviated, though the status sent was "completed"
    assert 'class="badge outcome outcome-deviated" data-outcome="deviated"' in runs
    assert "2 of 11 samples of the steady state not met" in runs
    page = console.client.get(f"{base}/{vid}/runs/{rid}").text
    assert page.count('class="sample sample-met"') == 8
    assert page.count('class="sample sample-deviated"') == 2
    assert page.count('class="sample sample-not-run"') == 1
    for phase in ("warm-up", "conditions", "cool-down"):
        assert f'class="phase phase-{phase}"' in page
    assert "Checkout latency stays under 200 ms" in page


def test_a_running_verification_run_page_updates_live(console: Any) -> None:
    api = team_api(console.client, console.a)
    vid, rid = replay_verification(api, "still-running", finish=False)
    url = f"/organizations/{console.a.org_id}/teams/{console.a.team_id}/verifications/{vid}/runs/{rid}"
    page = console.client.get(url).text
    assert f'data-live-url="{url}/live.json"' in page and 'data-running="true"' in page
    body = console.client.get(url + "/live.json").json()
    assert body["running"] is True and body["state"] == "running"
    assert body["html"].count('class="sample sample-met"') == 8 and "No results yet" in body["html"]
    results = {"successful_samples": 8, "deviated_samples": 2, "not_run_samples": 1,
               "total_number_of_samples": 11, "total_duration": 14.5}  # fmt: skip
    r = api(
        "POST", f"/verifications/{vid}/runs/{rid}/finished", json={"status": "completed", "results": results}
    )
    assert r.status_code == 204
    body = console.client.get(url + "/live.json").json()
    assert body["running"] is False and "Total samples" in body["html"]
    console.client.cookies.clear()
    assert console.client.get(url + "/live.json").status_code == 401


def test_team_switcher_for_a_token_of_two_teams(lite: Any) -> None:
    from chaosiq_server.db import Database
    from chaosiq_server.store import Store

    db = Database(lite.url, pool_size=1)
    secret, _ = Store(db).tokens.create("both", [lite.a.team_id, lite.b.team_id])
    db.dispose()
    sign_in(lite.client, secret)
    page = lite.client.get("/").text
    assert 'action="/switch-team"' in page and "team-alpha" in page and "team-beta" in page
    resp = lite.client.get(f"/switch-team?team={lite.b.org_id}:{lite.b.team_id}", follow_redirects=False)
    assert resp.headers["location"] == f"/organizations/{lite.b.org_id}/teams/{lite.b.team_id}/executions"
    assert lite.client.get(f"/switch-team?team={lite.b.org_id}:nope").status_code == 404


def test_signed_out_pages_send_to_sign_in_and_come_back(lite: Any) -> None:
    a = lite.a
    target = f"/organizations/{a.org_id}/teams/{a.team_id}/executions"
    resp = lite.client.get(target, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"].startswith("/signin?next=")
    form = lite.client.get(resp.headers["location"]).text
    assert f'name="next" value="{target}"' in form
    back = lite.client.post(
        "/signin",
        data={"token": a.token, "csrf_token": csrf_of(form), "next": target},
        follow_redirects=False,
    )
    assert back.headers["location"] == target
    lite.client.cookies.clear()
    stop_url = f"/organizations/{a.org_id}/teams/{a.team_id}/experiments/e/executions/x/stop"
    stop = lite.client.post(stop_url, data={}, follow_redirects=False)
    assert stop.status_code == 303 and stop.headers["location"] == "/signin"


def test_next_never_leaves_the_site(lite: Any) -> None:
    form = lite.client.get("/signin?next=//evil.example/x").text
    resp = lite.client.post(
        "/signin",
        data={"token": lite.a.token, "csrf_token": csrf_of(form), "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert resp.headers["location"] == "/"
