"""CloudEvents of a run, in the original's structured mode.

The envelope is a flat JSON object written with orjson rather than the
``cloudevents`` SDK, whose import would add to every run's fixed cost; the
tests check it against the SDK's own JSON format parser.

``data`` is a JSON **string** of ``{"context": ..., "state": ...}`` (the
original's double encoding, which the server decodes).
"""

from __future__ import annotations

import datetime as _dt
import uuid

from chaosiq_core.serialize import dumps

CONTENT_TYPE = "application/cloudevents+json"
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"


def new_id() -> str:
    """A CloudEvent id (replays rely on it: the server stores each id once)."""
    return str(uuid.uuid4())


def iso_time(timestamp: float) -> str:
    """The local time of ``timestamp`` with its UTC offset, always with microseconds."""
    return _dt.datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="microseconds")


def error_data(exc: BaseException) -> str:
    """The original's ``data`` when an event cannot be encoded."""
    error = {"type": "json-serialization", "trace": f"{type(exc).__name__}: {exc}"}
    return dumps({"context": None, "state": None, "error": error})


def envelope(event_type: str, data: str, event_id: str, timestamp: float) -> str:
    """A structured-mode CloudEvent's JSON text, members in the original's order."""
    time = iso_time(timestamp)
    return dumps({"specversion": "1.0", "id": event_id, "source": "chaosiq-cloud", "type": event_type,
                  "datacontenttype": "application/json", "time": time, "data": data})  # fmt: skip
