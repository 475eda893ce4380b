"""The history pages in a real browser (Debian's chromium, Playwright) against a real
chaosiq-server on SQLite and on PostgreSQL, with executions made by the real ``chaos
run``: an experiment's page (outcome strip, stats, last deviation) and the filtered
executions list."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from test_browser import browser, fits, greenish, page, phone, pytestmark, rgb, shot, sign_in  # noqa: F401

from chaosiq_core.testing import Team, chaosiq_server_each_database, run_chaos, wait_until

chaosiq_server = chaosiq_server_each_database  # the real server, on SQLite then PostgreSQL


def _experiment(folder: Path) -> Path:
    """One experiment, run three times: it deviates only while the file ``trigger`` exists."""
    ok, trigger = folder / "ok", folder / "trigger"
    doc = {
        "version": "1.0.0",
        "title": "The ok file survives the trigger",
        "description": "history in the console",
        "tags": ["history-test"],
        "steady-state-hypothesis": {
            "title": "the ok file exists",
            "probes": [
                {
                    "type": "probe",
                    "name": "ok-exists",
                    "tolerance": True,
                    "provider": {
                        "type": "python",
                        "module": "os.path",
                        "func": "exists",
                        "arguments": {"path": str(ok)},
                    },
                }
            ],
        },
        "method": [
            {
                "type": "action",
                "name": "maybe-remove-ok",
                "provider": {
                    "type": "process",
                    "path": "sh",
                    "arguments": ["-c", f"if [ -e {trigger} ]; then rm -f {ok}; fi"],
                },
            }
        ],
    }
    path = folder / "experiment.json"
    path.write_text(json.dumps(doc))
    return path


def test_experiment_page_and_filtered_list_of_real_runs(
    page: Any,  # noqa: F811
    phone: Any,  # noqa: F811
    signed_in: Path,
    chaosiq_team: Team,
    tmp_path: Path,
) -> None:
    exp = _experiment(tmp_path)
    outcomes = []
    for deviate in (False, True, False):
        (tmp_path / "ok").write_text("ok")
        trigger = tmp_path / "trigger"
        if deviate:
            trigger.write_text("go")
        elif trigger.exists():
            trigger.unlink()
        result = run_chaos("run", str(exp), settings=signed_in, cwd=tmp_path)
        assert result.returncode in (0, 1), result.stdout + result.stderr
        outcomes.append("deviated" if deviate else "passed")
        count = len(outcomes)

        def published(n: int = count) -> bool:
            found = chaosiq_team.executions()
            return len(found) == n and all(x["status"] != "running" for x in found)

        wait_until(published, timeout=30, what="the final journal on the server")
    executions = list(reversed(chaosiq_team.executions()))  # oldest first
    assert [x["outcome"] for x in executions] == outcomes
    (eid,) = {x["experiment_id"] for x in executions}
    base = chaosiq_team.server.url
    team = f"{base}/organizations/{chaosiq_team.org_id}/teams/{chaosiq_team.team_id}"

    # from the execution page to its experiment's history
    sign_in(page, base, chaosiq_team.token)
    page.goto(f"{team}/experiments/{eid}/executions/{executions[0]['id']}")
    page.click("#experiment-history")
    page.wait_for_url(f"{team}/experiments/{eid}")
    assert page.inner_text("#experiment-title") == "The ok file survives the trigger"
    marks = page.locator("#strip a.mark")
    assert marks.count() == 3
    assert [marks.nth(i).get_attribute("data-outcome") for i in range(3)] == outcomes
    # the same colours as everywhere: green only for passed
    assert greenish(rgb(page, '#strip a.mark[data-outcome="passed"]'))
    assert not greenish(rgb(page, '#strip a.mark[data-outcome="deviated"]'))
    assert rgb(page, '#strip a.mark[data-outcome="deviated"]') == rgb(page, "#stats .badge.outcome-deviated")
    assert page.inner_text("#pass-rate").startswith("67 %")
    assert page.inner_text("#median-duration") not in ("", "—")
    shot(page, "console-experiment.png")
    # the last deviation, and each mark, open their execution
    page.click("#last-deviation-link")
    page.wait_for_url(re.compile(f"/executions/{executions[1]['id']}$"))
    assert page.inner_text("#status") == "deviated"
    page.go_back()
    marks.nth(2).click()
    page.wait_for_url(re.compile(f"/executions/{executions[2]['id']}$"))
    assert page.inner_text("#status") == "passed"

    # the executions list, filtered with its form; the "history" link of a row
    page.goto(f"{team}/executions")
    page.select_option("#f-outcome", "deviated")
    page.fill("#f-tag", "history-test")
    page.click("#f-apply")
    page.wait_for_url(re.compile(r"outcome=deviated"))
    rows = page.locator("#executions tbody tr")
    assert rows.count() == 1
    assert rows.first.get_attribute("data-execution-id") == executions[1]["id"]
    assert rows.first.locator(".badge").inner_text() == "deviated"
    assert page.inner_text("#total") == "1"
    assert page.input_value("#f-tag") == "history-test"  # the form keeps the filter
    shot(page, "console-executions-filtered.png")
    rows.first.locator("a.history-link").click()
    page.wait_for_url(f"{team}/experiments/{eid}")
    page.goto(f"{team}/executions")
    page.fill("#f-q", "no experiment has this title")
    page.click("#f-apply")
    assert page.is_visible("#no-match")
    assert page.locator("#executions").count() == 0

    # both pages fit a phone's width
    sign_in(phone, base, chaosiq_team.token)
    for url in (f"{team}/experiments/{eid}", f"{team}/executions?outcome=passed&tag=history-test"):
        phone.goto(url)
        fits(phone)
