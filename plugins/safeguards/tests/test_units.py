"""Unit tests of the verdict logic (server answers with requests-mock, rollback strategy, journal)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from chaosiq_safeguards.guard import combine, journal_safeguards
from chaosiq_safeguards.options import Options
from chaosiq_safeguards.rollbacks import install, restore
from chaosiq_safeguards.server import ServerPolicies, verdict_from_policies

from chaosiq_core.api import ApiClient
from chaosiq_core.manager import make_hooks
from chaosiq_core.run import Run
from chaosiq_core.types import Scope, Verdict

URL = "http://127.0.0.1:9"
POLICIES = f"{URL}/api/v1/organizations/o/teams/t/experiments/e/executions/x/policies"


def _run() -> Run:
    run = Run(
        settings={},
        experiment={},
        hooks=make_hooks({}, load_entrypoints=False),
        client=ApiClient(URL, "tok", scope=Scope("o", "t")),
    )
    run.set_execution(experiment_id="e", execution_id="x")
    return run


def test_policies_verdicts() -> None:
    assert verdict_from_policies({"policies": []}).decision == "allow"  # `allowed` missing → allowed
    v = verdict_from_policies(
        {
            "allowed": False,
            "policies": [
                {"name": "ok", "allowed": True},
                {"name": "freeze", "allowed": False, "reason": "R"},
            ],
        }
    )
    assert v.stops and v.source == "server" and v.reason == "freeze: R"
    assert journal_safeguards([v]) == [
        {"name": "freeze", "allowed": False, "reason": "R", "source": "server"}
    ]


def test_fail_open_warns_once_per_outage(requests_mock: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="chaostoolkit.chaosiq.safeguards")
    source = ServerPolicies(_run(), Options())
    requests_mock.get(POLICIES, status_code=500)
    assert [source.vote() for _ in range(5)] == [None] * 5
    requests_mock.get(POLICIES, json={"allowed": True, "policies": []})
    assert source.vote().decision == "allow"
    requests_mock.get(POLICIES, status_code=500)
    source.vote()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2  # two outages, one line each
    assert "tok" not in caplog.text


def test_fail_closed_stops_after_the_delay(requests_mock: Any) -> None:
    source = ServerPolicies(_run(), Options(on_error="fail-closed", fail_closed_after=0.0))
    requests_mock.get(POLICIES, status_code=503)
    verdict = source.vote()
    assert verdict is not None and verdict.stops and "fail-closed" in verdict.reason
    later = ServerPolicies(_run(), Options(on_error="fail-closed", fail_closed_after=60))
    assert later.vote() is None


@pytest.mark.parametrize(
    ("user", "option", "after_stop"),
    [("default", "play", "always"), ("never", "play", "never"), ("always", "skip", "never")],
)
def test_rollback_strategy_follows_the_option(user: str, option: str, after_stop: str) -> None:
    stopped = {"v": False}
    settings: dict[str, Any] = {"runtime": {"rollbacks": {"strategy": user}}}
    original = install(settings, option, lambda: stopped["v"])
    strategy = settings["runtime"]["rollbacks"]["strategy"]
    assert strategy == user and f"{strategy}" == user
    stopped["v"] = True
    assert strategy == after_stop
    restore(settings, original)
    assert type(settings["runtime"]["rollbacks"]["strategy"]) is str


def test_combined_stop_names_every_source() -> None:
    v = combine([Verdict.stop("server", "a"), Verdict.stop("probe:p", "b")])
    assert v.source == "server, probe:p" and v.reason == "server: a; probe:p: b"
