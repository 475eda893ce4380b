"""How a verification is stopped: stop requests, interruptible waits, and which signal came.

A stop comes from a safeguard (through the chaosiq bridge's ``Run``), from the
sampling thread (a control interrupting a sample, or sampling failing), or
from a signal: SIGTERM and Ctrl-C raise chaostoolkit-lib's ``InterruptExecution``
and ``KeyboardInterrupt`` on the main thread, wherever it is.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from chaoslib.exceptions import InterruptExecution

from chaosiq_core.run import Run

POLL = 0.05
"""Seconds between two checks of a stop request during a wait."""

RECORDED_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT") if hasattr(signal, name))
"""The signals whose arrival is noted. SIGUSR1/2 are left alone: the safeguards plugin sends
SIGUSR1 only while chaostoolkit-lib's own handler is installed, and ``SystemExit`` says which came."""

EXIT_SIGNALS = {20: "SIGUSR1", 30: "SIGUSR2"}
"""chaostoolkit-lib's ``SystemExit`` codes and the signal that raised them."""


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


def signal_record(name: str) -> dict[str, str]:
    """The journal's ``interruption`` for a signal, in Chaos Toolkit's own shape."""
    return {"kind": "signal", "name": name, "reason": f"received {name}"}


class SignalNotes:
    """Notes the first SIGTERM or SIGINT received while active, then calls the handler it wraps.

    chaostoolkit-lib turns both into exceptions, but catches them itself while
    it plays the rollbacks; the note says which signal stopped the run in every
    phase. Enter it inside ``exit_signals()`` (it wraps chaostoolkit-lib's SIGTERM
    handler), on the main thread; elsewhere it does nothing.
    """

    def __init__(self) -> None:
        self.received: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SignalNotes:
        if threading.current_thread() is not threading.main_thread():
            return self
        for signum in RECORDED_SIGNALS:
            previous = signal.getsignal(signum)
            if callable(previous):  # ignored or the default action: nothing to wrap
                self._previous[signum] = previous
                signal.signal(signum, self._noting(previous))
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous = {}

    def _noting(
        self, previous: Callable[[int, FrameType | None], Any]
    ) -> Callable[[int, FrameType | None], Any]:
        def note(signum: int, frame: FrameType | None) -> Any:
            if self.received is None:
                self.received = signal.Signals(signum).name
            return previous(signum, frame)

        return note

    def interruption(self) -> dict[str, str] | None:
        """The journal's ``interruption`` for the signal received, if one was."""
        return signal_record(self.received) if self.received else None
