"""Slowing down guesses at the console's sign-in form.

API tokens are 256-bit random secrets, so guessing one is hopeless; the limit
keeps a script from filling the log and the database with failed attempts. It
counts failed sign-ins per client address in a sliding window, in the memory
of each server process (each uvicorn worker counts on its own). Behind a
reverse proxy every user has the proxy's address: the limit then applies to
all of them together (pass ``--forwarded-allow-ips`` to uvicorn only if you
trust the proxy).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

MAX_FAILURES = 10
WINDOW_SECONDS = 60.0


class FailedSignins:
    """At most ``limit`` failures per address within ``window`` seconds."""

    def __init__(
        self,
        limit: int = MAX_FAILURES,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._failures.setdefault(address, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, address: str) -> int:
        """Seconds until ``address`` may try again; 0 when it may now."""
        now = self.clock()
        with self._lock:
            times = self._recent(address, now)
            if len(times) < self.limit:
                if not times:
                    self._failures.pop(address, None)
                return 0
            return max(1, int(times[0] + self.window - now + 0.999))

    def failed(self, address: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) > 10_000:  # many addresses: forget the quiet ones
                for key in [k for k, v in self._failures.items() if not v or v[-1] <= now - self.window]:
                    del self._failures[key]
            self._recent(address, now).append(now)

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)
