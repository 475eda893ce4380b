"""An activity event's ``data`` is what the full redaction walk gives, on its fast path too.

``Publisher._data`` encodes a clean activity and chaostoolkit-lib's run record
of it in one pass, testing only secret *values* (the record's keys are
chaostoolkit-lib's own); anything else goes through the walk. Both must send
the same document.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from chaosiq_publisher import events as ev
from chaosiq_publisher.worker import Publisher, _plain_run
from test_worker import make_run

from chaosiq_core.redaction import MARKER

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
}


@pytest.fixture
def pub() -> Publisher:
    return Publisher(make_run())


@pytest.mark.parametrize("name", CASES)
def test_activity_events_carry_what_the_full_walk_gives(pub: Publisher, name: str) -> None:
    act, make_state = CASES[name]
    state = make_state(act)
    for event_type, st in ((ev.STARTING_ACTIVITY, None), (ev.ACTIVITY_FINISHED, state)):
        text = pub._data(event_type, act, st)
        assert json.loads(text) == {"context": pub.redact(act), "state": pub.redact(st)}, event_type
        assert SECRET not in text


def test_only_plain_run_records_take_the_fast_path() -> None:
    act = activity()
    assert _plain_run(record(act), act)
    assert _plain_run(record(act, status="failed", exception=["Traceback", "ValueError"]), act)
    assert not _plain_run(record(act, output={"a": 1}), act)  # a document: keys to test
    assert not _plain_run(record(act, exception=[{"x": 1}]), act)
    assert not _plain_run(record(act, extra=1), act)  # a member chaostoolkit-lib does not write
    assert not _plain_run(record(activity(path="/tmp")), act)  # the record of another activity
    assert not _plain_run(None, act)


def test_redacted_values_in_the_fast_path_are_markers(pub: Publisher) -> None:
    act = activity()
    data = json.loads(pub._data(ev.ACTIVITY_FINISHED, act, record(act, output=f"got {SECRET}!")))
    assert data["state"]["output"] == f"got {MARKER}!"


# ------------------------------------------ the lists and the journal that hold the records again


def run_with(experiment: dict[str, Any]) -> Publisher:
    """A publisher whose run's secrets are loaded ones (``SECRET``), the experiment as given."""
    run = make_run()
    run.experiment, run.secrets = experiment, {"s": {"password": SECRET}}
    return Publisher(run)


def declared(n: int) -> dict[str, Any]:
    acts = [{**activity(), "name": f"a{i}"} for i in range(n)]
    return {"title": "t", "method": acts, "rollbacks": [{**activity(), "name": "rb"}]}


def full_walk(pub: Publisher, doc: Any) -> Any:
    return pub.redact(doc)


@pytest.mark.parametrize("warm", [True, False], ids=["after-activity-events", "alone"])
@pytest.mark.parametrize("name", CASES)
def test_method_and_journal_carry_what_the_full_walk_gives(data_dir: Any, name: str, warm: bool) -> None:
    act, make_state = CASES[name]
    experiment = declared(3)
    experiment["method"].append(act)
    pub = run_with(experiment)
    pub._open_log()
    runs = [record(a) for a in experiment["method"][:3]] + [make_state(act)]
    rollbacks = [record(experiment["rollbacks"][0])]
    if warm:  # as in a run: each activity-finished is encoded before the lists that hold it
        for r in runs:
            pub._data(ev.ACTIVITY_FINISHED, r["activity"], r)
    method = pub._data(ev.METHOD_FINISHED, experiment, runs)
    assert json.loads(method)["state"] == full_walk(pub, runs)
    journal = {"chaoslib-version": "1.44.0", "experiment": experiment.copy(), "status": "completed",
               "steady_states": {"before": None, "after": None, "during": []}, "run": runs,
               "rollbacks": rollbacks, "node": f"host-{SECRET}"}  # fmt: skip
    text, _ = pub._journal_text(journal)
    assert json.loads(text) == full_walk(pub, journal)
    assert SECRET not in method and SECRET not in text
    if name == "plain":  # the texts made for the events, spliced in (they come last)
        assert list(json.loads(text))[-3:] == ["experiment", "run", "rollbacks"]
    pub.log.close(delete=True)


def test_a_record_changed_after_its_event_is_sent_as_it_is_now(pub: Publisher) -> None:
    act = activity()
    run = record(act)
    pub._data(ev.ACTIVITY_FINISHED, act, run)
    run["status"], run["output"] = "failed", f"now with {SECRET}"
    state = json.loads(pub._data(ev.METHOD_FINISHED, {"title": "t"}, [run]))["state"]
    assert state == [{**full_walk(pub, run), "status": "failed", "output": f"now with {MARKER}"}]


def test_activities_of_a_clean_experiment_are_not_tested_again(data_dir: Any) -> None:
    """The experiment's text needed no redaction before the run: neither do its activities,
    nor the copies chaostoolkit-lib makes of them (still encoded, not scanned again)."""
    experiment = declared(2)
    pub = run_with(experiment)
    pub._open_log()
    scanned: list[str] = []
    original = pub.redact.encode
    pub.redact.encode = lambda doc: (scanned.append(doc.get("name")), original(doc))[1]  # type: ignore[method-assign]
    act = experiment["method"][0]
    assert json.loads(pub._data(ev.STARTING_ACTIVITY, act, None)) == {"context": act, "state": None}
    copy = act.copy()
    assert json.loads(pub._data(ev.ACTIVITY_FINISHED, act, record(act)))["state"]["activity"] == copy
    assert scanned == []
    other = {**activity(), "name": "added-during-the-run"}
    pub._data(ev.STARTING_ACTIVITY, other, None)
    assert scanned == ["added-during-the-run"]
    pub.log.close(delete=True)


def test_lists_of_other_records_are_encoded_in_full(pub: Publisher) -> None:
    """A method's list may hold what is not chaostoolkit-lib's record of an activity."""
    act = activity()
    runs = [{"status": "succeeded"}, record(act), None, {"activity": None, "status": "failed"}]
    data = json.loads(pub._data(ev.METHOD_FINISHED, {"title": "t"}, runs))
    assert "error" not in data
    assert data["state"] == full_walk(pub, runs)
