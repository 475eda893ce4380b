"""History and trends through the API, on SQLite and PostgreSQL: the executions list's
filters and paging, an experiment's history (outcome strip, last 30 days, last
deviation), a verification's trend, and the migration that fills the kept outcome."""

from __future__ import annotations

import copy
import statistics
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from chaosiq_server.outcome import of_journal
from history_helpers import Team, backdate, final_journal
from server_helpers import database_at, experiment, journal
from sqlalchemy import text


def _ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


def test_the_list_filters_by_outcome_experiment_tag_title_and_dates(env):
    a = Team(env, env.a)
    checkout, exp1 = a.experiment("Checkout survives a CPU spike", ["payments", "cpu"])
    search, exp2 = a.experiment("Search 100% up when a node goes", ["search"])
    made = {
        "c-passed": a.execution(checkout, exp1, "passed"),
        "c-deviated": a.execution(checkout, exp1, "deviated"),
        "c-failed": a.execution(checkout, exp1, "failed"),
        "s-passed": a.execution(search, exp2, "passed"),
        "s-running": a.execution(search, exp2, None),
        "s-interrupted": a.execution(search, exp2, "interrupted"),
    }
    every = a.get("/executions")
    assert every["total"] == 6
    outcome_of = {item["id"]: item["outcome"] for item in every["items"]}
    assert [outcome_of[made[k]] for k in made] == [
        "passed", "deviated", "failed", "passed", "running", "interrupted"
    ]  # fmt: skip

    assert set(_ids(a.get("/executions?outcome=passed"))) == {made["c-passed"], made["s-passed"]}
    assert _ids(a.get("/executions?outcome=deviated")) == [made["c-deviated"]]
    assert a.get("/executions?outcome=aborted")["total"] == 0
    assert set(_ids(a.get(f"/executions?experiment={search}"))) == {
        made["s-passed"], made["s-running"], made["s-interrupted"]
    }  # fmt: skip
    both = a.get(f"/executions?experiment={checkout}&outcome=failed")
    assert _ids(both) == [made["c-failed"]] and both["total"] == 1
    assert len(_ids(a.get("/executions?tag=payments"))) == 3
    assert a.get("/executions?tag=pay")["total"] == 0  # a tag matches whole
    # the title search: any case, and % or _ are plain characters
    assert len(_ids(a.get("/executions?q=cpu%20SPIKE"))) == 3
    assert len(_ids(a.get("/executions?q=100%25"))) == 3
    assert a.get("/executions?q=1_0")["total"] == 0

    backdate(env.url, made["c-passed"], 10)
    backdate(env.url, made["s-passed"], 40)
    today = datetime.now(timezone.utc).date()
    day = lambda n: (today - timedelta(days=n)).isoformat()  # noqa: E731
    assert _ids(a.get(f"/executions?until={day(20)}")) == [made["s-passed"]]
    assert _ids(a.get(f"/executions?since={day(20)}&until={day(5)}")) == [made["c-passed"]]
    assert a.get(f"/executions?since={day(10)}&until={day(10)}")["total"] == 1  # both days included
    assert a.get(f"/executions?since={today.isoformat()}")["total"] == 4
    assert a.get(f"/executions?since={day(1)}&until={day(2)}")["total"] == 0  # an empty range

    # one clear line for a value that makes no sense; nothing filtered silently
    assert "outcome" in str(a.get("/executions?outcome=green", 422)["detail"])
    assert "since" in str(a.get("/executions?since=yesterday", 422)["detail"])
    a.get("/executions?until=0", 422)  # not a Unix time either
    assert "until must be a date" in str(a.get("/executions?until=2024-02-30", 422)["detail"])


def test_filtered_pages_keep_the_filter_and_miss_nothing(env):
    a = Team(env, env.a)
    eid, exp = a.experiment("Paged", ["paging"])
    other, exp2 = a.experiment("Other")
    kinds = ["passed", "deviated", "passed", "failed", "passed", "passed", "deviated", "passed"]
    passed = {a.execution(eid, exp, kind) for kind in kinds if kind == "passed"}
    for kind in kinds:  # executions of another experiment, interleaved in time
        a.execution(other, exp2, kind)
    seen: list[str] = []
    url = "/executions?outcome=passed&tag=paging&limit=2"
    page = a.get(url)
    while True:
        assert page["total"] == 5 and len(page["items"]) <= 2
        seen += _ids(page)
        if page["next_cursor"] is None:
            break
        page = a.get(f"{url}&cursor={page['next_cursor']}")
    assert len(seen) == 5 and set(seen) == passed  # every one, once, newest first
    everything = _ids(a.get("/executions?limit=100"))
    assert seen == [x for x in everything if x in passed]


def test_experiment_history_strip_last_30_days_and_last_deviation(env):
    a = Team(env, env.a)
    eid, exp = a.experiment("Checkout survives a CPU spike")
    old_dev = a.execution(eid, exp, "deviated", 9.0)
    backdate(env.url, old_dev, 45)  # outside the 30 days, still the strip's first
    made = [
        a.execution(eid, exp, "passed", 2.0),
        a.execution(eid, exp, "deviated", 4.0),
        a.execution(eid, exp, "passed", 3.0),
        a.execution(eid, exp, "failed", 10.0),
        a.execution(eid, exp, None),  # running
    ]
    history = a.get(f"/experiments/{eid}/history")
    assert history["title"] == "Checkout survives a CPU spike" and history["executions_count"] == 6
    strip = history["executions"]
    assert [x["id"] for x in strip] == [old_dev, *made]  # oldest first
    assert [x["outcome"] for x in strip] == ["deviated", "passed", "deviated", "passed", "failed", "running"]
    stats = history["last_30_days"]
    assert stats["total"] == 5 and stats["finished"] == 4
    assert stats["by_outcome"]["passed"] == 2 and stats["by_outcome"]["deviated"] == 1
    assert stats["pass_rate"] == pytest.approx(0.5)
    assert stats["median_duration"] == pytest.approx(statistics.median([2.0, 4.0, 3.0, 10.0]))
    last = history["last_deviation"]
    assert last["id"] == made[1] and "steady state after the method not met" in last["outcome_reasons"][0]

    # another experiment without runs: no rate, no median, no deviation
    empty, _ = a.experiment("Never run")
    none = a.get(f"/experiments/{empty}/history")
    assert none["executions"] == [] and none["last_deviation"] is None
    assert none["last_30_days"]["pass_rate"] is None and none["last_30_days"]["median_duration"] is None
    # another team's experiment, or none: 404
    b = Team(env, env.b)
    b.get(f"/experiments/{eid}/history", 404)
    a.get("/experiments/no-such-experiment/history", 404)


def test_verification_trend_counts_deviated_samples_per_run(env):
    a = Team(env, env.a)
    base = "/verifications/checkout-holds/runs"
    counts = [(0, 10), (3, 10), (None, None), (7, 12)]
    rids = []
    for deviated, total in counts:
        rid = a.c.post(a.t.base + base, json={"status": "started"}, headers=a.t.headers).json()["id"]
        rids.append(rid)
        if deviated is not None:
            results = {
                "successful_samples": total - deviated,
                "deviated_samples": deviated,
                "not_run_samples": 0,
                "total_number_of_samples": total,
                "total_duration": 5.0,
            }
            body = {"status": "completed", "results": results}
            resp = a.c.post(f"{a.t.base}{base}/{rid}/finished", json=body, headers=a.t.headers)
            assert resp.status_code == 204
    trend = a.get("/verifications/checkout-holds/trend")
    assert trend["runs_count"] == 4
    assert [r["id"] for r in trend["runs"]] == rids
    assert [r["deviated_samples"] for r in trend["runs"]] == [0, 3, None, 7]
    assert [r["total_number_of_samples"] for r in trend["runs"]] == [10, 10, None, 12]
    assert [r["state"] for r in trend["runs"]] == ["finished", "finished", "running", "finished"]
    assert [r["id"] for r in a.get("/verifications/checkout-holds/trend?limit=2")["runs"]] == rids[2:]
    Team(env, env.b).get("/verifications/checkout-holds/trend", 404)


def test_the_migration_fills_the_outcome_of_existing_executions(db_url):
    """A database of the previous version, with executions of every kind, upgraded:
    each gets the outcome (and reasons, start, duration) outcome.py derives."""
    db = database_at(db_url, "0002")
    exp = experiment("Before the upgrade")
    journals = {
        "x-passed": ("completed", final_journal(exp, "passed", 1.5)),
        "x-deviated": ("completed", final_journal(exp, "deviated", 2.5)),
        "x-failed": ("completed", final_journal(exp, "failed", 3.5)),
        "x-interrupted": ("interrupted", final_journal(exp, "interrupted", 4.5)),
        "x-running": ("running", journal(exp)),
        "x-broken": ("completed", None),  # a journal that is not JSON: nothing says it passed
    }
    import json

    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO organizations VALUES ('o', 'org', '2024')"))
        conn.execute(text("INSERT INTO teams VALUES ('t', 'o', 'team', '2024')"))
        conn.execute(
            text("INSERT INTO experiments VALUES ('e', 't', 'h', 'T', :body, '2024', '2024')"),
            {"body": json.dumps({**exp, "tags": ["legacy", "legacy", 7]})},
        )
        for xid, (status, doc) in journals.items():
            conn.execute(
                text(
                    "INSERT INTO executions (id, team_id, experiment_id, status, journal, created_at,"
                    " updated_at) VALUES (:x, 't', 'e', :s, :j, '2024-01-01T00:00:00Z', '2024')"
                ),
                {"x": xid, "s": status, "j": json.dumps(doc) if doc is not None else "{not json"},
            )
    db.migrate()
    with db.engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(text("SELECT * FROM executions"))}
        tags = conn.execute(text("SELECT tag FROM experiment_tags WHERE experiment_id = 'e'")).scalars().all()
    db.dispose()
    for xid, (status, doc) in journals.items():
        want = of_journal(status, copy.deepcopy(doc))
        assert rows[xid].outcome == want.word, xid
        assert json.loads(rows[xid].outcome_reasons) == list(want.reasons), xid
    assert [rows[x].outcome for x in journals] == [
        "passed", "deviated", "failed", "interrupted", "running", "unknown"
    ]  # fmt: skip
    assert rows["x-passed"].duration == 1.5 and rows["x-passed"].started_at == "2024-01-01T00:00:00"
    assert tags == ["legacy"]
