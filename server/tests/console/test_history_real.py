"""History and trends of executions made by the real ``chaos run`` / ``chaos verify``
(one per outcome, published to a real chaosiq-server: ``real_outcomes``)."""

from __future__ import annotations

import re
from typing import Any

from conftest import ConsoleSession


def test_the_filters_and_the_history_agree_with_what_each_real_run_did(real_outcomes: Any) -> None:
    team, cases = real_outcomes
    runs = [c for c in cases.values() if c.command == "run"]
    for case in runs:
        eid, xid = case.ids["experiment_id"], case.ids["execution_id"]
        # the list filtered on the run's outcome has it; filtered on another, it has not
        mine = team.api("GET", f"/executions?outcome={case.outcome}&experiment={eid}").json()
        assert [x["id"] for x in mine["items"]] == [xid], case.key
        other = "passed" if case.outcome != "passed" else "failed"
        assert team.api("GET", f"/executions?outcome={other}&experiment={eid}").json()["total"] == 0
        # the experiment's history: this run, its outcome, in the last 30 days
        history = team.api("GET", f"/experiments/{eid}/history").json()
        marks = {x["id"]: x for x in history["executions"]}
        assert marks[xid]["outcome"] == case.outcome, case.key
        stats = history["last_30_days"]
        assert stats["by_outcome"][case.outcome] >= 1
        assert stats["pass_rate"] == (1.0 if case.outcome == "passed" else 0.0), case.key
        assert stats["median_duration"] is not None and stats["median_duration"] > 0
        assert (history["last_deviation"] or {}).get("id") == (xid if case.outcome == "deviated" else None)

    deviated = cases["deviated"]
    console = ConsoleSession(team)
    page = console.get(f"/experiments/{deviated.ids['experiment_id']}").text
    assert f'data-outcome="deviated" data-execution-id="{deviated.ids["execution_id"]}"' in page
    link = re.search(r'<a id="last-deviation-link" href="([^"]+)"', page)
    assert link and link.group(1).endswith(f"/executions/{deviated.ids['execution_id']}")
    listing = console.get("/executions?outcome=interrupted").text
    assert cases["interrupted"].ids["execution_id"] in listing
    assert cases["passed"].ids["execution_id"] not in listing

    # chaos verify: the verification's trend has the run with its deviated samples
    v = cases["v-deviated"]
    trend = team.api("GET", f"/verifications/{v.ids['verification_id']}/trend").json()
    (run,) = [r for r in trend["runs"] if r["id"] == v.ids["run_id"]]
    assert run["deviated_samples"] >= 1 and run["total_number_of_samples"] >= run["deviated_samples"]
    chart = console.get(f"/verifications/{v.ids['verification_id']}").text
    assert f'data-trend-run="{v.ids["run_id"]}" data-deviated="{run["deviated_samples"]}"' in chart
