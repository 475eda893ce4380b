"""The console in a real browser (Debian's chromium driven by Playwright) against a
real chaosiq-server, with executions made by the real `chaos run` / `chaos verify`."""

from __future__ import annotations

import colorsys
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaosiq_core.testing import Team, executable, run_chaos, wait_until

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts"
URL_RE = re.compile(r"Execution available at (\S+)")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent (apt-get install chromium)"
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def _page(browser: Any, width: int, height: int) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(15_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    # 4xx pages (a refused token is a 401) are logged as "Failed to load resource": expected.
    pg.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    yield pg
    context.close()
    assert not errors, f"errors in the browser console: {errors}"


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    yield from _page(browser, 1180, 900)


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A page 420 px wide, a phone's."""
    yield from _page(browser, 420, 860)


def fits(page: Any) -> None:
    """The page does not overflow sideways (nothing to scroll horizontally)."""
    scroll, inner = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner, f"{page.url}: {scroll} px wide in a {inner} px window"


def rgb(page: Any, selector: str, prop: str = "background-color") -> tuple[int, ...]:
    text = page.locator(selector).first.evaluate(f"e => getComputedStyle(e).getPropertyValue('{prop}')")
    return tuple(int(n) for n in re.findall(r"\d+", text)[:3])


def greenish(colour: tuple[int, ...]) -> bool:
    """A green hue (80 to 170 degrees) that is not a grey."""
    hue, _light, saturation = colorsys.rgb_to_hls(*(c / 255 for c in colour))
    return 80 <= hue * 360 <= 170 and saturation > 0.15


GREY_BAR = "#8a8f98"


def shot(page: Any, name: str, selector: str | None = None) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    if selector:
        page.locator(selector).screenshot(path=str(path))
    else:
        page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Any, base: str, token: str) -> None:
    page.goto(base + "/signin")
    page.fill("#token", token)
    page.click("button[type=submit]")


def start_chaos(settings: Path, cwd: Path, *args: str) -> tuple[subprocess.Popen[bytes], Any]:
    """The real `chaos` in the background (output in ``cwd/chaos.out``); the caller waits or kills it."""
    log = (cwd / "chaos.out").open("w")
    proc = subprocess.Popen(
        [executable("chaos"), "--no-version-check", "--settings", str(settings), *args],
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ},
    )
    return proc, log


def probe(name: str) -> dict[str, Any]:
    return {
        "type": "probe",
        "name": name,
        "tolerance": True,
        "provider": {"type": "python", "module": "os.path", "func": "exists", "arguments": {"path": "/"}},
    }


def sleep(name: str, seconds: float) -> dict[str, Any]:
    return {
        "type": "action",
        "name": name,
        "provider": {"type": "process", "path": "sleep", "arguments": str(seconds)},
    }


def write_experiment(tmp: Path, title: str, method: list[dict[str, Any]], **extra: Any) -> Path:
    doc = {
        "version": "1.0.0",
        "title": title,
        "description": "console browser test",
        "steady-state-hypothesis": {"title": "the root exists", "probes": [probe("root-exists")]},
        "method": method,
        "rollbacks": [sleep("settle", 0.1)],
        **extra,
    }
    path = tmp / "experiment.json"
    path.write_text(json.dumps(doc))
    return path


def test_sign_in_open_the_printed_execution_see_the_timeline_and_sign_out(
    page: Any, signed_in: Path, chaosiq_team: Team, tmp_path: Path
) -> None:
    exp = write_experiment(
        tmp_path,
        "Checkout survives a CPU spike",
        [
            sleep("spike-cpu", 0.6),
            {
                "type": "action",
                "name": "break-it",
                "provider": {
                    "type": "python",
                    "module": "os",
                    "func": "stat",
                    "arguments": {"path": "/no/such/file"},
                },
            },
        ],
    )
    result = run_chaos("run", str(exp), settings=signed_in, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    printed = URL_RE.search(result.stdout + result.stderr)
    assert printed, "chaos run printed no execution URL"
    url = printed.group(1)
    base = chaosiq_team.server.url
    assert url.startswith(base + "/organizations/")
    wait_until(
        lambda: (chaosiq_team.executions() or [{}])[0].get("status") == "completed",
        timeout=20,
        what="the final journal on the server",
    )

    # a wrong token first: refused with a clear message, the command to run shown as code
    sign_in(page, base, "ciq_this-is-not-a-token")
    error = page.inner_text("#signin-error")
    assert "This token is not valid" in error and "`" not in error
    assert page.inner_text("#signin-error code") == "chaosiq-server token create"

    # the printed URL: sign in, then land on it
    page.goto(url)
    assert "/signin" in page.url
    page.fill("#token", chaosiq_team.token)
    page.click("button[type=submit]")
    page.wait_for_url(url)
    assert page.inner_text("h1") == "Checkout survives a CPU spike"
    # chaostoolkit-lib says "completed"; an action failed: the page says failed, in red
    assert page.inner_text("#status") == "failed"
    assert page.inner_text("#journal-status") == "journal status: completed"
    assert "action 'break-it' failed" in page.inner_text("#outcome-reasons")
    assert not greenish(rgb(page, "#status"))
    bars = page.locator("svg.timeline g.activity")
    names = [bars.nth(i).get_attribute("data-name") for i in range(bars.count())]
    assert names == ["root-exists", "spike-cpu", "break-it", "root-exists", "settle"]
    assert (
        page.locator('svg.timeline g.activity[data-name="break-it"]').get_attribute("data-outcome")
        == "failed"
    )
    assert (
        page.locator('svg.timeline g.activity[data-name="spike-cpu"]').get_attribute("data-outcome") == "ok"
    )
    width = float(page.locator('g.activity[data-name="spike-cpu"] rect').get_attribute("width"))
    assert width > float(page.locator('g.activity[data-name="break-it"] rect').get_attribute("width"))
    types = page.locator("tr.event").evaluate_all("rows => rows.map(r => r.dataset.type)")
    assert types[0] == "starting-experiment" and "activity-finished" in types
    assert page.locator("#steady-state").inner_text().count("met") >= 2
    page.click("text=Raw JSON")
    assert '"status": "completed"' in page.inner_text("details.raw pre")
    with page.expect_download() as download:
        page.click("text=Download journal.json")
    journal = json.loads(Path(download.value.path()).read_text())
    assert (
        journal["title"]
        if "title" in journal
        else journal["experiment"]["title"] == "Checkout survives a CPU spike"
    )
    assert chaosiq_team.token not in page.content()
    shot(page, "console-execution.png")

    # the executions list has it, then sign out
    page.click("text=Executions")
    assert "Checkout survives a CPU spike" in page.inner_text("#executions")
    shot(page, "console-executions.png")
    page.click("text=Sign out")
    page.wait_for_url(re.compile(r"/signin"))
    assert page.is_visible("#signed-out")
    page.goto(url)
    assert "/signin" in page.url


def test_stop_this_run_interrupts_a_running_chaos_run(
    page: Any, signed_in: Path, chaosiq_team: Team, tmp_path: Path
) -> None:
    exp = write_experiment(tmp_path, "A long sleep we stop from the console", [sleep("sleep-20", 20)])
    proc, log = start_chaos(signed_in, tmp_path, "run", str(exp))
    try:
        execution = wait_until(chaosiq_team.executions, timeout=30, what="the execution on the server")[0]
        xid, eid = execution["id"], execution["experiment_id"]

        def sleeping() -> bool:
            events = chaosiq_team.api("GET", f"/experiments/{eid}/executions/{xid}/events?limit=1000").json()
            return any(
                e["type"] == "starting-activity"
                and ((e["data"] or {}).get("context") or {}).get("name") == "sleep-20"
                for e in events["items"]
            )

        wait_until(sleeping, timeout=30, what="the sleep-20 action to start")
        sign_in(page, chaosiq_team.server.url, chaosiq_team.token)
        page.goto(chaosiq_team.server.url + f"/executions/{xid}")
        assert page.inner_text("#status") == "running"
        assert page.locator('g.activity[data-name="sleep-20"]').get_attribute("data-outcome") == "running"
        page.fill("#reason", "game day is over")
        page.click("#stop-button")
        # the run ends as interrupted; the page follows without a reload by the test
        assert proc.wait(timeout=20) == 1
        page.locator("#status").filter(has_text="interrupted").wait_for(timeout=20_000)
        policies = page.inner_text("#policies")
        assert "stopped-by-user" in policies and "game day is over" in policies
        assert chaosiq_team.token_id is None or "no, stop" in policies
        assert page.locator("svg.timeline g.marker-stop").count() >= 1
        assert page.locator("#stop-button").count() == 0
        page.wait_for_function("() => document.getElementById('live').dataset.running === 'false'")
        page.wait_for_load_state()  # the page reloads once the final journal is in
        # the action cut by the stop did not finish: grey, not a green "succeeded"
        cut = page.locator('g.activity[data-name="sleep-20"]')
        assert cut.get_attribute("data-outcome") == "interrupted"
        assert cut.locator("rect").get_attribute("fill") == GREY_BAR
        assert "did not finish" in cut.locator("title").text_content()
        assert "did not finish" in page.inner_text("#timeline-legend")
        stop = page.locator("#safeguard-stop tr.stop-row")
        assert stop.locator(".stop-name").inner_text() == "stopped-by-user"
        assert stop.locator(".stop-source").inner_text() == "server policy (set by admin)"
        assert stop.locator(".stop-reason").inner_text() == "game day is over"
        shot(page, "console-execution-stopped.png")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["status"] == "interrupted"


def test_verification_chart_of_a_real_chaos_verify(
    page: Any, signed_in: Path, chaosiq_team: Team, tmp_path: Path
) -> None:
    flag = tmp_path / "flag"
    flag.write_text("up")
    doc = {
        "version": "1.0.0",
        "title": "The flag file stays",
        "description": "verification in the console",
        "extensions": [
            {
                "name": "chaosiq",
                "verification": {
                    "id": "flag-stays",
                    "warm-up-duration": 1,
                    "frequency-of-measurement": 0.25,
                    "duration-of-conditions": 1.5,
                    "cool-down-duration": 1,
                },
            }
        ],
        "steady-state-hypothesis": {
            "title": "flag exists",
            "probes": [
                {
                    "type": "probe",
                    "name": "flag-exists",
                    "tolerance": True,
                    "provider": {
                        "type": "python",
                        "module": "os.path",
                        "func": "exists",
                        "arguments": {"path": str(flag)},
                    },
                }
            ],
        },
        "method": [
            {
                "type": "action",
                "name": "remove-flag-for-a-second",
                "provider": {
                    "type": "process",
                    "path": "sh",
                    "arguments": f"-c 'rm {flag}; sleep 1; touch {flag}'",
                },
            }
        ],
        "rollbacks": [],
    }
    source = tmp_path / "verification.json"
    source.write_text(json.dumps(doc))
    result = run_chaos("verify", str(source), settings=signed_in, cwd=tmp_path, timeout=90)
    assert result.returncode in (0, 3), result.stdout + result.stderr
    base = chaosiq_team.server.url
    team_path = f"/organizations/{chaosiq_team.org_id}/teams/{chaosiq_team.team_id}"
    runs = wait_until(
        lambda: [
            r
            for r in chaosiq_team.api("GET", "/verifications/flag-stays/runs").json().get("items", [])
            if r["state"] == "finished"
        ],
        timeout=20,
        what="the finished verification run",
    )
    sign_in(page, base, chaosiq_team.token)
    page.click("text=Verifications")
    page.click("text=flag-stays")
    page.click(f"text={runs[0]['id'][:8]}")
    # samples deviated while "chaos verify" sent the status "completed": deviated, amber
    assert page.inner_text("#status") == "deviated"
    assert not greenish(rgb(page, "#status"))
    chart = page.locator("svg.vchart")
    met = chart.locator("circle.sample-met").count()
    deviated = chart.locator("circle.sample-deviated").count()
    results = runs[0]["results"]
    assert met == results["successful_samples"] and met > 0
    assert deviated == results["deviated_samples"] and deviated > 0
    for phase in ("warm-up", "conditions", "cool-down"):
        assert chart.locator(f"rect.phase-{phase}").count() == 1, phase
    assert page.url.startswith(base + team_path + "/verifications/flag-stays/runs/")
    shot(page, "console-verification.png")


def test_a_running_verification_draws_its_samples_live(
    page: Any, signed_in: Path, chaosiq_team: Team, tmp_path: Path
) -> None:
    """While `chaos verify` runs, its run page gains samples without a reload, then shows the results."""
    doc = {
        "version": "1.0.0",
        "title": "Samples arrive live",
        "description": "verification followed in the console",
        "extensions": [
            {
                "name": "chaosiq",
                "verification": {
                    "id": "live-samples",
                    "warm-up-duration": 0.5,
                    "frequency-of-measurement": 0.25,
                    "duration-of-conditions": 5,
                    "cool-down-duration": 0.5,
                },
            }
        ],
        "steady-state-hypothesis": {"title": "the root exists", "probes": [probe("root-exists")]},
        "method": [sleep("hold", 0.1)],
        "rollbacks": [],
    }
    source = tmp_path / "verification.json"
    source.write_text(json.dumps(doc))
    proc, log = start_chaos(signed_in, tmp_path, "verify", str(source))
    try:
        (run,) = wait_until(
            lambda: chaosiq_team.api("GET", "/verifications/live-samples/runs").json().get("items"),
            timeout=30,
            what="the verification run on the server",
        )
        sign_in(page, chaosiq_team.server.url, chaosiq_team.token)
        team_path = f"/organizations/{chaosiq_team.org_id}/teams/{chaosiq_team.team_id}"
        page.goto(f"{chaosiq_team.server.url}{team_path}/verifications/live-samples/runs/{run['id']}")
        assert page.locator("#live").get_attribute("data-running") == "true"
        page.evaluate("window.__notReloaded = true")
        before = page.locator("svg.vchart circle.sample-met").count()
        wait_until(
            lambda: page.locator("svg.vchart circle.sample-met").count() >= before + 3,
            timeout=20,
            what="new samples drawn on the open page",
        )
        assert page.evaluate("window.__notReloaded === true")  # updated in place
        assert proc.wait(timeout=60) == 0
        page.locator("#results").wait_for(timeout=20_000)  # the results, after one reload
        assert page.locator("#live").get_attribute("data-running") == "false"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def _team_path(team: Team) -> str:
    return f"{team.server.url}/organizations/{team.org_id}/teams/{team.team_id}"


def _execution_url(team: Team, case: Any) -> str:
    return f"{_team_path(team)}/experiments/{case.ids['experiment_id']}/executions/{case.ids['execution_id']}"


def test_a_stop_by_a_local_safeguard_probe_names_it_and_greys_the_cut_activity(
    page: Any, real_outcomes: Any
) -> None:
    """A real `chaos run` whose safeguard probe said stop inside the `sleep-20` action."""
    team, runs = real_outcomes
    sign_in(page, team.server.url, team.token)
    page.goto(_execution_url(team, runs["interrupted"]))
    assert page.inner_text("#status") == "interrupted"
    stop = page.locator("#safeguard-stop tr.stop-row")
    assert stop.count() == 1 and page.is_visible("#safeguard-stop")
    assert stop.locator(".stop-name").inner_text() == "no-stop-file"
    assert stop.locator(".stop-source").inner_text() == "local safeguard probe"
    assert stop.locator(".stop-reason").inner_text() == "output True is out of tolerance"
    cut = page.locator('g.activity[data-name="sleep-20"]')
    assert cut.get_attribute("data-outcome") == "interrupted"
    assert cut.locator("rect").get_attribute("fill") == GREY_BAR
    assert rgb(page, 'g.activity[data-name="sleep-20"] rect', "fill") == (138, 143, 152)
    # its real end: cut after a second or so, before the rollback, not drawn for 20 s
    bar = cut.locator("rect").bounding_box()
    settle = page.locator('g.activity[data-name="settle"] rect').bounding_box()
    assert bar["x"] + bar["width"] <= settle["x"] + 1
    assert re.search(r"did not finish, cut after \d", cut.locator("title").text_content())
    assert "did not finish" in page.inner_text("#timeline-legend")
    assert (
        "safeguard stop: probe:no-stop-file"
        in page.locator("svg.timeline g.marker-stop").all_text_contents()[0]
    )
    row = page.locator('tr.event[data-type="safeguard-triggered"]')
    assert "probe:no-stop-file" in row.inner_text() and "out of tolerance" in row.inner_text()
    assert "No server policy on this execution." in page.inner_text("body")
    shot(page, "console-execution-safeguard.png")


def test_outcome_colours_green_is_only_for_passed(page: Any, real_outcomes: Any) -> None:
    team, runs = real_outcomes
    sign_in(page, team.server.url, team.token)
    page.goto(_team_path(team) + "/executions")
    colours = {}
    for key, case in runs.items():
        selector = f'tr[data-execution-id="{case.ids["execution_id"]}"] .badge.outcome'
        assert page.inner_text(selector) == case.outcome, key
        colours[key] = rgb(page, selector)
        assert greenish(colours[key]) == (case.outcome == "passed"), (key, colours[key])
    # one colour per outcome word
    by_word = {runs[k].outcome: c for k, c in colours.items()}
    assert len(set(by_word.values())) == len(by_word), by_word
    shot(page, "console-executions.png")


def test_on_a_phone_the_pages_fit_and_a_run_can_be_stopped(
    phone: Any, signed_in: Path, chaosiq_team: Team, tmp_path: Path
) -> None:
    base = chaosiq_team.server.url
    sign_in(phone, base, "ciq_not-a-token")
    assert "`" not in phone.inner_text("#signin-error")
    fits(phone)
    exp = write_experiment(tmp_path, "Stopped from a phone", [sleep("sleep-30", 30)])
    proc, log = start_chaos(signed_in, tmp_path, "run", str(exp))
    try:
        execution = wait_until(chaosiq_team.executions, timeout=30, what="the execution on the server")[0]
        xid = execution["id"]
        wait_until(
            lambda: any(
                e["type"] == "starting-activity"
                and ((e["data"] or {}).get("context") or {}).get("name") == "sleep-30"
                for e in chaosiq_team.events(xid)
            ),
            timeout=30,
            what="the sleep-30 action to start",
        )
        sign_in(phone, base, chaosiq_team.token)
        phone.wait_for_url(re.compile(r"/executions$"))
        assert phone.inner_text(f'tr[data-execution-id="{xid}"] .badge.outcome') == "running"
        fits(phone)
        phone.goto(f"{base}/executions/{xid}")
        assert phone.inner_text("#status") == "running"
        fits(phone)
        # the timeline keeps a readable size and scrolls inside its own box
        chart = phone.locator("#timeline svg").bounding_box()
        assert chart["width"] >= 700
        inner, outer = phone.evaluate(
            "() => { const w = document.getElementById('timeline'); return [w.scrollWidth, w.clientWidth]; }"
        )
        assert inner > outer and outer <= 420
        label = phone.locator('#timeline g.activity[data-name="sleep-30"] text').bounding_box()
        assert label["height"] >= 10  # 12 px text drawn at (nearly) its size, not shrunk to 5 px
        button = phone.locator("#stop-button")
        assert button.is_visible()
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 420 and box["height"] >= 40
        shot(phone, "console-phone-running.png")
        button.click()
        assert proc.wait(timeout=20) == 1
        phone.locator("#status").filter(has_text="interrupted").wait_for(timeout=20_000)
        phone.wait_for_function("() => document.getElementById('live').dataset.running === 'false'")
        phone.wait_for_load_state()
        fits(phone)
        assert (
            phone.locator('g.activity[data-name="sleep-30"]').get_attribute("data-outcome") == "interrupted"
        )
        assert phone.is_visible("#safeguard-stop")
        shot(phone, "console-phone-stopped.png")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def test_on_a_phone_the_lists_and_verification_pages_fit(phone: Any, real_outcomes: Any) -> None:
    team, runs = real_outcomes
    sign_in(phone, team.server.url, team.token)
    phone.wait_for_url(re.compile(r"/executions$"))
    assert phone.locator("#executions tbody tr").count() == len(runs)
    fits(phone)
    phone.goto(_execution_url(team, runs["interrupted"]))
    assert phone.locator("#timeline svg").bounding_box()["width"] >= 700
    fits(phone)
    case = runs["v-deviated"]
    verification = f"{_team_path(team)}/verifications/{case.ids['verification_id']}"
    phone.goto(verification)
    assert phone.inner_text(f'tr[data-run-id="{case.ids["run_id"]}"] .badge.outcome') == "deviated"
    fits(phone)
    shot(phone, "console-phone-verification.png")
    phone.goto(f"{verification}/runs/{case.ids['run_id']}")
    assert phone.inner_text("#status") == "deviated"
    assert phone.locator("#vchart svg").bounding_box()["width"] >= 700
    fits(phone)
    phone.goto(f"{_team_path(team)}/verifications")
    fits(phone)
