"""The phases of a verification as the journal records them: name, start, end, duration."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any


def now_iso() -> str:
    """The current UTC time in ISO format, as chaostoolkit-lib writes journal times."""
    return datetime.now(timezone.utc).isoformat()


class Phases:
    """Start, end and duration of every phase, as written in the journal."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self._t0 = 0.0

    def begin(self, name: str, planned: float | None = None) -> None:
        self.end()
        entry: dict[str, Any] = {"name": name, "start": now_iso(), "end": None, "duration": None}
        if planned is not None:
            entry["planned"] = planned
        self.items.append(entry)
        self._t0 = time.monotonic()

    def end(self) -> None:
        if self.items and self.items[-1]["end"] is None:
            self.items[-1]["end"] = now_iso()
            self.items[-1]["duration"] = round(time.monotonic() - self._t0, 4)

    def window(self, name: str) -> dict[str, Any] | None:
        return next((p for p in self.items if p["name"] == name), None)

    def count_in(self, name: str, times: list[float]) -> int | None:
        """How many of ``times`` (epoch seconds) fall in the phase ``name``; ``None`` if it did not end."""
        window = self.window(name)
        if not window or not window.get("end"):
            return None
        start = datetime.fromisoformat(window["start"]).timestamp()
        end = datetime.fromisoformat(window["end"]).timestamp()
        return sum(1 for t in times if start <= t < end)
