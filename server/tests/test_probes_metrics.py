"""/health, /ready and /metrics: unauthenticated, cheap, and saying what happened."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from server_helpers import CE_HEADERS, cloud_event, experiment, journal, seed, start_server, stop_server
from sqlalchemy import create_engine, text

EVENTS_ROUTE = "/api/v1/organizations/{org}/teams/{team}/experiments/{eid}/executions/{xid}/events"


def samples(body: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(body: str, name: str, **labels: str) -> float:
    return samples(body).get((name, frozenset(labels.items())), 0.0)


def _run(c: Any, a: Any) -> tuple[str, str]:
    eid = c.post(f"{a.base}/experiments", json={"experiment": experiment()}, headers=a.headers).json()["id"]
    r = c.post(f"{a.base}/experiments/{eid}/executions", json={"journal": journal({})}, headers=a.headers)
    xid = r.json()["id"]
    return f"{a.base}/experiments/{eid}/executions/{xid}", xid


def test_probes_and_metrics_by_route_template(lite: Any) -> None:
    c, a = lite.client, lite.a
    assert c.get("/health").json() == {"status": "ok"}
    assert c.get("/ready").json() == {"status": "ok"}
    before = c.get("/metrics")
    assert before.status_code == 200 and before.headers["content-type"].startswith("text/plain")
    x, xid = _run(c, a)
    headers = {**a.headers, **CE_HEADERS}
    for i in range(3):  # the front door answers these
        assert (
            c.post(
                f"{x}/events", content=json.dumps(cloud_event("e", event_id=f"s{i}")), headers=headers
            ).status_code
            == 201
        )
    assert (
        c.post(
            f"{x}/events", content=json.dumps(cloud_event("e", event_id="s0")), headers=headers
        ).status_code
        == 200
    )
    batch = c.post(
        f"{x}/events/batch", json=[cloud_event("e", event_id=f"b{i}") for i in range(5)], headers=a.headers
    )
    assert batch.json()["stored"] == 5
    assert c.post(f"{x}/events", content=b"{not json", headers=headers).status_code == 400
    assert c.get("/no/such/page/" + xid).status_code == 404
    after = c.get("/metrics").text  # no token needed

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before.text, name, **labels)

    assert delta("chaosiq_http_requests_total", method="POST", route=EVENTS_ROUTE, status="201") == 3
    assert delta("chaosiq_http_requests_total", method="POST", route=EVENTS_ROUTE, status="200") == 1
    assert (
        delta("chaosiq_http_requests_total", method="POST", route=EVENTS_ROUTE + "/batch", status="200") == 1
    )
    assert delta("chaosiq_http_request_duration_seconds_count", method="POST", route=EVENTS_ROUTE) == 5
    assert delta("chaosiq_events_ingested_total") == 8  # the repeated id is not counted
    assert delta("chaosiq_ingest_errors_total", route=EVENTS_ROUTE, status="400") == 1
    assert delta("chaosiq_http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    assert value(after, "chaosiq_executions_running") >= 1
    assert "chaosiq_db_pool_connections_in_use" in after
    # Bounded labels: no id of a request is a label value.
    assert xid not in after and a.org_id not in after and a.team_id not in after

    ended = {**journal({}), "status": "completed"}
    running = value(after, "chaosiq_executions_running")
    assert c.put(x, json={"journal": ended}, headers=a.headers).status_code in (200, 204)
    assert value(c.get("/metrics").text, "chaosiq_executions_running") == running - 1


def test_ready_fails_when_the_schema_is_not_the_code_s(env: Any) -> None:
    assert env.client.get("/ready").status_code == 200
    engine = create_engine(env.url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_newer'"))
    engine.dispose()
    r = env.client.get("/ready")
    assert (
        r.status_code == 503
        and r.json()["status"] == "schema-mismatch"
        and "0099_newer" in r.json()["detail"]
    )
    assert env.client.get("/health").status_code == 200  # alive all the same


def test_metrics_add_up_across_workers(sqlite_url: str, tmp_path: Path) -> None:
    """serve --workers 2: whichever worker answers the scrape, it counts every
    worker's events (prometheus-client's multiprocess mode, set up by serve)."""
    a, _ = seed(sqlite_url)
    served = start_server(sqlite_url, tmp_path / "server.log", "--workers", "2")
    try:
        with httpx.Client(base_url=served.base, headers=a.headers, timeout=30) as c:
            x, _ = _run(c, a)

        def post(n: int) -> None:
            # A connection each: the kernel spreads them over the workers.
            for i in range(20):
                with httpx.Client(base_url=served.base, headers={**a.headers, **CE_HEADERS}, timeout=30) as c:
                    r = c.post(f"{x}/events", content=json.dumps(cloud_event("e", event_id=f"{n}-{i}")))
                    assert r.status_code == 201

        threads = [threading.Thread(target=post, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for _ in range(6):  # every scrape, whichever worker answers it
            body = httpx.get(served.base + "/metrics", timeout=10).text
            assert value(body, "chaosiq_events_ingested_total") == 80
            assert (
                value(body, "chaosiq_http_requests_total", method="POST", route=EVENTS_ROUTE, status="201")
                == 80
            )
    finally:
        stop_server(served)
