"""A publisher's run against a mocked ChaosIQ server (requests-mock), for the in-process tests."""

from __future__ import annotations

from typing import Any

import requests_mock as rm

from chaosiq_core.api import ApiClient
from chaosiq_core.manager import make_hooks
from chaosiq_core.run import Run
from chaosiq_core.types import Scope

URL = "http://chaosiq.test:8080"
TEAM = f"{URL}/api/v1/organizations/o/teams/t"
EXEC = f"{TEAM}/experiments/E/executions/X"


def make_run(url: str = URL, **options: Any) -> Run:
    settings = {"controls": {"chaosiq-cloud": {"options": {"publish": {"flush_deadline": 0.5, **options}}}}}
    client = ApiClient(url, "tok", scope=Scope("o", "t"), allow_insecure_http=True, verify_tls=False)
    experiment = {"title": "t", "secrets": {"s": {"password": "inline-pw-value"}}, "method": []}
    return Run(settings=settings, experiment=experiment, hooks=make_hooks({}, load_entrypoints=False),
               client=client)  # fmt: skip


def mock_server(requests_mock: rm.Mocker) -> rm.Mocker:
    """An original server's routes (two requests to create an execution) plus ``events-batch``."""
    requests_mock.get(f"{URL}/api/v1/capabilities", json={"capabilities": ["events-batch"]})
    requests_mock.post(f"{TEAM}/executions", status_code=404)  # an original server: two requests
    requests_mock.post(f"{TEAM}/experiments", status_code=201, json={"id": "E"})
    requests_mock.post(f"{TEAM}/experiments/E/executions", status_code=201, json={"id": "X"},
                       headers={"Content-Location": EXEC})  # fmt: skip
    requests_mock.post(f"{EXEC}/events/batch", json={})
    requests_mock.post(f"{EXEC}/events", status_code=201, json={})
    requests_mock.put(EXEC, status_code=204)
    return requests_mock


def sent_events(server: rm.Mocker) -> list[dict]:
    out: list[dict] = []
    for r in server.request_history:
        if r.path.endswith("/events/batch"):
            out.extend(r.json())
        elif r.path.endswith("/events"):
            out.append(r.json())
    return out
