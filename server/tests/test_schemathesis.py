"""Property-based tests from the served OpenAPI document (bounded: a few examples
per operation and mode).

* positive data (what the document allows) is accepted (no 400/422);
* negative data (what it forbids: wrong types, missing members, too long, …) is
  refused with a 4xx;
* never a 500, and every response conforms to the document.

Two runs: schemathesis's coverage phase (deterministic: each property's
boundaries, and each property of each other JSON type, e.g. ``"allowed": 0``),
then random (fuzzed) examples.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)
from server_helpers import Env, experiment, journal, make_env

MAX_EXAMPLES = 10  # per operation and mode: ~30 operations x 2 modes, about a minute
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    positive_data_acceptance,
    negative_data_rejection,
]

# A team policy's body has rules a JSON schema here does not state: which fields go with
# which kind, a time zone that exists, a window that does not start when it ends, a name
# unique in the team (422/409, tested in test_team_policies.py). Every other check runs.
CROSS_FIELD = {
    "/api/v1/organizations/{org}/teams/{team}/policies",
    "/api/v1/organizations/{org}/teams/{team}/policies/{pid}",
}
CROSS_FIELD_CHECKS = [c for c in CHECKS if c is not positive_data_acceptance]


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


def _call(case: Any, env: Env, ids: dict[str, str], positive: bool, keep: str | None = None) -> None:
    """Send ``case`` at real resources (so bodies get past the 404s) and run the checks;
    ``keep``: a path parameter the case got wrong on purpose."""
    for key, value in ids.items():
        if case.path_parameters and key in case.path_parameters and key != keep:
            case.path_parameters[key] = value
    if positive and case.query:
        # a cursor is an opaque token the server hands out: no document can say
        # which strings are valid ones (any other is a 400), so none is made up
        case.query.pop("cursor", None)
    checks = CROSS_FIELD_CHECKS if case.operation.path in CROSS_FIELD else CHECKS
    case.call_and_validate(headers=env.a.headers, checks=checks)


def _test_of(op: Any, mode: GenerationMode, env: Env, ids: dict[str, str]) -> Any:
    """The hypothesis test of one operation in one generation mode."""

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def check(case: Any) -> None:
        _call(case, env, ids, mode is GenerationMode.POSITIVE)

    return check


def test_openapi_coverage_phase(api):
    env, ids = api
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", env.client.app)
    failures: list[str] = []
    cases = 0
    for result in schema.get_all_operations():
        op = result.ok()
        generation = schema.config.generation_for(operation=op)
        modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
        for case in schema.iter_coverage_cases(op, generation_modes=modes, generation_config=generation):
            cases += 1
            data = case.meta.phase.data
            keep = data.parameter if data.parameter_location == ParameterLocation.PATH else None
            try:
                _call(case, env, ids, case.meta.generation.mode is GenerationMode.POSITIVE, keep)
            except BaseException as exc:  # every case's failure (groups too), then report
                if isinstance(exc, KeyboardInterrupt):
                    raise
                failures.append(f"{op.label} ({data.description}): {exc}")
    assert cases > 500
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures[:15])


def test_openapi_conformance(api):
    env, ids = api
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", env.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    failures: list[str] = []
    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _test_of(op, mode, env, ids)()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, op.label  # nothing to get wrong (no input)
            except BaseException as exc:  # every operation's failures (groups too), then report
                if isinstance(exc, KeyboardInterrupt):
                    raise
                failures.append(f"{op.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)
