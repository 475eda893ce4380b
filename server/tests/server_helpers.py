"""Builders for what the original chaosiq-cloud client sends (spec §4.3, §4.4)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any

CE_HEADERS = {"content-type": "application/cloudevents+json"}


def experiment(title: str = "A simple experiment") -> dict[str, Any]:
    return {
        "version": "1.0.0",
        "title": title,
        "description": "n/a",
        "steady-state-hypothesis": {
            "title": "ok",
            "probes": [
                {
                    "type": "probe",
                    "name": "p",
                    "tolerance": True,
                    "provider": {
                        "type": "python",
                        "module": "os.path",
                        "func": "exists",
                        "arguments": {"path": "/"},
                    },
                }
            ],
        },
        "method": [
            {"type": "action", "name": "a1", "provider": {"type": "process", "path": "true"}},
            {"type": "action", "name": "a2", "provider": {"type": "process", "path": "true"}},
        ],
        "rollbacks": [{"type": "action", "name": "r1", "provider": {"type": "process", "path": "true"}}],
    }


def cloud_event(
    event_type: str,
    payload: Any = None,
    state: Any = None,
    time: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A CloudEvent exactly as chaosiq-cloud builds it: data is a JSON *string*."""
    return {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": "chaosiq-cloud",
        "type": event_type,
        "datacontenttype": "application/json",
        "time": time or datetime.now(timezone.utc).astimezone().isoformat(),
        "data": json.dumps({"context": payload, "state": state}, ensure_ascii=False),
    }


def journal(exp: dict[str, Any], status: str = "running") -> dict[str, Any]:
    return {
        "chaoslib-version": "1.44.0",
        "platform": "Linux",
        "node": "test",
        "experiment": exp,
        "start": "2024-01-01T00:00:00",
        "status": status,
        "deviated": False,
        "steady_states": {"before": None, "after": None, "during": []},
        "run": [],
        "rollbacks": [],
    }
