"""A verification's trend chart (deviated samples per run) in a real browser (Debian's
chromium, Playwright) against a real chaosiq-server on SQLite and on PostgreSQL, with runs
made by the real ``chaos verify``: one bar per run, each saying what the server recorded
for its run, each opening its run."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from real_runs import chaosiq_extension, exists_probe, experiment_doc, shell, verification_extensions
from test_browser import browser, page, pytestmark, shot, sign_in  # noqa: F401

from chaosiq_core.testing import Team, chaosiq_server_each_database, run_chaos, wait_until

chaosiq_server = chaosiq_server_each_database  # the real server, on SQLite then PostgreSQL

VID = "trend-flag-stays"


def _verification(folder: Path) -> Path:
    """One verification, run twice: the flag file goes for a second only while ``trigger`` exists."""
    flag, trigger = folder / "flag", folder / "trigger"
    flag.write_text("up")
    doc = experiment_doc(
        "The flag file stays, trigger or not",
        [exists_probe("flag-exists", str(flag))],
        [shell("maybe-remove-flag", f"if [ -e {trigger} ]; then rm -f {flag}; sleep 1; touch {flag}; fi")],
        extensions=verification_extensions(VID),
    )
    path = folder / "verification.json"
    path.write_text(json.dumps(doc))
    return path


def _verify(source: Path, settings: Path, folder: Path, deviate: bool) -> dict[str, Any]:
    """One real ``chaos verify`` (with the trigger or without): its journal's verification block."""
    trigger = folder / "trigger"
    if deviate:
        trigger.write_text("go")
    else:
        trigger.unlink(missing_ok=True)
    journal_path = folder / f"journal-{'deviated' if deviate else 'clean'}.json"
    result = run_chaos(
        "verify", "--journal-path", str(journal_path), str(source), settings=settings, cwd=folder, timeout=90
    )
    assert result.returncode == (3 if deviate else 0), result.stdout + result.stderr  # deviated: 3
    block = chaosiq_extension(json.loads(journal_path.read_text())).get("verification") or {}
    assert block.get("run_id"), (block.get("not_published"), result.stdout + result.stderr)
    return block


def test_the_trend_chart_has_a_bar_per_real_run_with_its_deviated_samples(
    page: Any,  # noqa: F811
    signed_in: Path,
    chaosiq_team: Team,
    tmp_path: Path,
) -> None:
    source = _verification(tmp_path)
    blocks = [_verify(source, signed_in, tmp_path, deviate) for deviate in (True, False)]
    rids = [b["run_id"] for b in blocks]

    def finished(rid: str) -> dict[str, Any] | None:
        resp = chaosiq_team.api("GET", f"/verifications/{VID}/runs/{rid}")
        run = resp.json() if resp.status_code == 200 else {}
        return run if run.get("state") == "finished" and run.get("results") else None

    runs = [wait_until(lambda r=rid: finished(r), timeout=30, what=f"run {rid} finished") for rid in rids]
    # what the server recorded is what chaos verify counted; one run deviated, one did not
    results = [run["results"] for run in runs]
    for counted, block in zip(results, blocks, strict=True):
        assert {k: v for k, v in counted.items() if k.endswith("_samples")} == {
            k: v for k, v in block["results"].items() if k.endswith("_samples")
        }
    deviated, clean = results
    assert deviated["deviated_samples"] > 0 and clean["deviated_samples"] == 0
    assert clean["total_number_of_samples"] > 0
    trend = chaosiq_team.api("GET", f"/verifications/{VID}/trend").json()
    assert [(r["id"], r["deviated_samples"]) for r in trend["runs"]] == [
        (rid, r["deviated_samples"]) for rid, r in zip(rids, results, strict=True)
    ]

    base = chaosiq_team.server.url
    team = f"{base}/organizations/{chaosiq_team.org_id}/teams/{chaosiq_team.team_id}"
    sign_in(page, base, chaosiq_team.token)
    page.click("text=Verifications")
    page.click(f"text={VID}")
    page.wait_for_url(f"{team}/verifications/{VID}")
    chart = page.locator("#trend svg.trend")
    assert chart.is_visible()
    bars = chart.locator("a.run-bar")
    # one bar per run, oldest on the left
    assert bars.count() == 2
    assert [bars.nth(i).get_attribute("data-trend-run") for i in range(2)] == rids
    shot(page, "console-verification-trend.png")

    for rid, counts in zip(rids, results, strict=True):
        bar = chart.locator(f'a.run-bar[data-trend-run="{rid}"]')
        dev, total = counts["deviated_samples"], counts["total_number_of_samples"]
        assert bar.get_attribute("data-deviated") == str(dev), rid
        assert bar.get_attribute("data-total") == str(total), rid
        # the tooltip says it in words
        assert bar.locator("title").text_content().endswith(f": {dev} of {total} samples deviated"), rid
        # and the amber part of the bar is that share of the pale bar of all its samples
        whole = bar.locator("rect.total").bounding_box()
        assert whole is not None and whole["height"] > 0, rid
        amber = bar.locator("rect.deviated")
        if dev:
            part = amber.bounding_box()
            assert part is not None
            assert abs(part["height"] / whole["height"] - dev / total) < 0.05, (rid, part, whole)
            assert part["y"] + part["height"] == whole["y"] + whole["height"]  # both stand on the axis
        else:
            assert amber.count() == 0, rid
        # the runs table below says the same
        row = page.locator(f'tr[data-run-id="{rid}"]')
        assert f" / {dev} / " in row.inner_text(), rid
        assert row.locator(".badge.outcome").inner_text() == ("deviated" if dev else "passed"), rid

    # each bar opens its run
    for rid, counts in zip(rids, results, strict=True):
        chart.locator(f'a.run-bar[data-trend-run="{rid}"]').click()
        page.wait_for_url(re.compile(f"/verifications/{VID}/runs/{rid}$"))
        dev = counts["deviated_samples"]
        assert page.inner_text("#status") == ("deviated" if dev else "passed")
        assert page.locator("svg.vchart circle.sample-deviated").count() == dev
        page.go_back()
        page.wait_for_url(f"{team}/verifications/{VID}")
