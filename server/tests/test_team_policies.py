"""Team safeguard policies and pauses through the API (SQLite and PostgreSQL):
validation, create/read/replace/delete, and how they change an execution's verdict."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from chaosiq_server.store.liveness import STALE
from chaosiq_server.windows import Window
from server_helpers import Env, cloud_event, experiment, journal
from sqlalchemy import text


def _execution(env: Env, tags: list[str] | None = None, title: str = "exp") -> tuple[str, str]:
    c, a = env.client, env.a
    doc = {**experiment(title), **({"tags": tags} if tags else {})}
    r = c.post(f"{a.base}/executions", json={"experiment": doc, "journal": journal(doc)}, headers=a.headers)
    assert r.status_code == 201, r.text
    return r.json()["experiment_id"], r.json()["id"]


def _verdict(env: Env, eid: str, xid: str) -> dict[str, Any]:
    r = env.client.get(f"{env.a.base}/experiments/{eid}/executions/{xid}/policies", headers=env.a.headers)
    assert r.status_code == 200, r.text
    return r.json()


def _create(env: Env, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    r = env.client.post(f"{env.a.base}/policies", json=body, headers=env.a.headers)
    assert r.status_code == status, r.text
    return r.json()


def _window_around_now(minutes_before: int, minutes_after: int) -> dict[str, Any]:
    now = datetime.now(timezone.utc)
    start, end = now - timedelta(minutes=minutes_before), now + timedelta(minutes=minutes_after)
    return {
        "kind": "window",
        "start_day": start.weekday(),
        "start_time": start.strftime("%H:%M"),
        "end_day": end.weekday(),
        "end_time": end.strftime("%H:%M"),
        "time_zone": "UTC",
    }


def test_an_open_window_denies_with_its_name_and_bounds_and_a_closed_one_does_not(env: Env) -> None:
    eid, xid = _execution(env)
    assert _verdict(env, eid, xid) == {"allowed": True, "policies": []}
    created = _create(env, {"name": "Friday freeze", "reason": "weekend", **_window_around_now(60, 60)})
    assert created["description"].startswith("no run while")
    verdict = _verdict(env, eid, xid)
    assert verdict["allowed"] is False
    [entry] = verdict["policies"]
    assert entry["name"] == "Friday freeze" and entry["allowed"] is False and entry["scope"] == "team"
    window = Window(
        **{k: created[k] for k in ("start_day", "start_time", "end_day", "end_time", "time_zone")}
    )
    assert entry["reason"] == f"window 'Friday freeze' ({window.describe()}) is open: weekend"
    # moved to later today: closed, the run is allowed again
    later = {"name": "Friday freeze", **_window_around_now(-120, 180)}
    r = env.client.put(f"{env.a.base}/policies/{created['id']}", json=later, headers=env.a.headers)
    assert r.status_code == 200, r.text
    assert r.json()["reason"] is None  # a replacement, not a merge
    assert _verdict(env, eid, xid) == {"allowed": True, "policies": []}


def test_deny_now_and_tag_scope(env: Env) -> None:
    eid_prod, x_prod = _execution(env, tags=["prod"], title="prod exp")
    eid_dev, x_dev = _execution(env, tags=["dev"], title="dev exp")
    _create(env, {"name": "no prod", "kind": "deny", "tag": "prod", "reason": "incident"})
    denied = _verdict(env, eid_prod, x_prod)
    assert denied["allowed"] is False
    assert denied["policies"][0]["reason"] == "policy 'no prod' denies every run now: incident"
    assert _verdict(env, eid_dev, x_dev)["allowed"] is True
    # another team never sees it
    b = env.b
    assert env.client.get(f"{b.base}/policies", headers=b.headers).json() == {"items": []}


def test_concurrency_limit_denies_only_the_newer_runs(env: Env) -> None:
    runs = [_execution(env, title=f"exp {i}") for i in range(3)]
    _create(env, {"name": "two at a time", "kind": "concurrency", "max_runs": 2})
    assert [_verdict(env, *r)["allowed"] for r in runs] == [True, True, False]
    assert "at most 2 runs at a time" in _verdict(env, *runs[2])["policies"][0]["reason"]
    # the oldest finishes: the third is among the two oldest running ones now
    eid, xid = runs[0]
    r = env.client.put(
        f"{env.a.base}/experiments/{eid}/executions/{xid}",
        json={"journal": {**journal(experiment("exp 0"), status="completed")}},
        headers=env.a.headers,
    )
    assert r.status_code < 300, r.text
    assert [_verdict(env, *r)["allowed"] for r in runs[1:]] == [True, True]


def test_a_run_holds_its_place_only_while_it_shows_life(env: Env) -> None:
    """A safeguard check or new events are signs of life; a running execution silent for
    ``STALE`` seconds (a ``chaos run`` killed by SIGKILL) no longer counts toward a limit."""
    c, a = env.client, env.a
    store, db = c.app.state.store, c.app.state.db
    _create(env, {"name": "one", "kind": "concurrency", "max_runs": 1})
    eid_a, older = _execution(env, title="a")
    _, newer = _execution(env, title="b")

    def newer_allowed(after: float) -> bool:
        then = datetime.now(timezone.utc) + timedelta(seconds=after)
        return bool(store.policies.verdict(a.team_id, newer, now=then)["allowed"])

    def last_seen() -> str | None:
        with db.engine.connect() as conn:
            return conn.execute(
                text("SELECT last_seen_at FROM executions WHERE id = :x"), {"x": older}
            ).scalar()

    assert not newer_allowed(0)
    assert newer_allowed(STALE + 5)  # the older one never asked nor sent anything since its start
    secret, _ = store.tokens.create("watcher", [a.team_id], "viewer")
    watcher = {"Authorization": f"Bearer {secret}"}
    r = c.get(f"{a.base}/experiments/{eid_a}/executions/{older}/policies", headers=watcher)
    assert r.status_code == 200 and r.json()["allowed"]
    assert last_seen() is None  # a viewer watching the run is no sign of its life
    assert _verdict(env, eid_a, older)["allowed"]  # the run asks: a sign of life, written
    assert last_seen() is not None
    assert not newer_allowed(STALE - 30) and newer_allowed(STALE + 30)
    with db.engine.begin() as conn:  # silent for an hour
        conn.execute(
            text("UPDATE executions SET created_at = :t, last_seen_at = :t WHERE id = :x"),
            {"t": "2000-01-01T00:00:00.000000Z", "x": older},
        )
    assert newer_allowed(0)
    event = cloud_event("activity-finished")
    r = c.post(f"{a.base}/experiments/{eid_a}/executions/{older}/events", json=event, headers=a.headers)
    assert r.status_code == 201, r.text
    assert last_seen() > "2001"  # new events are a sign of life too
    assert not newer_allowed(0)
    # a finished execution never counts, seen or not
    done = journal(experiment("a"), status="completed")
    r = c.put(f"{a.base}/experiments/{eid_a}/executions/{older}", json={"journal": done}, headers=a.headers)
    assert r.status_code < 300, r.text
    assert newer_allowed(0)


def test_crud_and_conflicts(env: Env) -> None:
    c, a = env.client, env.a
    p = _create(env, {"name": "cap", "kind": "concurrency", "max_runs": 3})
    _create(env, {"name": "cap", "kind": "deny"}, status=409)
    assert [x["name"] for x in c.get(f"{a.base}/policies", headers=a.headers).json()["items"]] == ["cap"]
    assert c.get(f"{a.base}/policies/{p['id']}", headers=a.headers).json()["max_runs"] == 3
    assert c.get(f"{env.b.base}/policies/{p['id']}", headers=env.b.headers).status_code == 404
    assert c.delete(f"{env.b.base}/policies/{p['id']}", headers=env.b.headers).status_code == 404
    assert c.delete(f"{a.base}/policies/{p['id']}", headers=a.headers).status_code == 204
    assert c.delete(f"{a.base}/policies/{p['id']}", headers=a.headers).status_code == 404
    assert c.get(f"{a.base}/policies", headers=a.headers).json() == {"items": []}


W = {"start_day": 4, "start_time": "16:00", "end_day": 0, "end_time": "08:00", "time_zone": "Europe/Paris"}


@pytest.mark.parametrize(
    "body,words",
    [
        ({"name": "w", "kind": "window", **W, "time_zone": "Mars/Olympus"}, "unknown time zone"),
        ({"name": "w", "kind": "window", **W, "time_zone": "../../etc/passwd"}, "unknown time zone"),
        ({"name": "w", "kind": "window", **W, "start_time": "24:00"}, "start_time"),
        ({"name": "w", "kind": "window", **W, "start_time": "4pm"}, "start_time"),
        ({"name": "w", "kind": "window", **W, "start_day": 7}, "start_day"),
        ({"name": "w", "kind": "window", **W, "start_day": "4"}, "start_day"),
        (
            {"name": "w", "kind": "window", **W, "end_day": 4, "end_time": "16:00"},
            "must not start when it ends",
        ),
        ({"name": "w", "kind": "window", "start_day": 4}, "a window needs"),
        ({"name": "d", "kind": "deny", **W}, "only a window"),
        ({"name": "c", "kind": "concurrency"}, "needs max_runs"),
        ({"name": "c", "kind": "concurrency", "max_runs": 0}, "max_runs"),
        ({"name": "c", "kind": "concurrency", "max_runs": True}, "max_runs"),
        ({"name": "d", "kind": "deny", "max_runs": 2}, "only a concurrency"),
        ({"name": "  ", "kind": "deny"}, "blank"),
        ({"name": "x\u0000", "kind": "deny"}, "name"),
        ({"name": "d", "kind": "pause"}, "kind"),
        ({"name": "d", "kind": "deny", "colour": "red"}, "colour"),
    ],
)
def test_bad_policies_get_one_clear_422(lite: Env, body: dict[str, Any], words: str) -> None:
    r = lite.client.post(f"{lite.a.base}/policies", json=body, headers=lite.a.headers)
    assert r.status_code == 422, r.text
    assert words in r.text
    assert lite.client.get(f"{lite.a.base}/policies", headers=lite.a.headers).json() == {"items": []}


def test_pause_and_resume_change_the_verdict_and_are_checked(env: Env) -> None:
    c, a = env.client, env.a
    eid, xid = _execution(env)
    r = c.post(
        f"{a.base}/executions/{xid}/pause", json={"reason": "look at it", "timeout": 30}, headers=a.headers
    )
    assert r.status_code == 201, r.text
    assert r.json()["timeout"] == 30 and r.json()["created_by"] == "token-alpha"
    verdict = _verdict(env, eid, xid)
    assert verdict["allowed"] is True  # a client that knows no pause goes on
    [entry] = verdict["policies"]
    assert entry["pause"] is True and entry["timeout"] == 30 and entry["reason"] == "look at it"
    again = c.post(f"{a.base}/executions/{xid}/pause", headers=a.headers)
    assert again.status_code == 409 and "already paused" in again.json()["detail"]
    assert c.post(f"{env.b.base}/executions/{xid}/resume", headers=env.b.headers).status_code == 404
    r = c.post(f"{a.base}/executions/{xid}/resume", headers=a.headers)
    assert r.status_code == 200 and r.json()["resumed_by"] == "token-alpha"
    assert _verdict(env, eid, xid) == {"allowed": True, "policies": []}
    assert c.post(f"{a.base}/executions/{xid}/resume", headers=a.headers).status_code == 409
    # the default timeout; bad timeouts
    r = c.post(f"{a.base}/executions/{xid}/pause", headers=a.headers)
    assert r.status_code == 201 and r.json()["timeout"] == 600
    c.post(f"{a.base}/executions/{xid}/resume", headers=a.headers)
    for bad in (0, -1, 86401, "10", True):
        r = c.post(f"{a.base}/executions/{xid}/pause", json={"timeout": bad}, headers=a.headers)
        assert r.status_code == 422, (bad, r.text)


def test_only_a_running_execution_can_be_paused(env: Env) -> None:
    c, a = env.client, env.a
    eid, xid = _execution(env)
    c.put(
        f"{a.base}/experiments/{eid}/executions/{xid}",
        json={"journal": journal(experiment("exp"), status="completed")},
        headers=a.headers,
    )
    r = c.post(f"{a.base}/executions/{xid}/pause", headers=a.headers)
    assert r.status_code == 409 and "only a running execution" in r.json()["detail"]
