"""The console's history pages in-process, on SQLite and PostgreSQL: an experiment's page
(outcome strip, last 30 days, last deviation), the executions list's filters and
paging, a verification's deviated-samples chart; another team's answers 404."""

from __future__ import annotations

import html as htmllib
import re
from typing import Any

from history_helpers import Team, backdate


def _marks(page: str) -> list[tuple[str, str]]:
    """(outcome, href) of each mark of the outcome strip, left to right."""
    strip = page.split('id="strip"', 1)[1].split("</div>", 1)[0]
    return re.findall(r'<a class="mark outcome outcome-\w+" data-outcome="(\w+)" [^>]*href="([^"]+)"', strip)


def _rows(page: str) -> list[str]:
    return re.findall(r'<tr data-execution-id="([^"]+)"', page)


def _next(page: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next"', page)
    return htmllib.unescape(found.group(1)) if found else None


def test_experiment_page_strip_stats_and_last_deviation(console_db: Any) -> None:
    env = console_db
    a = Team(env, env.a)
    eid, exp = a.experiment("Checkout survives a CPU spike")
    kinds = ["passed", "deviated", "passed", "failed", "interrupted"]
    made = [a.execution(eid, exp, kind, duration=float(i + 1)) for i, kind in enumerate(kinds)]
    team = f"/organizations/{env.a.org_id}/teams/{env.a.team_id}"
    page = env.client.get(f"{team}/experiments/{eid}")
    assert page.status_code == 200
    text = page.text
    assert "Checkout survives a CPU spike" in text
    marks = _marks(text)
    assert [m[0] for m in marks] == kinds  # oldest on the left
    assert [m[1] for m in marks] == [f"{team}/experiments/{eid}/executions/{x}" for x in made]
    # 2 passed of 4 finished (the interrupted one counts as finished, not as passed)
    assert re.search(r'id="pass-rate">40 %', text), text.split('id="pass-rate"')[1][:200]
    assert 'id="median-duration">3.0 s' in text
    deviation = text.split('id="last-deviation"')[1]
    assert f'href="{team}/experiments/{eid}/executions/{made[1]}"' in deviation
    assert "steady state after the method not met" in deviation
    # linked from the list (each row) and from the execution page
    listing = env.client.get(f"{team}/executions").text
    assert listing.count(f'class="history-link small" href="{team}/experiments/{eid}"') == 5
    execution = env.client.get(f"{team}/experiments/{eid}/executions/{made[0]}").text
    assert f'id="experiment-history" href="{team}/experiments/{eid}"' in execution
    # and the page links to the list filtered on the experiment
    assert f'href="{team}/executions?experiment={eid}"' in text


def test_experiment_page_of_another_team_is_404(console_db: Any) -> None:
    env = console_db
    b = Team(env, env.b)
    theirs, exp = b.experiment("Theirs")
    b.execution(theirs, exp, "passed")
    mine = f"/organizations/{env.a.org_id}/teams/{env.a.team_id}"
    for url in (
        f"{mine}/experiments/{theirs}",
        f"/organizations/{env.b.org_id}/teams/{env.b.team_id}/experiments/{theirs}",
        f"{mine}/experiments/no-such-id",
    ):
        resp = env.client.get(url)
        assert resp.status_code == 404, url
        assert "Theirs" not in resp.text
    # filtering my list on their experiment shows nothing of theirs
    resp = env.client.get(f"{mine}/executions?experiment={theirs}")
    assert resp.status_code == 200 and _rows(resp.text) == [] and 'id="no-match"' in resp.text


def test_executions_list_filters_and_pages_keep_them(console_db: Any) -> None:
    env = console_db
    a = Team(env, env.a)
    checkout, exp1 = a.experiment("Checkout survives a CPU spike", ["payments"])
    search, exp2 = a.experiment("Search stays up")
    passed = [a.execution(checkout, exp1, "passed") for _ in range(27)]
    deviated = a.execution(checkout, exp1, "deviated")
    other = a.execution(search, exp2, "passed")
    team = f"/organizations/{env.a.org_id}/teams/{env.a.team_id}"

    only = env.client.get(f"{team}/executions?outcome=deviated").text
    assert _rows(only) == [deviated] and '<option value="deviated" selected>' in only
    assert _rows(env.client.get(f"{team}/executions?q=search").text) == [other]
    assert _rows(env.client.get(f"{team}/executions?experiment={search}").text) == [other]
    assert deviated in _rows(env.client.get(f"{team}/executions?tag=payments").text)
    assert other not in _rows(env.client.get(f"{team}/executions?tag=payments").text)
    backdate(env.url, other, 3)
    from datetime import date, timedelta

    day = (date.today() - timedelta(days=3)).isoformat()
    assert _rows(env.client.get(f"{team}/executions?since={day}&until={day}").text) == [other]

    # 27 passed of checkout, 25 a page: the next page keeps every filter
    first = env.client.get(f"{team}/executions?outcome=passed&tag=payments")
    assert 'id="total">27<' in first.text
    nxt = _next(first.text)
    assert nxt is not None and "outcome=passed" in nxt and "tag=payments" in nxt and "cursor=" in nxt
    second = env.client.get(nxt).text
    assert len(_rows(first.text)) == 25 and len(_rows(second)) == 2
    assert set(_rows(first.text)) | set(_rows(second)) == set(passed)
    assert _next(second) is None
    newest = re.search(r'<a href="([^"]+)" id="newest"', second)
    assert newest and "outcome=passed" in htmllib.unescape(newest.group(1))

    # a value that makes no sense: one clear line, not a traceback or a silent "all"
    bad = env.client.get(f"{team}/executions?outcome=green")
    assert bad.status_code == 400 and "outcome must be one of" in bad.text and _rows(bad.text) == []
    bad = env.client.get(f"{team}/executions?since=31/12/2024")
    assert bad.status_code == 400 and "since must be a date as YYYY-MM-DD" in htmllib.unescape(bad.text)


def test_verification_page_charts_deviated_samples_per_run(console_db: Any) -> None:
    env = console_db
    a = Team(env, env.a)
    rids = []
    for deviated in (0, 4, None):
        resp = a.c.post(
            f"{a.t.base}/verifications/holds/runs", json={"status": "started"}, headers=a.t.headers
        )
        rids.append(resp.json()["id"])
        if deviated is not None:
            results = {
                "successful_samples": 10 - deviated,
                "deviated_samples": deviated,
                "not_run_samples": 0,
                "total_number_of_samples": 10,
                "total_duration": 3.0,
            }
            body = {"status": "completed", "results": results}
            assert a.c.post(f"{a.t.base}/verifications/holds/runs/{rids[-1]}/finished", json=body,
                            headers=a.t.headers).status_code == 204  # fmt: skip
    team = f"/organizations/{env.a.org_id}/teams/{env.a.team_id}"
    page = env.client.get(f"{team}/verifications/holds").text
    bars = re.findall(
        r'<a href="([^"]+)" class="run-bar" data-trend-run="([^"]+)" data-deviated="(\d*)"', page
    )
    assert [(b[1], b[2]) for b in bars] == [(rids[0], "0"), (rids[1], "4"), (rids[2], "")]
    assert bars[1][0] == f"{team}/verifications/holds/runs/{rids[1]}"
    assert "4 of 10 samples deviated" in page and "no results (running)" in page
    assert (
        env.client.get(f"/organizations/{env.b.org_id}/teams/{env.b.team_id}/verifications/holds").status_code
        == 404
    )
