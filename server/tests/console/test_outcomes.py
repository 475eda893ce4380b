"""The outcome of real `chaos run` / `chaos verify` runs, as the console and the API show it.

chaostoolkit-lib writes ``status: completed`` for a run whose steady state before
the method was not met, whose action failed, or which deviated; the console shows
what happened instead (passed / failed / deviated / interrupted / aborted), coloured
by its CSS class, and the API keeps ``status`` and adds ``outcome``.
"""

from __future__ import annotations

import html as html_lib
import re
from typing import Any

import pytest
from real_runs import cases

from conftest import ConsoleSession

ALL = [c.key for c in cases()]
VERIFY = [c.key for c in cases() if c.command == "verify"]
BADGE = re.compile(
    r'<span class="badge outcome (outcome-[a-z]+)"(?: id="status")? data-outcome="([a-z]+)"'
    r'(?: title="([^"]*)")?>([a-z]+)</span>'
)


def badge(fragment: str) -> tuple[str, str, str, str]:
    """(css class, data-outcome, tooltip, shown word) of the first outcome badge in ``fragment``."""
    found = BADGE.search(fragment)
    assert found, fragment[:2000]
    css, word, title, text = found.groups()
    return css, word, html_lib.unescape(title or ""), text


def row(page: str, attribute: str, value: str) -> str:
    start = page.index(f'{attribute}="{value}"')
    return page[start : page.index("</tr>", start)]


@pytest.mark.parametrize("key", ALL)
def test_the_executions_list_shows_the_outcome(real_outcomes: Any, key: str) -> None:
    team, runs = real_outcomes
    case = runs[key]
    page = ConsoleSession(team).get("/executions").text
    css, word, title, text = badge(row(page, "data-execution-id", case.ids["execution_id"]))
    assert (text, word, css) == (case.outcome, case.outcome, f"outcome-{case.outcome}")
    assert case.reason in title


@pytest.mark.parametrize("key", ALL)
def test_the_execution_page_shows_the_outcome_and_why(real_outcomes: Any, key: str) -> None:
    team, runs = real_outcomes
    case = runs[key]
    ids = case.ids
    page = (
        ConsoleSession(team).get(f"/experiments/{ids['experiment_id']}/executions/{ids['execution_id']}").text
    )
    css, _word, _title, text = badge(page[page.index('id="status"') - 200 :])
    assert (text, css) == (case.outcome, f"outcome-{case.outcome}")
    if case.outcome == "passed":
        assert 'id="outcome-reasons"' not in page
    else:
        reasons = page[
            page.index('id="outcome-reasons"') : page.index("</ul>", page.index('id="outcome-reasons"'))
        ]
        assert case.reason in html_lib.unescape(reasons)
    if case.status != case.outcome:
        assert f"journal status: {case.status}" in page


@pytest.mark.parametrize("key", ALL)
def test_the_api_keeps_the_status_and_adds_the_outcome(real_outcomes: Any, key: str) -> None:
    team, runs = real_outcomes
    case = runs[key]
    one = team.api("GET", f"/executions/{case.ids['execution_id']}").json()
    assert (one["status"], one["outcome"]) == (case.status, case.outcome)
    assert case.reason in "; ".join(one["outcome_reasons"])
    (listed,) = [x for x in team.executions() if x["id"] == case.ids["execution_id"]]
    assert (listed["status"], listed["outcome"]) == (case.status, case.outcome)


@pytest.mark.parametrize("key", VERIFY)
def test_the_verification_pages_show_the_run_outcome(real_outcomes: Any, key: str) -> None:
    team, runs = real_outcomes
    case = runs[key]
    vid, rid = case.ids["verification_id"], case.ids["run_id"]
    console = ConsoleSession(team)
    listed = console.get(f"/verifications/{vid}").text
    css, _word, title, text = badge(row(listed, "data-run-id", rid))
    assert (text, css) == (case.outcome, f"outcome-{case.outcome}")
    assert case.reason in title
    page = console.get(f"/verifications/{vid}/runs/{rid}").text
    css, _word, _title, text = badge(page[page.index('id="status"') - 200 :])
    assert (text, css) == (case.outcome, f"outcome-{case.outcome}")
    run = team.api("GET", f"/verifications/{vid}/runs/{rid}").json()
    assert run["outcome"] == case.outcome and case.reason in "; ".join(run["outcome_reasons"])
