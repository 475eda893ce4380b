"""The CloudEvents envelope: the original's structured mode, checked by the SDK's parser."""

from __future__ import annotations

import datetime as dt
import json

from chaosiq_publisher import events as ev
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent


def test_envelope_is_structured_mode_with_data_as_a_json_string() -> None:
    body = ev.envelope(ev.ACTIVITY_FINISHED, ev.encode_data({"name": "probe"}, {"status": "succeeded"}))
    parsed = JSONFormat().read(CloudEvent, json.dumps(body))
    assert parsed.get_type() == "activity-finished"
    assert parsed.get_source() == "chaosiq-cloud"
    assert body["specversion"] == "1.0" and body["datacontenttype"] == "application/json"
    assert isinstance(body["data"], str)  # double encoding, as the original
    assert json.loads(body["data"]) == {"context": {"name": "probe"}, "state": {"status": "succeeded"}}
    assert dt.datetime.fromisoformat(body["time"]).utcoffset() is not None


def test_ids_are_unique_uuids() -> None:
    ids = {ev.envelope("x", "{}")["id"] for _ in range(1000)}
    assert len(ids) == 1000


def test_data_never_fails_on_odd_values() -> None:
    class Odd:
        def __str__(self) -> str:
            return "odd"

    data = json.loads(ev.encode_data({"when": dt.datetime(2020, 1, 1), "o": Odd()}, {1, 2}))
    assert data["context"] == {"when": "2020-01-01T00:00:00", "o": "odd"}
    assert sorted(data["state"]) == [1, 2]


def test_original_type_names_are_kept() -> None:
    assert set(ev.ORIGINAL_TYPES) == {
        "starting-experiment", "starting-hypothesis", "hypothesis-finished", "starting-method",
        "method-finished", "starting-rollback", "rollback-finished", "starting-activity",
        "activity-finished", "experiment-finished",
    }  # fmt: skip
    assert not set(ev.ORIGINAL_TYPES) & set(ev.NEW_TYPES)
