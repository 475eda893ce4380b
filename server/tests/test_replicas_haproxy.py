"""What a user does works whichever replica answers: two real ``serve`` processes on one
PostgreSQL database behind HAProxy (round robin, health checks on ``/ready``), as
docs/server.md "Running several replicas" sets them up."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
from haproxy_helpers import REPLICA_HEADER, check_config, haproxy_config, require_haproxy
from prometheus_client.parser import text_string_to_metric_families
from replica_helpers import (
    ChaosRun,
    Replicas,
    chaos_env,
    copy_outbox,
    expected_types,
    process_sleep,
    publish_warnings,
    signed_in,
    sleep_action,
    write_experiment,
)
from server_helpers import CE_HEADERS, cloud_event
from sqlalchemy import create_engine, text

from chaosiq_core.testing import run_chaos, wait_until

MAX_FAILURES = 10  # the documented limit: 10 failed sign-ins a minute per address
AUTH_CACHE_S = 1.0  # docs/server.md: a revoked token is refused within 1 s (auth cache TTL)
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
DOCS = Path(__file__).resolve().parents[2] / "docs" / "server.md"


def _csrf(page: httpx.Response) -> str:
    found = CSRF_RE.search(page.text)
    assert found, page.text[:300]
    return found.group(1)


def _sign_in(browser: httpx.Client, token: str) -> httpx.Response:
    """The sign-in form and its post, as a browser on the proxy's URL sends them."""
    form = browser.get("/signin")
    return browser.post(
        "/signin",
        data={"token": token, "csrf_token": _csrf(form), "next": ""},
        headers={"Origin": str(browser.base_url).rstrip("/")},
    )


def _answered_by_both(call: Any, check: Any) -> None:
    """Call until each replica answered once; ``check`` every answer."""
    seen: set[str] = set()
    for _ in range(10):
        resp = call()
        check(resp)
        seen.add(resp.headers[REPLICA_HEADER])
        if seen == {"r1", "r2"}:
            return
    raise AssertionError(f"only {seen} answered")


def test_console_sessions_and_the_sign_in_limit_through_haproxy(replicas: Replicas) -> None:
    team = replicas.server.new_team()
    with httpx.Client(base_url=replicas.base, timeout=10) as browser:
        signed = _sign_in(browser, team.token)  # the form from one replica, the post to the other
        assert signed.status_code == 303, signed.text[:300]
        home = f"/organizations/{team.org_id}/teams/{team.team_id}/executions"

        def page_ok(resp: httpx.Response) -> None:
            assert resp.status_code == 200 and "Sign out" in resp.text, resp.text[:300]

        _answered_by_both(lambda: browser.get(home), page_ok)
        out = browser.post(
            "/signout", data={"csrf_token": _csrf(browser.get(home))}, headers={"Origin": replicas.base}
        )
        assert out.status_code == 303
        cookie = signed.cookies["ciq_session"]
    for i in (0, 1):  # signed out on one replica: refused by both
        page = httpx.get(replicas.direct(i) + "/", cookies={"ciq_session": cookie}, timeout=10)
        assert page.headers["location"] == "/signin"
    # failed sign-ins through the proxy add up over both replicas (the client's address forwarded)
    codes, answered = [], set()
    for n in range(MAX_FAILURES + 2):
        if n % 2:  # move round robin on by one: the posts go to each replica in turn
            httpx.get(replicas.base + "/health", timeout=10)
        with httpx.Client(base_url=replicas.base, timeout=10) as browser:
            resp = _sign_in(browser, "ciq_wrong")
            codes.append(resp.status_code)
            answered.add(resp.headers[REPLICA_HEADER])
    _forget_failed_sign_ins(replicas.url)  # the module's other tests sign in from this address
    assert codes == [401] * MAX_FAILURES + [429, 429]
    assert answered == {"r1", "r2"}


def _forget_failed_sign_ins(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM signin_failures"))
    engine.dispose()


def test_a_revoked_token_is_refused_by_every_replica_within_the_documented_delay(
    replicas: Replicas,
) -> None:
    team = replicas.server.new_team()
    path = f"/api/v1/organizations/{team.org_id}/teams/{team.team_id}/executions"
    auth = {"Authorization": f"Bearer {team.token}"}
    # both replicas have the token in their authentication cache
    _answered_by_both(
        lambda: httpx.get(replicas.base + path, headers=auth, timeout=10),
        lambda r: r.raise_for_status(),
    )
    replicas.server.cli("token", "revoke", str(team.token_id))
    revoked = time.monotonic()

    def refused_by_both() -> bool:
        return all(
            httpx.get(replicas.direct(i) + path, headers=auth, timeout=5).status_code == 401 for i in (0, 1)
        )

    wait_until(refused_by_both, timeout=AUTH_CACHE_S + 5, interval=0.02, what="the revocation on both")
    # the cache's delay, plus slack for a loaded machine's polling
    assert time.monotonic() - revoked <= AUTH_CACHE_S + 0.5


def test_the_execution_page_shows_live_what_the_other_replica_stored(replicas: Replicas) -> None:
    team = replicas.server.new_team()
    one, two = replicas.direct(0), replicas.direct(1)
    api = {"Authorization": f"Bearer {team.token}", "Accept": "application/json"}
    base = f"/api/v1/organizations/{team.org_id}/teams/{team.team_id}"
    exp = {"title": "live across replicas", "method": []}
    created = httpx.post(
        one + base + "/executions",
        json={"experiment": exp, "journal": {"status": "running"}},
        headers=api,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    eid, xid = created.json()["experiment_id"], created.json()["id"]
    with httpx.Client(base_url=one, timeout=10) as browser:  # the page is served by the first
        assert _sign_in(browser, team.token).status_code == 303
        page = f"/organizations/{team.org_id}/teams/{team.team_id}/experiments/{eid}/executions/{xid}"
        assert browser.get(page).status_code == 200

        def live() -> dict[str, Any]:
            return dict(browser.get(page + "/live.json").json())

        assert live()["events_count"] == 0 and live()["running"] is True
        events = f"{two}{base}/experiments/{eid}/executions/{xid}/events"  # posted to the second
        for n, kind in enumerate(("starting-experiment", "starting-method")):
            body = json.dumps(cloud_event(kind, {"title": "live across replicas"}, event_id=f"e{n}"))
            assert httpx.post(events, content=body, headers={**api, **CE_HEADERS}).status_code == 201
        shown = live()
        assert shown["events_count"] == 2 and "starting-method" in shown["html"]
        final = {"journal": {"status": "completed", "deviated": False, "experiment": exp, "run": []}}
        put = httpx.put(f"{two}{base}/experiments/{eid}/executions/{xid}", json=final, headers=api)
        assert put.status_code < 300, put.text
        assert live()["running"] is False and live()["status"] == "completed"


def _scrape(replicas: Replicas) -> dict[str, float]:
    """``chaosiq_events_ingested_total`` of each replica, scraped through the proxy."""
    found: dict[str, float] = {}
    for _ in range(10):
        resp = httpx.get(replicas.base + "/metrics", timeout=10)
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
        families = {f.name: f for f in text_string_to_metric_families(resp.text)}
        assert "chaosiq_http_requests" in families and "chaosiq_db_pool_connections_in_use" in families
        (sample,) = families["chaosiq_events_ingested"].samples[:1]
        found[resp.headers[REPLICA_HEADER]] = sample.value
        if len(found) == 2:
            return found
    raise AssertionError(f"only {sorted(found)} answered /metrics")


def test_metrics_of_both_replicas_through_haproxy(replicas: Replicas) -> None:
    team = replicas.server.new_team()
    before = _scrape(replicas)
    created = team.api(
        "POST", "/executions", json={"experiment": {"title": "metrics", "method": []}, "journal": {}}
    )
    xid = created.json()["id"]
    for n in range(10):  # round robin: each replica stores some
        body = json.dumps(cloud_event("activity-finished", event_id=f"m{n}"))
        r = team.api(
            "POST",
            f"/experiments/{created.json()['experiment_id']}/executions/{xid}/events",
            data=body,
            headers=CE_HEADERS,
        )
        assert r.status_code == 201, r.text
    after = _scrape(replicas)
    grew = {name: after[name] - before[name] for name in after}
    assert sum(grew.values()) == 10 and all(v > 0 for v in grew.values()), grew


def test_a_stop_set_through_haproxy_stops_a_real_chaos_run(replicas: Replicas, tmp_path: Path) -> None:
    team = replicas.server.new_team()
    env = chaos_env(tmp_path, "verification")  # safeguards loaded: they poll through the proxy
    settings = signed_in(team, env)
    exp = write_experiment(tmp_path / "run", [process_sleep("long-sleep", 30)], "stopped through haproxy")
    run = ChaosRun(settings, exp, env)
    try:
        xid = wait_until(lambda: [x["id"] for x in team.executions()], timeout=30, what="the execution")[0]
        stop_set = time.monotonic()
        assert team.stop(xid, reason="game day over").status_code == 201
        assert run.wait(30) == 1, run.output
        assert time.monotonic() - stop_set < 10
    finally:
        run.kill()
    journal = run.journal
    assert journal["status"] == "interrupted" and "game day over" in journal["interruption"]["reason"]
    wait_until(
        lambda: team.api("GET", f"/executions/{xid}").json()["status"] == "interrupted",
        timeout=20,
        what="the interrupted execution on the server",
    )


def test_a_verification_run_through_haproxy(replicas: Replicas, tmp_path: Path) -> None:
    team = replicas.server.new_team()
    env = chaos_env(tmp_path, "safeguards")
    settings = signed_in(team, env)
    for feature in ("publish", "verification"):
        assert run_chaos("enable", feature, settings=settings, env=env).returncode == 0
    doc = {
        "version": "1.0.0",
        "title": "root stays",
        "description": "verification through haproxy",
        "extensions": [
            {
                "name": "chaosiq",
                "verification": {
                    "id": "through-haproxy",
                    "warm-up-duration": 0.2,
                    "frequency-of-measurement": 0.2,
                    "duration-of-conditions": 1.0,
                    "cool-down-duration": 0.2,
                },
            }
        ],
        "steady-state-hypothesis": json.loads(write_experiment(tmp_path / "x", [], "x").read_text())[
            "steady-state-hypothesis"
        ],
        "method": [sleep_action("wait", 0.5)],
    }
    source = tmp_path / "verification.json"
    source.write_text(json.dumps(doc))
    journal_path = tmp_path / "journal.json"
    done = run_chaos(
        "verify", "--journal-path", str(journal_path), str(source), settings=settings, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert publish_warnings(done.stdout + done.stderr) == []
    journal = json.loads(journal_path.read_text())
    (ext,) = [e for e in journal["extensions"] if e.get("name") == "chaosiq"]
    (run,) = team.api("GET", "/verifications/through-haproxy/runs").json()["items"]
    assert run["id"] == ext["verification"]["run_id"] and run["state"] == "finished"
    assert run["status"] == "completed" and run["execution_id"] == ext["execution_id"]
    assert run["results"]["total_number_of_samples"] == len(journal["measurements"]) > 1
    categories = [
        e["category"]
        for e in team.api("GET", f"/verifications/through-haproxy/runs/{run['id']}/events?limit=500").json()[
            "items"
        ]
    ]
    assert categories.count("verification-sample") == len(journal["measurements"])
    assert categories[-1] == "verification-completed"


def test_a_kept_outbox_replayed_twice_through_haproxy_is_one_complete_execution(
    replicas: Replicas, tmp_path: Path
) -> None:
    team = replicas.server.new_team()
    env = chaos_env(tmp_path, "safeguards", "verification")
    settings = signed_in(team, env, flush_deadline=0.5)
    replicas.proxy.stop()  # the server cannot be reached: the run keeps everything
    exp = write_experiment(tmp_path / "run", [sleep_action(f"a{n}", 0) for n in range(5)], "replayed")
    run = ChaosRun(settings, exp, env)
    assert run.wait(60) == 0, run.output
    assert "send them with `chaos publish`" in run.output
    kept = copy_outbox(env, tmp_path / "kept")
    assert kept
    replicas.start_proxy()
    for attempt in range(2):  # the same outbox sent twice: the second replay changes nothing
        if attempt:
            shutil.copytree(tmp_path / "kept", Path(env["CHAOSIQ_DATA_DIR"]) / "outbox", dirs_exist_ok=True)
        done = run_chaos("publish", settings=settings, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        (execution,) = team.executions()
        stored = team.events(execution["id"])
        assert [e["type"] for e in stored] == expected_types(5)
        assert len({e["id"] for e in stored}) == len(stored)
        assert execution["status"] == "completed"


def test_the_haproxy_configuration_of_docs_server_md_is_the_tests_and_valid(tmp_path: Path) -> None:
    require_haproxy()
    text = DOCS.read_text()
    blocks = re.findall(r"```haproxy\n(.*?)```", text, re.S)
    replica_blocks = [b for b in blocks if "backend replicas" in b]
    assert len(replica_blocks) == 1, "docs/server.md shows one HAProxy configuration for replicas"
    doc = replica_blocks[0]
    assert doc == haproxy_config(":8080", ["10.0.0.11:8787", "10.0.0.12:8787"])
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(doc)
    checked = check_config(cfg)
    assert checked.returncode == 0, checked.stdout + checked.stderr
