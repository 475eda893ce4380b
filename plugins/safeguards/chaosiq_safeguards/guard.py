"""The per-run guard: a background poller, the stop decision and the interruption.

Threads and who does what:

* the **poller** (one daemon thread per run) calls every plugin's
  ``chaosiq_safeguard_verdicts`` at the ``interval`` and caches the result;
* the **run thread** only updates counters from the lifecycle hooks and, once
  before the experiment starts, waits (bounded) for a fresh verdict;
* on a stop verdict the poller calls ``run.request_stop`` (the core bridge then
  raises ``InterruptExecution`` at the next main-thread control point) and the
  ``chaosiq_safeguard_triggered`` hook; if after ``grace`` seconds the main
  thread has passed no control point and is still inside the experiment's
  hypothesis, method or an activity, it sends chaostoolkit-lib's SIGUSR1
  (``chaoslib.exit.exit_gracefully``), which raises ``SystemExit(20)`` in the
  main thread and ends a blocking activity at once.

The signal is only ever sent while holding ``lock`` and only while the main
thread is inside a region where chaostoolkit-lib handles ``SystemExit``; the
guard is closed (under the same lock) in the first ``chaosiq_after_experiment``
implementation, so no signal can reach a finished run (no exit 138, no lost
journal).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from chaosiq_core.types import Verdict
from chaosiq_safeguards import rollbacks
from chaosiq_safeguards.options import Options
from chaosiq_safeguards.probes import ProbeRunner, declared_probes
from chaosiq_safeguards.server import ServerPolicies

if TYPE_CHECKING:  # pragma: no cover
    from chaosiq_core.run import Run

logger = logging.getLogger("chaostoolkit.chaosiq.safeguards")


def combine(stops: list[Verdict]) -> Verdict:
    """One verdict naming every source that said stop, and why."""
    if len(stops) == 1:
        return stops[0]
    source = ", ".join(v.source for v in stops)
    reason = "; ".join(f"{v.source}: {v.reason}" for v in stops)
    return Verdict.stop(source, reason, verdicts=[verdict_record(v) for v in stops])


def first_pause(verdicts: list[Verdict]) -> Verdict | None:
    """The pause that holds the run (the first pausing vote; its timeout the shortest of all)."""
    pauses = [v for v in verdicts if v.pauses]
    if not pauses:
        return None
    shortest = min(v.pause_timeout for v in pauses)
    first = pauses[0]
    if first.pause_timeout == shortest:
        return first
    return replace(first, timeout=shortest)


def verdict_record(verdict: Verdict) -> dict[str, Any]:
    """A JSON-safe description of a vote for the journal."""
    return {
        "source": verdict.source,
        "decision": verdict.decision,
        "reason": verdict.reason,
        **({"details": verdict.details} if verdict.details else {}),
    }


def journal_safeguards(stops: list[Verdict]) -> list[dict[str, Any]]:
    """``extensions[name=chaosiq].safeguards``: the server's policy objects (as the
    original wrote them) and one entry per other source that said stop."""
    out: list[dict[str, Any]] = []
    for verdict in stops:
        policies = verdict.details.get("policies") if verdict.details else None
        if verdict.source == "server" and policies:
            out.extend({**p, "source": "server"} for p in policies)
        else:
            out.append({"name": verdict.source, "allowed": False, **verdict_record(verdict)})
    return out


def _chaoslib_handler_installed() -> bool:
    """``True`` while chaostoolkit-lib's ``exit_signals()`` handles SIGUSR1 (inside ``Runner.run``)."""
    if not hasattr(signal, "SIGUSR1"):
        return False
    try:
        from chaoslib.exit import _leave_now
    except ImportError:  # pragma: no cover
        return False
    return signal.getsignal(signal.SIGUSR1) is _leave_now


class Guard:
    """The safeguards of one run."""

    def __init__(self, run: Run, options: Options | None = None) -> None:
        self.run = run
        self.options = options or Options.for_run(run)
        self.server = ServerPolicies(run, self.options)
        self.probes = ProbeRunner(
            run, declared_probes(run.experiment, self.options.probes), self.options.interval
        )
        self.lock = threading.Lock()
        self.cond = threading.Condition()
        self.kick = threading.Event()
        self.closing = threading.Event()
        self.closed = False
        self.signalled = False
        self.rounds_started = 0
        self.rounds_done = 0
        self.gate_entered = False
        self.fresh_started = 0
        self.fresh_done = 0
        self.last: list[Verdict] = []
        self.stops: list[Verdict] = []
        self.stop_verdict: Verdict | None = None
        self.stop_interrupts = False
        self.stopped_at: float | None = None
        self.phase = "setup"
        self.safe_depth = 0
        self.points = 0
        self._strategy: str | None = None
        self.thread = threading.Thread(target=self._loop, name="chaosiq-safeguards", daemon=True)

    # ---------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start the probes and the poller (``chaosiq_run_configured``)."""
        self._strategy = rollbacks.install(self.run.settings, self.options.rollbacks, self._interrupting)
        self.probes.start()
        self.thread.start()

    def _interrupting(self) -> bool:
        return self.stop_interrupts or self._pause_timed_out() is not None

    def _pause_timed_out(self) -> Verdict | None:
        """The stop the core requested when a pause timed out (it is a safeguard stop too)."""
        verdict = self.run.stop_verdict
        if self.stop_verdict is None and verdict is not None and "pause" in verdict.details:
            return verdict
        return None

    def close(self) -> None:
        """No more verdicts, no signal, ever (first ``chaosiq_after_experiment``)."""
        with self.lock:
            self.closed = True
            self.phase = "done"
        self.closing.set()
        self.kick.set()
        self.probes.close()
        with self.cond:
            self.cond.notify_all()

    def restore_strategy(self) -> None:
        rollbacks.restore(self.run.settings, self._strategy)

    # ---------------------------------------------------------- the poller

    def _execution_known(self) -> bool:
        return not self.server.expects_execution or self.run.execution_ready.is_set()

    def _fresh(self) -> bool:
        """Whether a round starting now answers the pre-start check (caller holds ``cond``)."""
        return self.gate_entered and self._execution_known() and self.probes.all_first()

    def _sleep(self) -> None:
        """Wait for the next round: the interval, a kick, or the server execution being created."""
        if not self._execution_known():
            # the pre-start check needs a round asked once the execution exists: start it
            # the moment the publisher sets ``execution_ready`` (no relay through the run thread)
            self.run.execution_ready.wait(self.options.interval)
            return
        self.kick.wait(self.options.interval)

    def _loop(self) -> None:
        while not self.closing.is_set() and not self.run.finished.is_set():
            with self.cond:
                self.rounds_started += 1
                self.kick.clear()  # a kick before this round is answered by this round
                fresh = self._fresh()
                if fresh:
                    self.fresh_started += 1
            try:
                verdicts = self.run.hooks.safeguard_verdicts(self.run)
            except Exception as exc:  # the facade already isolates plugins; belt and braces
                logger.warning("chaosiq safeguards: checking failed: %s", exc)
                verdicts = []
            stops = [v for v in verdicts if v.stops]
            if stops:
                self._decide(stops)
            else:
                self.run.set_pause(first_pause(verdicts))
            with self.cond:
                self.last = verdicts
                self.rounds_done += 1
                if fresh:
                    self.fresh_done += 1
                self.cond.notify_all()
            if stops:
                self._enforce()
                return
            self._sleep()

    def _decide(self, stops: list[Verdict]) -> None:
        verdict = combine(stops)
        with self.lock:
            if self.closed or self.stop_verdict is not None:
                return
            self.stops = stops
            self.stop_verdict = verdict
            self.stopped_at = time.monotonic()
            in_rollbacks = self.phase == "rollbacks"
            self.points_at_stop = self.points
        if in_rollbacks and self.options.rollbacks == "play":
            logger.critical(
                "Safeguard '%s' said stop during the rollbacks: %s (the rollbacks are finished, "
                "safeguards.rollbacks is 'play')",
                verdict.source,
                verdict.reason,
            )
            self.run.hooks.safeguard_triggered(self.run, verdict)
            return
        if not self.run.request_stop(verdict):
            return
        self.stop_interrupts = True
        logger.critical("Safeguard '%s' stops the run: %s", verdict.source, verdict.reason)
        self.run.hooks.safeguard_triggered(self.run, verdict)

    def _enforce(self) -> None:
        """After the grace period, interrupt a still-running activity with SIGUSR1."""
        if not self.stop_interrupts:
            return
        if self.closing.wait(self.options.grace):
            return
        with self.lock:
            if self.closed or self.signalled or self.run.finished.is_set():
                return
            if self.points != self.points_at_stop:
                return  # the main thread reached a control point: InterruptExecution was raised
            if self.safe_depth <= 0:
                return
            if not _chaoslib_handler_installed():
                return
            self.signalled = True
            logger.warning(
                "chaosiq safeguards: the current activity is still running after %g s: interrupting it",
                self.options.grace,
            )
            from chaoslib.exit import exit_gracefully

            exit_gracefully()

    # -------------------------------------------------------- run thread

    def gate(self) -> None:
        """Before the experiment: wait (bounded) for a verdict asked after this point.

        The answer must come from a round that started after this call, once the
        server execution exists (when a publisher creates one) and once every local
        probe has a first result. The poller starts that round by itself when the
        execution appears; otherwise this call kicks it.
        """
        deadline = time.monotonic() + self.options.start_timeout
        with self.cond:
            self.gate_entered = True
        if self.server.expects_execution:
            self.run.execution_ready.wait(max(0.0, deadline - time.monotonic()))
        self.probes.wait_first(deadline)
        with self.cond:
            if self.fresh_started == 0:
                self.kick.set()
            self.cond.wait_for(
                lambda: self.fresh_done > 0 or self.closed or self.stop_verdict is not None,
                timeout=max(0.0, deadline - time.monotonic()),
            )
            answered = self.fresh_done > 0
        if self.stop_verdict is None and not answered and not self.closed:
            logger.warning(
                "chaosiq safeguards: no verdict within %g s before the start; the run starts "
                "and is checked in the background",
                self.options.start_timeout,
            )

    def enter(self, phase: str | None = None) -> None:
        """The main thread enters a region where chaostoolkit-lib handles ``SystemExit``."""
        if threading.current_thread() is not threading.main_thread():
            return
        with self.lock:
            if phase:
                self.phase = phase
            self.safe_depth += 1
            self.points += 1

    def leave(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        with self.lock:
            self.safe_depth = max(0, self.safe_depth - 1)
            self.points += 1

    def point(self, phase: str | None = None) -> None:
        """A main-thread control point that is not a region boundary."""
        if threading.current_thread() is not threading.main_thread():
            return
        with self.lock:
            if phase:
                self.phase = phase
            self.points += 1

    # ---------------------------------------------------------- recording

    def record(self, journal: dict[str, Any]) -> None:
        """Write the stopping verdicts into the journal (``chaosiq_after_experiment``)."""
        timed_out = self._pause_timed_out()
        stops = self.stops or ([timed_out] if timed_out else [])
        self.run.journal_extension["safeguards"] = journal_safeguards(stops) if stops else None
        verdict = self.stop_verdict or timed_out
        if verdict is None or not isinstance(journal, dict):
            return
        if journal.get("status") != "interrupted":
            # the stop came in the rollbacks (played to their end by choice) or after the
            # last control point: the safeguard still stopped this run
            journal["status"] = "interrupted"
        journal["interruption"] = {
            "kind": "safeguard",
            "name": verdict.source,
            "reason": verdict.reason,
        }
