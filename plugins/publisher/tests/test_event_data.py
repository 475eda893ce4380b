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
