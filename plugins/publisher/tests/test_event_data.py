"""What the server receives for a run's events and journal is what the full redaction walk gives.

Each event's ``data`` is ``{"context", "state"}`` redacted and encoded once;
the tests compare what reached the (mocked) server with
``Redactor.__call__`` (a redacted copy made node by node), for chaostoolkit-lib's
run records and for documents that are not, and check that a document changed
during the run is sent as it is when its event is encoded.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests_mock as rm
from chaosiq_publisher.worker import Publisher
from mocked import make_run, sent_events

from chaosiq_core.redaction import MARKER
from chaosiq_core.testing import wait_until

SECRET = "inline-pw-value"  # a literal of make_run's experiment secrets


def activity(**arguments: Any) -> dict[str, Any]:
    arguments = {"path": "/", **arguments}
    provider = {"type": "python", "module": "os.path", "func": "exists", "arguments": arguments}
    return {"type": "action", "name": "a", "provider": provider}


def record(act: dict[str, Any], **members: Any) -> dict[str, Any]:
    """chaostoolkit-lib's run record: it holds a (shallow) copy of the activity."""
    base = {"activity": act.copy(), "output": True, "start": "2026-11-27T10:00:00", "status": "succeeded",
            "end": "2026-11-27T10:00:01", "duration": 1.0}  # fmt: skip
    return {**base, **members}


CASES = {
    "plain": (activity(), lambda a: record(a)),
    "secret value in the output": (activity(), lambda a: record(a, output=f"got {SECRET}!")),
    "secret value in a traceback": (
        activity(),
        lambda a: record(a, status="failed", exception=[f"E {SECRET}"]),
    ),
    "sensitive key in the output": (activity(), lambda a: record(a, output={"Password": "pw-123456"})),
    "sensitive argument": (activity(api_key="k-123456"), lambda a: record(a)),
    "secret value in an argument": (activity(url=f"http://x/?q={SECRET}"), lambda a: record(a)),
    "unknown member": (activity(), lambda a: record(a, token="t-123456")),
    "another activity": (activity(), lambda a: record(activity(path="/tmp"))),
    "not a run record": (activity(), lambda a: {"status": "succeeded", "activity": None}),
}


def publisher(experiment: dict[str, Any] | None = None) -> Publisher:
    """A started publisher; its run's loaded secrets hold ``SECRET``."""
    run = make_run(flush_deadline=5)
    if experiment is not None:
        run.experiment = experiment
    run.secrets = {"s": {"password": SECRET}}
    pub = Publisher(run)
    pub.start()
    assert run.execution_ready.wait(5)
    return pub


def data(server: rm.Mocker, event_type: str) -> list[Any]:
    return [json.loads(e["data"]) for e in sent_events(server) if e["type"] == event_type]


def everything(server: rm.Mocker) -> str:
    return "".join(r.text or "" for r in server.request_history)


@pytest.mark.parametrize("name", CASES)
def test_activity_events_carry_what_the_full_walk_gives(server: rm.Mocker, data_dir: Any, name: str) -> None:
    act, make_state = CASES[name]
    state = make_state(act)
    pub = publisher()
    pub.enqueue("starting-activity", act, None)
    pub.enqueue("activity-finished", act, state)
    pub.finish(None)
    assert data(server, "starting-activity") == [{"context": pub.redact(act), "state": None}]
    assert data(server, "activity-finished") == [{"context": pub.redact(act), "state": pub.redact(state)}]
    assert SECRET not in everything(server)


def test_redacted_values_are_markers(server: rm.Mocker, data_dir: Any) -> None:
    act = activity()
    pub = publisher()
    pub.enqueue("activity-finished", act, record(act, output=f"got {SECRET}!"))
    pub.finish(None)
    (finished,) = data(server, "activity-finished")
    assert finished["state"]["output"] == f"got {MARKER}!"


def declared(n: int) -> dict[str, Any]:
    acts = [{**activity(), "name": f"a{i}"} for i in range(n)]
    return {"title": "t", "method": acts, "rollbacks": [{**activity(), "name": "rb"}]}


@pytest.mark.parametrize("name", CASES)
def test_method_and_journal_carry_what_the_full_walk_gives(
    server: rm.Mocker, data_dir: Any, name: str
) -> None:
    act, make_state = CASES[name]
    experiment = declared(3)
    experiment["method"].append(act)
    pub = publisher(experiment)
    runs = [record(a) for a in experiment["method"][:3]] + [make_state(act)]
    rollbacks = [record(experiment["rollbacks"][0])]
    for r in runs:  # as in a run: each activity-finished comes before the lists that hold it
        pub.enqueue("activity-finished", r.get("activity"), r)
    pub.enqueue("method-finished", experiment, runs)
    journal = {"chaoslib-version": "1.44.0", "experiment": experiment.copy(), "status": "completed",
               "steady_states": {"before": None, "after": None, "during": []}, "run": runs,
               "rollbacks": rollbacks, "node": f"host-{SECRET}"}  # fmt: skip
    pub.enqueue_final(experiment, journal)
    pub.finish(journal)
    (method,) = data(server, "method-finished")
    assert method["state"] == pub.redact(runs)
    (finished,) = data(server, "experiment-finished")
    put = [r for r in server.request_history if r.method == "PUT"][-1].json()["journal"]
    assert finished["state"] == put == pub.redact(journal)
    assert SECRET not in everything(server)


def test_a_record_changed_after_its_event_is_sent_as_it_is_now(server: rm.Mocker, data_dir: Any) -> None:
    act = activity()
    run = record(act)
    pub = publisher()
    pub.enqueue("activity-finished", act, run)
    wait_until(lambda: len(pub.sender.pending) + pub.sender.delivered >= 1, timeout=5)
    run["status"], run["output"] = "failed", f"now with {SECRET}"
    pub.enqueue("method-finished", {"title": "t"}, [run])
    pub.finish(None)
    (method,) = data(server, "method-finished")
    assert method["state"] == [{**pub.redact(run), "status": "failed", "output": f"now with {MARKER}"}]


def test_a_change_deep_inside_the_experiment_is_sent(server: rm.Mocker, data_dir: Any) -> None:
    """An activity changed in place during the run (by a control, say): its later events and the
    lists and journal that hold it say so, and a sensitive key added deep inside is redacted."""
    experiment = declared(1)
    act = experiment["method"][0]
    pub = publisher(experiment)
    pub.enqueue("starting-activity", act, None)
    first = record(act)
    pub.enqueue("activity-finished", act, first)
    pub.enqueue("method-finished", experiment, [first])
    # wait until those are encoded, so that what follows is a change after them
    wait_until(lambda: len(pub.sender.pending) + pub.sender.delivered >= 3, timeout=5)
    act["provider"]["arguments"]["api_key"] = "k-added-later"
    act["provider"]["arguments"]["path"] = "/changed"
    pub.enqueue("starting-activity", act, None)
    second = record(act)
    pub.enqueue("activity-finished", act, second)
    pub.enqueue("method-finished", experiment, [first, second])
    journal = {"experiment": experiment, "run": [first, second], "rollbacks": [], "status": "completed"}
    pub.enqueue_final(experiment, journal)
    pub.finish(journal)
    assert "k-added-later" not in everything(server)
    started = [d["context"]["provider"]["arguments"] for d in data(server, "starting-activity")]
    assert started[-1] == {"path": "/changed", "api_key": MARKER}
    (_, method) = data(server, "method-finished")
    assert [r["activity"]["provider"]["arguments"]["path"] for r in method["state"]] == ["/changed"] * 2
    (finished,) = data(server, "experiment-finished")
    assert finished["state"]["experiment"]["method"][0]["provider"]["arguments"]["path"] == "/changed"
