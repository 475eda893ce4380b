"""The verification loop, built on chaostoolkit-lib's public run functions.

Timeline (each phase takes the time asked, every wait is interruptible):

gate steady state → sampling starts at ``frequency-of-measurement`` → warm-up →
method (the conditions) → conditions held for ``duration-of-conditions`` →
sampling stops → cool-down → after-method steady state → rollbacks → results.

chaostoolkit-lib's ``Runner`` is not used: its continuous strategy cannot stop
the sampling thread when the run is interrupted (it waits out a full period),
samples with drift (``frequency`` *plus* the probe time), and has no place for a
cool-down (``start_cooldown`` is never fired; reference spec W16). This loop
calls the same building blocks (``run_gate_hypothesis``, ``run_method``,
``run_deviation_validation_hypothesis``, ``run_rollback``, the control
functions and the event registry) in the verification's order, so controls
and run-event handlers (the chaosiq bridge, the publisher, safeguards) see an
ordinary run.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from chaoslib import substitute
from chaoslib.configuration import load_configuration, load_dynamic_configuration
from chaoslib.control import (
    Control,
    cleanup_controls,
    cleanup_global_controls,
    initialize_controls,
    initialize_global_controls,
)
from chaoslib.exceptions import ChaosException, InterruptExecution
from chaoslib.exit import exit_signals
from chaoslib.hypothesis import run_steady_state_hypothesis
from chaoslib.run import (
    EventHandlerRegistry,
    RunEventHandler,
    get_background_pools,
    initialize_run_journal,
    run_deviation_validation_hypothesis,
    run_gate_hypothesis,
    run_method,
    run_rollback,
)
from chaoslib.secret import load_secrets
from chaoslib.types import Schedule

from chaosiq_core import control as bridge
from chaosiq_core.journal import chaosiq_extension
from chaosiq_core.run import Run
from chaosiq_verification import results as res
from chaosiq_verification.progress import Progress
from chaosiq_verification.reporting import ServerReporter
from chaosiq_verification.spec import VerificationSpec

logger = logging.getLogger("chaostoolkit.chaosiq.verification")

POLL = 0.05
"""Seconds between two checks of a stop request during a wait."""
SAMPLER_JOIN = 1.0
"""Seconds given to an in-flight sample to finish when sampling stops."""
TERMINAL = ("failed", "interrupted", "aborted")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


# ------------------------------------------------------------------ stopping


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


def _safeguard_reason(run: Run | None) -> str | None:
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
            reason = _safeguard_reason(run_ref())
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


# ------------------------------------------------------------------- phases


@dataclass
class Phases:
    """Start, end and duration of every phase, as written in the journal."""

    items: list[dict[str, Any]] = field(default_factory=list)
    _t0: float = 0.0

    def begin(self, name: str, planned: float | None = None) -> None:
        self.end()
        entry: dict[str, Any] = {"name": name, "start": _now(), "end": None, "duration": None}
        if planned is not None:
            entry["planned"] = planned
        self.items.append(entry)
        self._t0 = time.monotonic()

    def end(self) -> None:
        if self.items and self.items[-1]["end"] is None:
            self.items[-1]["end"] = _now()
            self.items[-1]["duration"] = round(time.monotonic() - self._t0, 4)

    def window(self, name: str) -> dict[str, Any] | None:
        return next((p for p in self.items if p["name"] == name), None)


# ------------------------------------------------------------------ sampling


class Sampler:
    """Takes a steady-state sample every ``frequency`` seconds on its own thread.

    Samples are scheduled at fixed times (``t0 + k * frequency``, monotonic
    clock), so the probes' own duration does not stretch the period; a sample
    that overruns its slot skips the slots it missed.
    """

    def __init__(
        self,
        frequency: float,
        experiment: dict[str, Any],
        journal: dict[str, Any],
        configuration: Any,
        secrets: Any,
        registry: EventHandlerRegistry,
        dry: Any,
        stopper: Stopper,
    ) -> None:
        self.frequency = frequency
        self.experiment = experiment
        self.journal = journal
        self.configuration = configuration
        self.secrets = secrets
        self.registry = registry
        self.dry = dry
        self.stopper = stopper
        self.stop_event = threading.Event()
        self.completed = threading.Event()
        self.sample_times: list[float] = []
        self.thread = threading.Thread(target=self._loop, name="chaosiq-verification-sampler", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self, join: float = SAMPLER_JOIN) -> None:
        """Stop sampling; give an in-flight sample ``join`` seconds to end."""
        self.stop_event.set()
        if self.thread.is_alive() and threading.current_thread() is not self.thread:
            self.thread.join(join)
            if self.thread.is_alive():
                logger.warning("A steady-state sample is still running; not waiting for it")

    def _loop(self) -> None:
        exc: BaseException | None = None
        self.registry.start_continuous_hypothesis(self.frequency)
        logger.info("Sampling the steady state every %g s", self.frequency)
        t0 = time.monotonic()
        iteration = 1
        try:
            while not self.stop_event.is_set():
                if self.journal.get("status") in TERMINAL:
                    break
                self.sample_times.append(time.time())
                state = run_steady_state_hypothesis(
                    self.experiment,
                    self.configuration,
                    self.secrets,
                    dry=self.dry,
                    event_registry=self.registry,
                )
                self.journal["steady_states"]["during"].append(state)
                self.registry.continuous_hypothesis_iteration(iteration, state)
                iteration += 1
                now = time.monotonic()
                slot = max(iteration - 1, math.ceil((now - t0) / self.frequency))
                self.stop_event.wait(max(0.0, t0 + slot * self.frequency - now))
        except InterruptExecution as e:
            exc = e
            self.stopper.request(str(e), "control")
        except Exception as e:
            exc = e
            logger.error("Sampling the steady state failed: %s", e)
            self.stopper.request(f"sampling the steady state failed: {e}", "error")
        finally:
            self.completed.set()
            self.registry.continuous_hypothesis_completed(self.experiment, self.journal, exc)


# ----------------------------------------------------------- events → server


class VerificationEvents(RunEventHandler):
    """Turns run events into the verification-run categories of spec §7.4 and progress."""

    def __init__(self, reporter: ServerReporter, progress: Progress) -> None:
        self.reporter = reporter
        self.progress = progress

    def start_hypothesis_before(self, experiment: Any) -> None:
        self.reporter.event("verification-hypothesis-before-method-started")

    def hypothesis_before_completed(self, experiment: Any, state: Any, journal: Any) -> None:
        self.reporter.event("verification-hypothesis-before-method-completed")

    def start_continuous_hypothesis(self, frequency: Any) -> None:
        self.reporter.event("verification-sample-started", {"frequency": frequency})

    def continuous_hypothesis_iteration(self, iteration_index: int, state: Any) -> None:
        self.progress.sample(iteration_index, state)
        self.reporter.event("verification-sample", {"iteration": iteration_index, "state": state})

    def continuous_hypothesis_completed(self, experiment: Any, journal: Any, exception: Any = None) -> None:
        self.reporter.event("verification-sampling-completed")

    def start_cooldown(self, duration: Any) -> None:
        self.reporter.event("verification-cooldown-started", {"duration": duration})

    def cooldown_completed(self) -> None:
        self.reporter.event("verification-cooldown-completed")

    def start_hypothesis_after(self, experiment: Any) -> None:
        self.reporter.event("verification-hypothesis-after-method-started")

    def hypothesis_after_completed(self, experiment: Any, state: Any, journal: Any) -> None:
        self.reporter.event("verification-hypothesis-after-method-completed")

    def start_rollbacks(self, experiment: Any) -> None:
        self.progress.enter("rollbacks")
        self.reporter.event("verification-rollbacks-started")

    def rollbacks_completed(self, experiment: Any, journal: Any) -> None:
        self.reporter.event("verification-rollbacks-completed")

    def interrupted(self, experiment: Any, journal: Any) -> None:
        self.reporter.event("verification-interrupted")

    def signal_exit(self) -> None:
        self.reporter.event("verification-exited-by-signal")


# ---------------------------------------------------------------------- run


@dataclass
class Outcome:
    """What ``chaos verify`` reports once the verification is over."""

    journal: dict[str, Any]
    results: res.Results
    result: str
    phases: list[dict[str, Any]]
    run_id: str | None

    @property
    def exit_code(self) -> int:
        return res.exit_code(self.result)


@dataclass
class Options:
    """Run options that come from the command line or the plugin's settings."""

    rollback_strategy: str = "default"
    execution_wait: float = 10.0
    request_timeout: float = 5.0


def _bridge_run(experiment: dict[str, Any]) -> Run | None:
    run = bridge.current_run()
    return run if run is not None and run.experiment is experiment else None


def _count_in(times: list[float], window: dict[str, Any] | None) -> int | None:
    if not window or not window.get("end"):
        return None
    start = datetime.fromisoformat(window["start"]).timestamp()
    end = datetime.fromisoformat(window["end"]).timestamp()
    return sum(1 for t in times if start <= t < end)


def run_verification(
    experiment: dict[str, Any],
    spec: VerificationSpec,
    settings: dict[str, Any],
    *,
    experiment_vars: tuple[Any, Any] | None = None,
    options: Options | None = None,
    progress: Progress | None = None,
) -> Outcome:
    """Run ``experiment`` as a verification; always returns (the journal is never lost).

    Configuration and secrets errors raise chaostoolkit-lib's
    ``InvalidExperiment`` before anything runs.
    """
    options = options or Options()
    progress = progress or Progress()
    config_vars, secret_vars = experiment_vars or (None, None)
    configuration = load_configuration(experiment.get("configuration", {}), config_vars)
    secrets = load_secrets(experiment.get("secrets", {}), configuration, secret_vars)
    configuration = load_dynamic_configuration(configuration, secrets)
    experiment["title"] = substitute(experiment.get("title", ""), configuration, secrets)

    journal = initialize_run_journal(experiment)
    journal["measurements"] = journal["steady_states"]["during"]  # the original's alias (issue #70)
    stopper = Stopper()
    phases = Phases()
    registry = EventHandlerRegistry()
    dry = experiment.get("dry")
    schedule = Schedule(continuous_hypothesis_frequency=spec.frequency)
    rollback_pool = None
    sampler: Sampler | None = None
    run: Run | None = None
    reporter = ServerReporter(None, spec)
    started = time.monotonic()
    results = res.summarize(journal, 0.0)
    result = "failed"
    bridge.set_run_kind("verification")
    logger.info("Running verification: %s", experiment["title"])
    progress.start()
    try:
        with exit_signals():
            registry.started(experiment, journal)
            initialize_global_controls(experiment, configuration, secrets, settings, event_registry=registry)
            initialize_controls(experiment, configuration, secrets, event_registry=registry)
            run = _bridge_run(experiment)
            reporter = ServerReporter(
                run,
                spec,
                execution_wait=options.execution_wait,
                request_timeout=options.request_timeout,
            )
            registry.register(VerificationEvents(reporter, progress))
            registry.running(experiment, journal, configuration, secrets, schedule, settings)
            wait = make_waiter(stopper, lambda: run)
            activity_pool, rollback_pool = get_background_pools(experiment)
            control = Control()
            exit_with_rollbacks = True
            try:
                try:
                    reporter.start(journal, wait)
                    control.begin("experiment", experiment, experiment, configuration, secrets)
                    wait(None, 0)
                    phases.begin("gate steady state")
                    progress.enter("gate steady state")
                    gate = run_gate_hypothesis(experiment, journal, configuration, secrets, registry, dry)
                    phases.end()
                    if gate is not None:
                        sampler = Sampler(
                            spec.frequency,
                            experiment,
                            journal,
                            configuration,
                            secrets,
                            registry,
                            dry,
                            stopper,
                        )
                        sampler.start()
                        phases.begin("warm-up", spec.warm_up)
                        progress.enter("warm-up", spec.warm_up)
                        wait(None, spec.warm_up)
                        phases.begin("method")
                        progress.enter("method (conditions)")
                        reporter.event("verification-condition-started", {})
                        state = run_method(
                            None, activity_pool, experiment, journal, configuration, secrets, registry, dry
                        )
                        phases.end()
                        reporter.event("verification-condition-completed", {"state": state})
                        if state is not None and journal.get("status") not in TERMINAL:
                            phases.begin("conditions", spec.duration_of_conditions)
                            progress.enter("conditions held", spec.duration_of_conditions)
                            wait(None, spec.duration_of_conditions)
                            phases.end()
                            sampler.stop()
                            phases.begin("cool-down", spec.cool_down)
                            progress.enter("cool-down", spec.cool_down)
                            registry.start_cooldown(spec.cool_down)
                            wait(None, spec.cool_down)
                            registry.cooldown_completed()
                            phases.end()
                            wait(None, 0)
                            if journal.get("status") not in TERMINAL:
                                phases.begin("after steady state")
                                progress.enter("after steady state")
                                run_deviation_validation_hypothesis(
                                    experiment, journal, configuration, secrets, registry, dry
                                )
                                phases.end()
                except InterruptExecution as exc:
                    journal["status"] = "interrupted"
                    logger.critical(str(exc))
                    journal.setdefault(
                        "interruption",
                        {"kind": stopper.kind or "signal", "name": "chaos verify", "reason": str(exc)},
                    )
                    registry.interrupted(experiment, journal)
                except KeyboardInterrupt:
                    journal["status"] = "interrupted"
                    logger.warning("Received a termination signal (Ctrl-C)...")
                    journal.setdefault(
                        "interruption", {"kind": "signal", "name": "SIGINT", "reason": "Ctrl-C"}
                    )
                    registry.signal_exit()
                except SystemExit as exc:
                    journal["status"] = "interrupted"
                    logger.warning("Received the exit signal: %s", exc.code)
                    exit_with_rollbacks = exc.code != 30
                    journal.setdefault(
                        "interruption",
                        {"kind": "signal", "name": f"exit {exc.code}", "reason": "exit signal"},
                    )
                    registry.signal_exit()
                finally:
                    phases.end()
                    if sampler is not None:
                        sampler.stop()

                if exit_with_rollbacks:
                    rollback_strategy = options.rollback_strategy
                    phases.begin("rollbacks")
                    run_rollback(
                        rollback_strategy,
                        rollback_pool,
                        experiment,
                        journal,
                        configuration,
                        secrets,
                        registry,
                        dry,
                    )
                    phases.end()
                    if not journal.get("rollbacks"):
                        phases.items.pop()
                if journal.get("status") not in ("completed", "failed", "aborted", "interrupted"):
                    journal["status"] = "completed"
                results = res.summarize(journal, time.monotonic() - started)
                if results.deviated_samples:
                    journal["deviated"] = True
                journal["end"] = _now()
                journal["duration"] = time.monotonic() - started
                _record(journal, spec, reporter, results, phases, sampler)
                control.with_state(journal)
                try:
                    control.end("experiment", experiment, experiment, configuration, secrets)
                except ChaosException:
                    logger.debug("Failed to close controls", exc_info=True)
            finally:
                try:
                    cleanup_controls(experiment)
                    cleanup_global_controls()
                finally:
                    results = res.summarize(journal, time.monotonic() - started)
                    result = res.outcome(journal, results)
                    ext = chaosiq_extension(journal, create=True) or {}
                    if isinstance(ext.get("verification"), dict):
                        ext["verification"]["outcome"] = result
                    reporter.finished(journal, results.as_payload())
                    registry.finish(journal)
    finally:
        progress.stop()
        bridge.set_run_kind("run")
    return Outcome(journal, results, result, phases.items, reporter.run_id)


def _record(
    journal: dict[str, Any],
    spec: VerificationSpec,
    reporter: ServerReporter,
    results: res.Results,
    phases: Phases,
    sampler: Sampler | None,
) -> None:
    """The verification's own block in the journal's ``chaosiq`` extension."""
    times = sampler.sample_times if sampler is not None else []
    block: dict[str, Any] = {
        "id": spec.id,
        "run_id": reporter.run_id,
        "warm-up-duration": spec.warm_up,
        "frequency-of-measurement": spec.frequency,
        "duration-of-conditions": spec.duration_of_conditions,
        "cool-down-duration": spec.cool_down,
        "phases": phases.items,
        "samples_during_conditions": _count_in(times, phases.window("conditions")),
        "results": results.as_payload(),
    }
    if reporter.reason and not reporter.run_id:
        block["not_published"] = reporter.reason
    ext = chaosiq_extension(journal, create=True)
    if ext is not None:
        ext["verification"] = block
