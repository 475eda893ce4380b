"""The CloudEvents envelope: the original's structured mode, checked by the SDK's parser."""

from __future__ import annotations

import datetime as dt
import json
import time as _time
from typing import Any

from chaosiq_publisher import events as ev
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from chaosiq_core.serialize import dumps


def encode_data(context: Any, state: Any) -> str:
    """An event's ``data`` string, as the publisher makes it."""
    return dumps({"context": context, "state": state})


def envelope(event_type: str, data: str, *, event_id: str, time: str) -> dict:
    """The reference: a structured-mode CloudEvent written out as a dict."""
    return {"specversion": "1.0", "id": event_id, "source": "chaosiq-cloud", "type": event_type,
            "datacontenttype": "application/json", "time": time, "data": data}  # fmt: skip


def iso_time(timestamp: float) -> str:
    """The reference time text: the local time of ``timestamp`` with its UTC offset."""
    return dt.datetime.fromtimestamp(timestamp).astimezone().isoformat()


def test_envelope_is_structured_mode_with_data_as_a_json_string() -> None:
    data = encode_data({"name": "probe"}, {"status": "succeeded"})
    text = ev.envelope("activity-finished", data, ev.new_id(), _time.time())
    body = json.loads(text)
    parsed = JSONFormat().read(CloudEvent, text)
    assert parsed.get_type() == "activity-finished"
    assert parsed.get_source() == "chaosiq-cloud"
    assert body["specversion"] == "1.0" and body["datacontenttype"] == "application/json"
    assert isinstance(body["data"], str)  # double encoding, as the original
    assert json.loads(body["data"]) == {"context": {"name": "probe"}, "state": {"status": "succeeded"}}
    assert dt.datetime.fromisoformat(body["time"]).utcoffset() is not None


def test_ids_are_unique_uuids() -> None:
    ids = {ev.new_id() for _ in range(1000)}
    assert len(ids) == 1000


def test_data_never_fails_on_odd_values() -> None:
    class Odd:
        def __str__(self) -> str:
            return "odd"

    data = json.loads(encode_data({"when": dt.datetime(2020, 1, 1), "o": Odd()}, {1, 2}))
    assert data["context"] == {"when": "2020-01-01T00:00:00", "o": "odd"}
    assert sorted(data["state"]) == [1, 2]


def test_envelope_text_is_the_envelope_the_sdk_reads() -> None:
    data = encode_data({"name": 'pr"obe', "unicode": "é ✓", "ctl": "\n\t\x01"}, {"status": "succeeded"})
    stamp = 1_795_773_600.000001
    text = ev.envelope("activity-finished", data, "an-id", stamp)
    body = envelope("activity-finished", data, event_id="an-id", time=json.loads(text)["time"])
    assert dt.datetime.fromisoformat(body["time"]) == dt.datetime.fromisoformat(iso_time(stamp))
    assert json.loads(text) == body
    assert list(json.loads(text)) == list(body)  # same members, same order
    parsed = JSONFormat().read(CloudEvent, text)
    assert parsed.get_id() == "an-id" and parsed.get_type() == "activity-finished"
    assert json.loads(json.loads(text)["data"])["context"]["ctl"] == "\n\t\x01"


def test_ids_are_uuid4_and_times_always_carry_microseconds_and_the_offset() -> None:
    import uuid

    assert uuid.UUID(ev.new_id()).version == 4
    for stamp in (1_790_000_000.0, 1_790_000_000.25, 1_790_000_000.999999, 1_700_000_000.123456):
        ours = dt.datetime.fromisoformat(ev.iso_time(stamp))
        theirs = dt.datetime.fromisoformat(iso_time(stamp))
        assert ours == theirs and ours.utcoffset() == theirs.utcoffset()
    assert ".000000" in ev.iso_time(1_790_000_000.0)  # always microseconds: one fixed shape
