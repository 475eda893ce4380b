"""How a verification is stopped: stop requests and interruptible waits.

A stop comes from a safeguard (through the chaosiq bridge's ``Run``), from the
sampling thread (a control interrupting a sample, or sampling failing), or
from a signal: SIGTERM and Ctrl-C raise chaostoolkit-lib's ``InterruptExecution``
and ``KeyboardInterrupt`` on the main thread, wherever it is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from chaoslib.exceptions import InterruptExecution

from chaosiq_core.run import Run

POLL = 0.05
"""Seconds between two checks of a stop request during a wait."""


class Stopper:
    """Why the verification must stop, set from any thread; waits watch it."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reason: str | None = None
        self.kind: str | None = None

    def request(self, reason: str, kind: str = "control") -> None:
        if not self.event.is_set():
            self.reason, self.kind = reason, kind
            self.event.set()


def safeguard_reason(run: Run | None) -> str | None:
    """The stop asked by a safeguard through the bridge, claimed once (the bridge then stays quiet)."""
    if run is None or run.stop_verdict is None:
        return None
    if not run.claim_interrupt():
        return None
    verdict = run.stop_verdict
    return f"chaosiq safeguard '{verdict.source}' stopped the run: {verdict.reason}"


def make_waiter(stopper: Stopper, run_ref: Callable[[], Run | None]) -> Callable[[Any, float], bool]:
    """``wait(event, seconds)``: wait for ``event`` (or ``None``: just the time), interruptibly.

    Returns ``True`` when ``event`` was set. Raises ``InterruptExecution`` when
    a stop was requested (safeguard, sampler failure); SIGTERM, Ctrl-C and
    SIGUSR1/2 land here as chaostoolkit-lib's exceptions since the wait is a
    short ``threading.Event.wait`` on the main thread.
    """

    def wait(event: threading.Event | None, seconds: float) -> bool:
        deadline = time.monotonic() + max(0.0, seconds)
        while True:
            if stopper.event.is_set():
                raise InterruptExecution(stopper.reason or "verification stopped")
            reason = safeguard_reason(run_ref())
            if reason is not None:
                stopper.request(reason, "safeguard")
                raise InterruptExecution(reason)
            remaining = deadline - time.monotonic()
            if event is not None and event.is_set():
                return True
            if remaining <= 0:
                return False
            target = event if event is not None else stopper.event
            target.wait(min(remaining, POLL))

    return wait
