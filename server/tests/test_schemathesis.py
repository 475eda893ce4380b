"""Property-based tests from the served OpenAPI document: never a 500, and
every response conforms to the document (bounded: a few examples per operation)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from server_helpers import Env, experiment, journal, make_env

MAX_EXAMPLES = 12
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


@pytest.fixture
def api(tmp_path) -> Iterator[tuple[Any, Env, dict[str, str]]]:
    for env in make_env(f"sqlite:///{tmp_path / 'st.db'}"):
        c, a = env.client, env.a
        eid = c.post(f"{a.base}/experiments", json={"experiment": experiment()}, headers=a.headers).json()[
            "id"
        ]
        xid = c.post(
            f"{a.base}/experiments/{eid}/executions", json={"journal": journal({})}, headers=a.headers
        ).json()["id"]
        rid = c.post(f"{a.base}/verifications/v1/runs", json={"status": "started"}, headers=a.headers).json()[
            "id"
        ]
        ids = {"org": a.org_id, "team": a.team_id, "eid": eid, "xid": xid, "vid": "v1", "rid": rid}
        yield env, ids


def test_openapi_conformance(api):
    env, ids = api
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", env.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    failures: list[str] = []
    for op in operations:

        @given(case=op.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def check(case: Any) -> None:
            # Aim examples at real resources so bodies get past the 404s.
            for key, value in ids.items():
                if case.path_parameters and key in case.path_parameters:
                    case.path_parameters[key] = value
            case.call_and_validate(headers=env.a.headers, checks=CHECKS)

        try:
            check()
        except Exception as exc:  # collect all operations' failures, then report
            failures.append(f"{op.label}: {exc}")
    assert not failures, "\n\n".join(failures)
