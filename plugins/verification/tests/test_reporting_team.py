"""Unit tests of the server side: the verification run record, its messages, and team switching."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests_mock as rm
from chaosiq_verification.reporting import ServerReporter
from chaosiq_verification.spec import InvalidVerification, VerificationSpec
from chaosiq_verification.team import NO_ACCESS, WRONG_ORG, switch_team

from chaosiq_core import hookimpl
from chaosiq_core.api import ApiClient
from chaosiq_core.manager import make_hooks
from chaosiq_core.run import Run
from chaosiq_core.types import Outgoing, Scope

URL = "https://chaosiq.example.com"
TOKEN = "s3cr3t-token-value"
SCOPE = Scope("org1", "team1")
TEAM = f"{URL}/api/v1/organizations/org1/teams/team1"
SPEC = VerificationSpec(id="v1", frequency=1, duration_of_conditions=1)


class Sink:
    """A stand-in publisher: records what it is asked to deliver."""

    def __init__(self) -> None:
        self.messages: list[Outgoing] = []

    @hookimpl
    def chaosiq_deliver(self, run: Run, message: Outgoing) -> bool:
        self.messages.append(message)
        return True


def _run(sink: Sink | None, settings: dict[str, Any] | None = None) -> Run:
    hooks = make_hooks(settings or {}, load_entrypoints=False, plugins={"sink": sink} if sink else None)
    client = ApiClient(URL, TOKEN, scope=SCOPE)
    experiment = {"title": "t", "secrets": {"s": {"password": "hunter2-secret"}}}
    return Run(settings=settings or {}, experiment=experiment, hooks=hooks, client=client)


def _wait(event: threading.Event | None, seconds: float) -> bool:
    return bool(event and event.wait(seconds))


def test_run_created_after_execution_then_events_and_results_delivered(requests_mock: rm.Mocker) -> None:
    sink = Sink()
    run = _run(sink)
    run.set_execution(experiment_id="e1", execution_id="x1")
    requests_mock.post(f"{TEAM}/verifications/v1/runs", status_code=201, json={"id": "r1"})
    reporter = ServerReporter(run, SPEC)
    reporter.start({"status": None}, _wait)
    assert reporter.run_id == "r1"
    sent = requests_mock.request_history[0]
    assert sent.json() == {
        "journal": {"status": None},
        "status": "started",
        "experiment_id": "e1",
        "execution_id": "x1",
    }
    assert sent.timeout == (3.05, 5.0)

    reporter.event("verification-sample", {"iteration": 1, "state": {"steady_state_met": True}})
    reporter.event("verification-sampling-completed")
    reporter.finished({"status": "completed", "note": "hunter2-secret"}, {"successful_samples": 1})
    paths = [m.path for m in sink.messages]
    assert paths == ["/verifications/v1/runs/r1/events"] * 3 + ["/verifications/v1/runs/r1/finished"]
    assert sink.messages[0].json == {
        "category": "verification-sample",
        "payload": {"iteration": 1, "state": {"steady_state_met": True}},
    }
    assert sink.messages[1].json == {"category": "verification-sampling-completed"}
    assert sink.messages[2].json["category"] == "verification-completed"
    final = sink.messages[3].json
    assert final["status"] == "completed" and final["results"] == {"successful_samples": 1}
    assert "hunter2-secret" not in str(final)  # secret values are redacted
    assert len(requests_mock.request_history) == 1  # events never go over the run thread's connection


def test_without_a_publisher_nothing_is_sent(requests_mock: rm.Mocker) -> None:
    run = _run(None)
    reporter = ServerReporter(run, SPEC)
    reporter.start({}, _wait)
    reporter.event("verification-sample", {})
    assert reporter.run_id is None and "publish" in (reporter.reason or "")
    assert requests_mock.request_history == []


def test_execution_wait_is_bounded_and_a_refusal_is_one_warning(
    requests_mock: rm.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    sink = Sink()
    run = _run(sink)
    requests_mock.post(f"{TEAM}/verifications/v1/runs", status_code=422, json={"detail": "no"})
    reporter = ServerReporter(run, SPEC, execution_wait=0.1)
    reporter.start({}, _wait)
    assert reporter.run_id is None and "could not be created" in (reporter.reason or "")
    assert requests_mock.request_history[0].json()["execution_id"] is None
    reporter.finished({}, {})
    assert sink.messages == []
    assert TOKEN not in caplog.text


def test_a_server_error_at_the_start_queues_the_run_under_its_own_id(
    requests_mock: rm.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    sink = Sink()
    run = _run(sink)
    requests_mock.post(f"{TEAM}/verifications/v1/runs", status_code=500, json={"detail": "boom"})
    reporter = ServerReporter(run, SPEC, execution_wait=0.1)
    reporter.start({"status": "running"}, _wait)
    rid = reporter.run_id
    assert rid and reporter.offline and reporter.reason is None
    reporter.event("verification-started")
    reporter.finished({"status": "completed"}, {"total_number_of_samples": 0})
    start, event, completed, done = sink.messages
    assert (start.method, start.path) == ("PUT", f"/verifications/v1/runs/{rid}")
    assert start.json["status"] == "started" and not start.with_execution
    assert event.path == completed.path == f"/verifications/v1/runs/{rid}/events"
    assert done.path.endswith(f"/runs/{rid}/finished") and done.with_execution
    assert "queued and sent when it answers" in caplog.text and TOKEN not in caplog.text


# ---------------------------------------------------------------- team switch


def _settings(team_id: str = "team1") -> dict[str, Any]:
    return {
        "auths": {"chaosiq.example.com": {"type": "bearer", "value": TOKEN}},
        "controls": {
            "chaosiq-cloud": {
                "provider": {
                    "type": "python",
                    "module": "chaosiq_core.control",
                    "arguments": {
                        "url": URL,
                        "verify_tls": True,
                        "organizations": [
                            {
                                "id": "org1",
                                "name": "o",
                                "default": True,
                                "teams": [{"id": team_id, "name": "t", "default": True}],
                            }
                        ],
                    },
                }
            }
        },
    }


def _hooks(settings: dict[str, Any]):
    return make_hooks(settings, load_entrypoints=False)


def test_same_team_makes_no_call(requests_mock: rm.Mocker) -> None:
    settings = _settings()
    assert switch_team(settings, "team1", _hooks(settings)) is False
    assert requests_mock.request_history == []


def test_switches_team_in_memory(requests_mock: rm.Mocker) -> None:
    from chaosiq_core import settings as s

    settings = _settings()
    requests_mock.get(
        f"{URL}/api/v1/organizations/org1/teams/team2",
        json={"id": "team2", "name": "other", "org_id": "org1"},
    )
    assert switch_team(settings, "team2", _hooks(settings)) is True
    assert s.default_team(s.default_org(settings))["id"] == "team2"
    assert requests_mock.request_history[0].headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (404, {"detail": "team not found"}, NO_ACCESS),
        (403, {}, NO_ACCESS),
        (200, {"id": "team2", "org_id": "org9"}, WRONG_ORG),
    ],
)
def test_refused_team_is_a_clear_error(
    requests_mock: rm.Mocker, status: int, body: dict, message: str
) -> None:
    settings = _settings()
    requests_mock.get(f"{URL}/api/v1/organizations/org1/teams/team2", status_code=status, json=body)
    with pytest.raises(InvalidVerification) as err:
        switch_team(settings, "team2", _hooks(settings))
    assert str(err.value) == message


def test_unreachable_server_keeps_the_active_team(requests_mock: rm.Mocker) -> None:
    import requests

    settings = _settings()
    requests_mock.get(f"{URL}/api/v1/organizations/org1/teams/team2", exc=requests.exceptions.ConnectionError)
    assert switch_team(settings, "team2", _hooks(settings)) is False


def test_the_token_never_goes_over_plain_http_without_consent(requests_mock: rm.Mocker) -> None:
    """A server signed in to with TLS verification on (no ``--insecure``) reached over plain
    HTTP: the team check refuses to send the token, as every other request does."""
    from chaosiq_core.errors import InsecureURLError

    settings = _settings()
    settings["controls"]["chaosiq-cloud"]["provider"]["arguments"]["url"] = "http://chaosiq.example.com"
    settings["auths"] = {"chaosiq.example.com": {"type": "bearer", "value": TOKEN}}
    with pytest.raises(InsecureURLError, match="plain HTTP"):
        switch_team(settings, "team2", _hooks(settings))
    assert requests_mock.request_history == []
