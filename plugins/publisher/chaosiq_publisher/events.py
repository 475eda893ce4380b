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

SOURCE = "chaosiq-cloud"
SPECVERSION = "1.0"
CONTENT_TYPE = "application/cloudevents+json"
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"

# The original's event types, one per Chaos Toolkit control point.
STARTING_EXPERIMENT = "starting-experiment"
EXPERIMENT_FINISHED = "experiment-finished"
STARTING_HYPOTHESIS = "starting-hypothesis"
HYPOTHESIS_FINISHED = "hypothesis-finished"
STARTING_METHOD = "starting-method"
METHOD_FINISHED = "method-finished"
STARTING_ROLLBACK = "starting-rollback"
ROLLBACK_FINISHED = "rollback-finished"
STARTING_ACTIVITY = "starting-activity"
ACTIVITY_FINISHED = "activity-finished"

# New types for what the original lost (run events of chaostoolkit-lib).
CONTINUOUS_HYPOTHESIS_STARTED = "continuous-hypothesis-started"
CONTINUOUS_HYPOTHESIS_ITERATION = "continuous-hypothesis-iteration"
CONTINUOUS_HYPOTHESIS_FINISHED = "continuous-hypothesis-finished"
EXPERIMENT_INTERRUPTED = "experiment-interrupted"
EXPERIMENT_SIGNAL_EXIT = "experiment-signal-exit"
SAFEGUARD_TRIGGERED = "safeguard-triggered"
RUN_PAUSED = "run-paused"
RUN_RESUMED = "run-resumed"


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
    return dumps({"specversion": SPECVERSION, "id": event_id, "source": SOURCE, "type": event_type,
                  "datacontenttype": "application/json", "time": time, "data": data})  # fmt: skip
