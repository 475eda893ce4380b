"""Replays the original client's request sequences (`chaos run`, `chaos verify`; letters of docs/api.md)."""

from __future__ import annotations

import json

from server_helpers import CE_HEADERS, cloud_event, experiment, journal

LIFECYCLE = [
    "starting-experiment",
    "starting-hypothesis",
    "starting-activity",
    "activity-finished",
    "hypothesis-finished",
    "starting-method",
    "starting-activity",
    "activity-finished",
    "starting-activity",
    "activity-finished",
    "method-finished",
    "starting-hypothesis",
    "starting-activity",
    "activity-finished",
    "hypothesis-finished",
    "starting-rollback",
    "starting-activity",
    "activity-finished",
    "rollback-finished",
    "experiment-finished",
]


def test_signin_probe_and_listing(env):
    c, a = env.client, env.a
    assert c.head("/").status_code == 401
    assert c.head("/", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert c.head("/", headers=a.headers).status_code == 200
    assert c.get("/", headers=a.headers).status_code == 200
    r = c.get("/api/v1/organizations", headers=a.headers)
    assert r.status_code == 200
    assert r.json() == [{"id": a.org_id, "name": "org-alpha"}]
    r = c.get(f"/api/v1/organizations/{a.org_id}/teams", headers=a.headers)
    assert r.json() == [{"id": a.team_id, "name": "team-alpha", "org_id": a.org_id}]
    r = c.get(a.base, headers=a.headers)
    assert r.status_code == 200
    assert r.json() == {"id": a.team_id, "name": "team-alpha", "org_id": a.org_id}
    r = c.get("/api/v1/capabilities", headers=a.headers)
    assert "events-batch" in r.json()["capabilities"]
    assert c.get("/health").json() == {"status": "ok"}


def test_chaos_run_sequence(env):
    """`chaos run`: experiment, execution, 20 events each followed by a policies GET, final PUT."""
    c, a = env.client, env.a
    h = a.headers
    exp = experiment()
    r = c.post(f"{a.base}/experiments", json={"experiment": exp}, headers=h)
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    # The client stores the id in the chaosiq extension; the next publish is unchanged.
    exp.setdefault("extensions", []).append({"name": "chaosiq", "experiment_id": eid})
    r = c.post(f"{a.base}/experiments", json={"experiment": exp}, headers=h)
    assert r.status_code == 204
    assert r.headers["content-location"].endswith(f"/experiments/{eid}")
    assert r.content == b""

    body = json.dumps({"journal": journal(exp)}, ensure_ascii=False)
    r = c.post(
        f"{a.base}/experiments/{eid}/executions",
        content=body.encode(),
        headers={**h, "Content-Type": "application/json"},
    )
    assert r.status_code == 201
    xid = r.json()["id"]
    loc = r.headers["content-location"]
    assert loc == f"http://testserver{a.base}/experiments/{eid}/executions/{xid}"
    # clean(): the console URL the client prints
    assert loc.replace("/api/", "/").startswith("http://testserver/v1/organizations/")

    xbase = f"{a.base}/experiments/{eid}/executions/{xid}"
    for i, kind in enumerate(LIFECYCLE):
        ev = cloud_event(kind, payload={"step": i}, time=f"2024-01-01T10:00:{i:02d}+02:00")
        r = c.post(f"{xbase}/events", content=json.dumps(ev), headers={**h, **CE_HEADERS})
        assert r.status_code == 201, r.text
        if kind != "experiment-finished":
            r = c.get(f"{xbase}/policies", headers=h)
            assert r.status_code == 200
            assert r.json() == {"allowed": True, "policies": []}

    final = journal(exp, status="completed")
    final["extensions"] = [{"name": "chaosiq", "execution_id": xid, "experiment_id": eid, "safeguards": None}]
    r = c.put(xbase, json={"journal": final}, headers=h)
    assert r.status_code == 204

    r = c.get(xbase, headers=h)
    assert r.status_code == 200
    got = r.json()
    assert got["status"] == "completed"
    assert got["events_count"] == len(LIFECYCLE)
    assert got["journal"]["extensions"][0]["execution_id"] == xid
    assert r.headers["content-location"].endswith(xbase)
    assert c.get(f"{a.base}/executions/{xid}", headers=h).json()["id"] == xid

    r = c.get(f"{xbase}/events", headers=h, params={"limit": 1000})
    page = r.json()
    assert page["total"] == len(LIFECYCLE)
    assert [e["type"] for e in page["items"]] == LIFECYCLE
    assert page["items"][0]["data"] == {"context": {"step": 0}, "state": None}
    assert page["next_cursor"] is None


def test_execution_with_experiment_in_one_request(env):
    """Extension: experiment + execution in one round trip, matching as POST …/experiments does."""
    c, a = env.client, env.a
    assert (
        "execution-with-experiment" in c.get("/api/v1/capabilities", headers=a.headers).json()["capabilities"]
    )
    r = c.post(
        f"{a.base}/executions", json={"experiment": experiment(), "journal": journal({})}, headers=a.headers
    )
    assert r.status_code == 201, r.text
    first = r.json()
    assert r.headers["content-location"].endswith(
        f"{a.base}/experiments/{first['experiment_id']}/executions/{first['id']}"
    )
    # the same experiment again: matched, a second execution of it
    r = c.post(
        f"{a.base}/executions", json={"experiment": experiment(), "journal": journal({})}, headers=a.headers
    )
    second = r.json()
    assert second["experiment_id"] == first["experiment_id"] and second["id"] != first["id"]
    # the original two-step path sees the same experiment (204) and both executions
    r = c.post(f"{a.base}/experiments", json={"experiment": experiment()}, headers=a.headers)
    assert r.status_code == 204 and r.headers["content-location"].endswith(first["experiment_id"])
    got = c.get(f"{a.base}/executions", headers=a.headers).json()
    assert {x["id"] for x in got["items"]} >= {first["id"], second["id"]}
    # both parts are required
    r = c.post(f"{a.base}/executions", json={"experiment": experiment()}, headers=a.headers)
    assert r.status_code == 422


def test_publish_changed_experiment_updates(env):
    c, a = env.client, env.a
    exp = experiment()
    eid = c.post(f"{a.base}/experiments", json={"experiment": exp}, headers=a.headers).json()["id"]
    # Same content without the id is recognised too (204 + Content-Location).
    r = c.post(f"{a.base}/experiments", json={"experiment": experiment()}, headers=a.headers)
    assert r.status_code == 204 and r.headers["content-location"].endswith(eid)
    exp["extensions"] = [{"name": "chaosiq", "experiment_id": eid}]
    exp["title"] = "changed"
    r = c.post(f"{a.base}/experiments", json={"experiment": exp}, headers=a.headers)
    assert r.status_code == 200 and r.json() == {"id": eid}
    assert c.get(f"{a.base}/experiments/{eid}", headers=a.headers).json()["title"] == "changed"
    # An unknown claimed id is a new experiment.
    exp["extensions"] = [{"name": "chaosiq", "experiment_id": "unknown"}]
    exp["title"] = "third"
    r = c.post(f"{a.base}/experiments", json={"experiment": exp}, headers=a.headers)
    assert r.status_code == 201 and r.json()["id"] != eid
    page = c.get(f"{a.base}/experiments", headers=a.headers).json()
    assert page["total"] == 2


def test_safeguard_denial_and_stop(env):
    c, a = env.client, env.a
    h = a.headers
    eid = c.post(f"{a.base}/experiments", json={"experiment": experiment()}, headers=h).json()["id"]
    xid = c.post(
        f"{a.base}/experiments/{eid}/executions", json={"journal": journal(experiment())}, headers=h
    ).json()["id"]
    pol = f"{a.base}/experiments/{eid}/executions/{xid}/policies"
    r = c.post(pol, json={"name": "ok-rule", "allowed": True}, headers=h)
    assert r.status_code == 201
    assert c.get(pol, headers=h).json()["allowed"] is True
    r = c.post(f"{a.base}/executions/{xid}/stop", json={"reason": "enough"}, headers=h)
    assert r.status_code == 201
    body = r.json()
    assert body["name"] == "stopped-by-user" and body["allowed"] is False
    assert body["created_by"] == "token-alpha" and body["reason"] == "enough"
    verdict = c.get(pol, headers=h).json()
    assert verdict["allowed"] is False
    assert [p["name"] for p in verdict["policies"]] == ["ok-rule", "stopped-by-user"]
    assert set(verdict["policies"][1]) == {"id", "name", "allowed", "reason", "created_by", "created_at"}
    # stop without a body works too
    assert c.post(f"{a.base}/executions/{xid}/stop", headers=h).status_code == 201


def test_verification_run_sequence(env):
    """`chaos verify`: execution, run start (L), events (M), finished (N)."""
    c, a = env.client, env.a
    h = a.headers
    exp = experiment()
    eid = c.post(f"{a.base}/experiments", json={"experiment": exp}, headers=h).json()["id"]
    xid = c.post(f"{a.base}/experiments/{eid}/executions", json={"journal": journal(exp)}, headers=h).json()[
        "id"
    ]
    vid = "3b1e1a2c-0000-4000-8000-000000000001"
    r = c.post(
        f"{a.base}/verifications/{vid}/runs",
        headers=h,
        json={"journal": journal(exp), "status": "started", "experiment_id": eid, "execution_id": xid},
    )
    assert r.status_code == 201, r.text
    run = r.json()
    assert run["state"] == "running"
    assert run["status"] == "started"
    assert {run["org_id"], run["team_id"], run["verification_id"]} == {a.org_id, a.team_id, vid}
    assert run["experiment_id"] == eid and run["execution_id"] == xid
    assert run["journal"]["status"] == "running"
    rid = run["id"]
    rbase = f"{a.base}/verifications/{vid}/runs/{rid}"
    cats = [
        ("verification-hypothesis-before-method-started", None),
        ("verification-sample-started", {"frequency": 1}),
        ("verification-sample", {"iteration": 1, "state": {"steady_state_met": True}}),
        ("verification-condition-started", {}),
        ("verification-condition-completed", {"state": None}),
        ("verification-sampling-completed", None),
        ("verification-completed", journal(exp, "completed")),
    ]
    for cat, payload in cats:
        body = {"category": cat} if payload is None else {"category": cat, "payload": payload}
        r = c.post(f"{rbase}/events", json=body, headers=h)
        assert r.status_code == 201, r.text
    results = {
        "successful_samples": 1,
        "deviated_samples": 0,
        "not_run_samples": 0,
        "total_number_of_samples": 1,
        "total_duration": 3.2,
    }
    r = c.post(
        f"{rbase}/finished",
        headers=h,
        json={"journal": journal(exp, "completed"), "status": "completed", "results": results},
    )
    assert r.status_code == 204
    got = c.get(rbase, headers=h).json()
    assert got["state"] == "finished" and got["status"] == "completed"
    assert got["results"] == results
    evs = c.get(f"{rbase}/events", headers=h).json()
    assert [e["category"] for e in evs["items"]] == [x[0] for x in cats]
    assert c.get(f"{a.base}/verifications/{vid}", headers=h).json()["runs_count"] == 1
    assert c.get(f"{a.base}/verifications", headers=h).json()["total"] == 1
    assert c.get(f"{a.base}/verifications/{vid}/runs", headers=h).json()["items"][0]["id"] == rid


def test_verification_run_under_a_client_chosen_id(env):
    """Extension verification-run-put: start idempotently under the client's id, ids filled in at the end."""
    c, a, b = env.client, env.a, env.b
    h = a.headers
    assert "verification-run-put" in c.get("/api/v1/capabilities", headers=h).json()["capabilities"]
    vid, rid = "verif-offline", "0b6f3a52-6d1e-4c7e-9a43-5d0c1b2a9e10"
    rbase = f"{a.base}/verifications/{vid}/runs/{rid}"
    r = c.put(rbase, json={"status": "started"}, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["id"] == rid and r.json()["state"] == "running" and r.json()["execution_id"] is None
    # a replay of the same request changes nothing
    r = c.put(rbase, json={"status": "something else"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "started"
    assert c.get(f"{a.base}/verifications/{vid}/runs", headers=h).json()["total"] == 1
    # events, then the end, which carries the execution created later
    assert c.post(f"{rbase}/events", json={"category": "verification-started"}, headers=h).status_code == 201
    exp = experiment()
    created = c.post(
        f"{a.base}/executions", json={"experiment": exp, "journal": journal(exp)}, headers=h
    ).json()
    r = c.post(
        f"{rbase}/finished",
        json={
            "status": "completed",
            "experiment_id": created["experiment_id"],
            "execution_id": created["id"],
        },
        headers=h,
    )
    assert r.status_code == 204, r.text
    run = c.get(rbase, headers=h).json()
    assert (run["state"], run["execution_id"]) == ("finished", created["id"])
    # not a UUID: refused; another team's token on the same id: not found
    assert c.put(f"{a.base}/verifications/{vid}/runs/not-a-uuid", json={}, headers=h).status_code == 422
    assert c.post(f"{b.base}/verifications/{vid}/runs", json={}, headers=b.headers).status_code == 201
    assert c.put(f"{b.base}/verifications/{vid}/runs/{rid}", json={}, headers=b.headers).status_code == 404
    assert c.get(rbase, headers=h).json()["state"] == "finished"


def test_one_run_is_one_execution(env):
    """Extension ``execution-run-id``: a run id the team has seen gets its execution back, by
    either creation path, unchanged; another team's run id and no run id create as before."""
    c, a, b = env.client, env.a, env.b
    assert "execution-run-id" in c.get("/api/v1/capabilities", headers=a.headers).json()["capabilities"]
    body = {"experiment": experiment(), "journal": journal({}), "run_id": "run-1"}
    r = c.post(f"{a.base}/executions", json=body, headers=a.headers)
    assert r.status_code == 201, r.text
    first = r.json()
    xpath = f"{a.base}/experiments/{first['experiment_id']}/executions/{first['id']}"
    assert c.put(xpath, json={"journal": {"status": "completed"}}, headers=a.headers).status_code == 204
    # the same run again, with another experiment body: the same execution, nothing changed
    other = {**body, "experiment": experiment("another title")}
    r = c.post(f"{a.base}/executions", json=other, headers=a.headers)
    assert r.status_code == 200 and r.json() == first
    assert r.headers["content-location"].endswith(xpath)
    # the original two-step path, under another experiment id: the run's execution and experiment
    r = c.post(f"{a.base}/experiments", json={"experiment": experiment("another title")}, headers=a.headers)
    eid2 = r.json()["id"]
    assert eid2 != first["experiment_id"]
    r = c.post(f"{a.base}/experiments/{eid2}/executions", json={"journal": {}, "run_id": "run-1"},
               headers=a.headers)  # fmt: skip
    assert r.status_code == 200 and r.json() == first
    got = c.get(f"{a.base}/executions", headers=a.headers).json()
    assert [x["id"] for x in got["items"]] == [first["id"]]
    assert got["items"][0]["status"] == "completed"
    # another team may use the same run id; without a run id every creation is new
    r = c.post(f"{b.base}/executions", json=body, headers=b.headers)
    assert r.status_code == 201 and r.json()["id"] != first["id"]
    for _ in range(2):
        r = c.post(f"{a.base}/experiments/{eid2}/executions", json={"journal": {}}, headers=a.headers)
        assert r.status_code == 201
    assert c.get(f"{a.base}/executions", headers=a.headers).json()["total"] == 3
    # a run id is a plain string of 1 to 200 characters
    for bad in ("", "x" * 201, 7, "a\x00b"):
        r = c.post(f"{a.base}/executions", json={**body, "run_id": bad}, headers=a.headers)
        assert r.status_code == 422, bad


def test_racing_creations_of_one_run_get_one_execution(env):
    """Two creations of the same run at once (a run and ``chaos publish``): the unique
    constraint makes the loser return the winner's execution."""
    from concurrent.futures import ThreadPoolExecutor

    a = env.a
    store = env.client.app.state.store
    eid = store.experiments.upsert(a.team_id, experiment())[1]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: store.executions.create_run(a.team_id, eid, {}, "race"), range(8)))
    assert len({g[0] for g in got}) == 1
    assert sum(1 for g in got if g[2]) == 1
