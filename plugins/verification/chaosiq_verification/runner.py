"""Running a verification: ``VerificationRun``, one method per phase of its timeline.

gate steady state → sampling starts at ``frequency-of-measurement`` → warm-up →
method (the conditions) → conditions held for ``duration-of-conditions`` →
sampling stops → cool-down → after-method steady state → rollbacks → results.

Each phase takes the time asked and every wait is interruptible. chaostoolkit-lib's
``Runner`` is not used: its continuous strategy cannot stop the sampling thread when
the run is interrupted (it waits out a full period), samples with drift
(``frequency`` *plus* the probe time), and has no place for a cool-down (its
``start_cooldown`` event is never fired). This class calls the same building blocks
(``run_gate_hypothesis``, ``run_method``, ``run_deviation_validation_hypothesis``,
``run_rollback``, the control functions and the event registry) in the
verification's order, so controls and run-event handlers (the chaosiq bridge, the
publisher, safeguards) see an ordinary run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from chaoslib import merge_vars, substitute
from chaoslib.configuration import load_configuration, load_dynamic_configuration
from chaoslib.control import (
    Control,
    cleanup_controls,
    cleanup_global_controls,
    initialize_controls,
    initialize_global_controls,
    load_global_controls,
)
from chaoslib.exceptions import ChaosException, InterruptExecution
from chaoslib.exit import exit_signals
from chaoslib.run import (
    EventHandlerRegistry,
    get_background_pools,
    initialize_run_journal,
    run_deviation_validation_hypothesis,
    run_gate_hypothesis,
    run_method,
    run_rollback,
)
from chaoslib.secret import load_secrets
from chaoslib.settings import loaded_settings
from chaoslib.types import Dry, Schedule

from chaosiq_core import control as bridge
from chaosiq_core import settings as s
from chaosiq_core.hooks import Hooks
from chaosiq_core.journal import chaosiq_extension
from chaosiq_core.run import Run
from chaosiq_verification import FEATURE
from chaosiq_verification import results as res
from chaosiq_verification.events import VerificationEvents
from chaosiq_verification.phases import Phases, now_iso
from chaosiq_verification.progress import Progress, make_progress
from chaosiq_verification.reporting import ServerReporter
from chaosiq_verification.sampling import TERMINAL, Sampler
from chaosiq_verification.source import load_verification
from chaosiq_verification.spec import InvalidVerification, VerificationSpec
from chaosiq_verification.stopping import EXIT_SIGNALS, SignalNotes, Stopper, make_waiter, signal_record

logger = logging.getLogger("chaostoolkit.chaosiq.verification")


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

    @classmethod
    def resolve(
        cls, settings: dict[str, Any], experiment: dict[str, Any], cli_strategy: str | None
    ) -> Options:
        """The options of one run: the rollback strategy as ``chaos run`` resolves it
        (settings < experiment ``runtime`` < command line), the rest from the settings."""
        strategy = ((settings.get("runtime") or {}).get("rollbacks") or {}).get("strategy") or "default"
        strategy = ((experiment.get("runtime") or {}).get("rollbacks") or {}).get("strategy") or strategy
        return cls(
            rollback_strategy=cli_strategy or strategy,
            execution_wait=number_option(settings, "execution_wait", 10.0),
            request_timeout=number_option(settings, "request_timeout", 5.0),
        )


def number_option(settings: dict[str, Any], name: str, default: float) -> float:
    """The plugin option ``name`` as a number (a WARNING and ``default`` when it is not one)."""
    value = s.options(settings, FEATURE).get(name, default)
    try:
        return float(value)
    except (TypeError, ValueError):
        logger.warning("chaosiq: option %s.%s must be a number; using %g", FEATURE, name, default)
        return default


def _runtime_rollbacks(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings["runtime"]["rollbacks"]``, made a dict where it is missing or not one."""
    runtime = settings.get("runtime")
    if not isinstance(runtime, dict):
        runtime = settings["runtime"] = {}
    block = runtime.get("rollbacks")
    if not isinstance(block, dict):
        block = runtime["rollbacks"] = {}
    return block


def _bridge_run(experiment: dict[str, Any]) -> Run | None:
    run = bridge.current_run()
    return run if run is not None and run.experiment is experiment else None


class VerificationRun:
    """One verification of ``experiment``, from its gate steady state to its results.

    Configuration and secrets are loaded when it is made (chaostoolkit-lib's
    ``InvalidExperiment`` is raised before anything runs); :meth:`execute` then
    always returns, with the journal (it is never lost).
    """

    def __init__(
        self,
        experiment: dict[str, Any],
        spec: VerificationSpec,
        settings: dict[str, Any],
        *,
        experiment_vars: tuple[Any, Any] | None = None,
        options: Options | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.experiment = experiment
        self.spec = spec
        self.settings = settings
        self.options = options or Options()
        self.progress = progress or Progress()
        config_vars, secret_vars = experiment_vars or (None, None)
        configuration = load_configuration(experiment.get("configuration", {}), config_vars)
        self.secrets = load_secrets(experiment.get("secrets", {}), configuration, secret_vars)
        self.configuration = load_dynamic_configuration(configuration, self.secrets)
        experiment["title"] = substitute(experiment.get("title", ""), self.configuration, self.secrets)

        self.journal = initialize_run_journal(experiment)
        self.journal["measurements"] = self.journal["steady_states"]["during"]  # the original's alias
        self.dry = experiment.get("dry")
        self.registry = EventHandlerRegistry()
        self.control = Control()
        self.stopper = Stopper()
        self.signals = SignalNotes()
        self.phases = Phases()
        self.run: Run | None = None
        self.reporter = ServerReporter(None, spec)
        self.sampler: Sampler | None = None
        self.activity_pool: Any = None
        self.rollback_pool: Any = None
        self.rollback_strategy: str = self.options.rollback_strategy
        self.with_rollbacks = True
        self.wait = make_waiter(self.stopper, lambda: self.run)
        self.started = time.monotonic()
        self.results = res.summarize(self.journal, 0.0)
        self.result = "failed"

    # ------------------------------------------------------------------ the run

    def execute(self) -> Outcome:
        """Run every phase in order and report; returns once the verification is over."""
        bridge.set_run_kind("verification")
        logger.info("Running verification: %s", self.experiment["title"])
        self.progress.start()
        try:
            with exit_signals(), self.signals:
                self._open()
                try:
                    self._play()
                    self._rollbacks()
                    self._finish()
                finally:
                    self._report()
        finally:
            self.progress.stop()
            bridge.set_run_kind("run")
        return Outcome(self.journal, self.results, self.result, self.phases.items, self.reporter.run_id)

    def _open(self) -> None:
        """Start the run: controls (the chaosiq bridge and its plugins), run events, background pools.

        The rollback strategy is put in the settings before the controls are
        configured and read back after, as ``chaos run`` does: a control may
        replace it (the safeguards plugin makes it obey ``safeguards.rollbacks``
        after a safeguard stop).
        """
        experiment, registry = self.experiment, self.registry
        registry.started(experiment, self.journal)
        _runtime_rollbacks(self.settings)["strategy"] = self.options.rollback_strategy
        initialize_global_controls(
            experiment, self.configuration, self.secrets, self.settings, event_registry=registry
        )
        initialize_controls(experiment, self.configuration, self.secrets, event_registry=registry)
        self.rollback_strategy = (
            _runtime_rollbacks(self.settings).get("strategy") or self.options.rollback_strategy
        )
        self.run = _bridge_run(experiment)
        self.reporter = ServerReporter(
            self.run,
            self.spec,
            execution_wait=self.options.execution_wait,
            request_timeout=self.options.request_timeout,
        )
        registry.register(VerificationEvents(self.reporter, self.progress))
        schedule = Schedule(continuous_hypothesis_frequency=self.spec.frequency)
        registry.running(experiment, self.journal, self.configuration, self.secrets, schedule, self.settings)
        self.activity_pool, self.rollback_pool = get_background_pools(experiment)

    def _play(self) -> None:
        """From the gate to the after-method steady state; a stop ends it in any phase."""
        try:
            self.reporter.start(self.journal, self.wait)
            self.control.begin(
                "experiment", self.experiment, self.experiment, self.configuration, self.secrets
            )
            self.wait(None, 0)
            if not self._gate():
                return
            self._warm_up()
            if not self._conditions():
                return
            self._cool_down()
            self._after_steady_state()
        except InterruptExecution as exc:  # SIGTERM, a safeguard, a control, the sampling failing
            self.journal["status"] = "interrupted"
            logger.critical(str(exc))
            self._note_interruption({"kind": "control", "name": "chaos verify", "reason": str(exc)})
            self.registry.interrupted(self.experiment, self.journal)
        except KeyboardInterrupt:
            self.journal["status"] = "interrupted"
            logger.warning("Received a termination signal (Ctrl-C)...")
            self._note_interruption(signal_record("SIGINT"))
            self.registry.signal_exit()
        except SystemExit as exc:  # SIGUSR1 (rollbacks as the strategy says) or SIGUSR2 (none)
            self.journal["status"] = "interrupted"
            logger.warning("Received the exit signal: %s", exc.code)
            self.with_rollbacks = exc.code != 30
            name = EXIT_SIGNALS.get(exc.code) if isinstance(exc.code, int) else None
            self._note_interruption(
                signal_record(name)
                if name
                else {"kind": "signal", "name": f"exit {exc.code}", "reason": "exit"}
            )
            self.registry.signal_exit()
        finally:
            self.phases.end()
            if self.sampler is not None:
                self.sampler.stop()

    # ---------------------------------------------------------------- phases

    def _gate(self) -> bool:
        """The steady state before any change; ``False`` when it is not met (nothing is applied)."""
        self.phases.begin("gate steady state")
        self.progress.enter("gate steady state")
        gate = run_gate_hypothesis(
            self.experiment, self.journal, self.configuration, self.secrets, self.registry, self.dry
        )
        self.phases.end()
        return gate is not None

    def _warm_up(self) -> None:
        """Sampling starts, then ``warm-up-duration`` seconds pass before any change."""
        self.sampler = Sampler(
            self.spec.frequency,
            self.experiment,
            self.journal,
            self.configuration,
            self.secrets,
            self.registry,
            self.dry,
            self.stopper,
        )
        self.sampler.start()
        self.phases.begin("warm-up", self.spec.warm_up)
        self.progress.enter("warm-up", self.spec.warm_up)
        self.wait(None, self.spec.warm_up)

    def _conditions(self) -> bool:
        """The method, then the conditions held while sampling; sampling stops at their end.

        ``False`` when the method failed (nothing more is applied or checked).
        """
        self.phases.begin("method")
        self.progress.enter("method (conditions)")
        self.reporter.event("verification-condition-started", {})
        state = run_method(
            None,
            self.activity_pool,
            self.experiment,
            self.journal,
            self.configuration,
            self.secrets,
            self.registry,
            self.dry,
        )
        self.phases.end()
        self.reporter.event("verification-condition-completed", {"state": state})
        if state is None or self.journal.get("status") in TERMINAL:
            return False
        duration = self.spec.duration_of_conditions
        self.phases.begin("conditions", duration)
        self.progress.enter("conditions held", duration)
        self.wait(None, duration)
        self.phases.end()
        assert self.sampler is not None
        self.sampler.stop()
        return True

    def _cool_down(self) -> None:
        """``cool-down-duration`` seconds without sampling."""
        self.phases.begin("cool-down", self.spec.cool_down)
        self.progress.enter("cool-down", self.spec.cool_down)
        self.registry.start_cooldown(self.spec.cool_down)
        self.wait(None, self.spec.cool_down)
        self.registry.cooldown_completed()
        self.phases.end()
        self.wait(None, 0)

    def _after_steady_state(self) -> None:
        """The steady state once more, after the conditions (marks the journal deviated if not met)."""
        if self.journal.get("status") in TERMINAL:
            return
        self.phases.begin("after steady state")
        self.progress.enter("after steady state")
        run_deviation_validation_hypothesis(
            self.experiment, self.journal, self.configuration, self.secrets, self.registry, self.dry
        )
        self.phases.end()

    def _rollbacks(self) -> None:
        """The rollbacks, as the rollback strategy says (none after SIGUSR2).

        A sample out of tolerance already made the verification deviated, which
        the ``deviated`` strategy reads. A stop during the rollbacks is caught by
        chaostoolkit-lib (the rest are cut) and recorded here.
        """
        if res.summarize(self.journal, 0.0).deviated_samples:
            self.journal["deviated"] = True
        if not self.with_rollbacks:
            return
        self.phases.begin("rollbacks")
        run_rollback(
            self.rollback_strategy,
            self.rollback_pool,
            self.experiment,
            self.journal,
            self.configuration,
            self.secrets,
            self.registry,
            self.dry,
        )
        self.phases.end()
        if not self.journal.get("rollbacks"):
            self.phases.items.pop()
        if self.journal.get("status") == "interrupted":
            self._note_interruption(
                {"kind": "control", "name": "chaos verify", "reason": "rollbacks interrupted"}
            )

    def _note_interruption(self, fallback: dict[str, str]) -> None:
        """Record why the run was interrupted, unless it already is: a stop request, else the signal
        received, else ``fallback``. (A safeguard stop is recorded again, with its source, by the
        safeguards plugin when the controls see the end.)"""
        if self.stopper.kind is not None:
            record = {"kind": self.stopper.kind, "name": "chaos verify", "reason": self.stopper.reason or ""}
        else:
            record = self.signals.interruption() or fallback
        self.journal.setdefault("interruption", record)

    def _finish(self) -> None:
        """The journal's status, times and verification block; the controls see the end."""
        journal = self.journal
        if journal.get("status") not in ("completed", "failed", "aborted", "interrupted"):
            journal["status"] = "completed"
        results = res.summarize(journal, time.monotonic() - self.started)
        if results.deviated_samples:
            journal["deviated"] = True
        journal["end"] = now_iso()
        journal["duration"] = time.monotonic() - self.started
        self._record(results)
        self.control.with_state(journal)
        try:
            self.control.end("experiment", self.experiment, self.experiment, self.configuration, self.secrets)
        except ChaosException:
            logger.debug("Failed to close controls", exc_info=True)

    def _report(self) -> None:
        """Close the controls, settle the outcome and send the results (whatever happened before)."""
        try:
            cleanup_controls(self.experiment)
            cleanup_global_controls()
        finally:
            self.results = res.summarize(self.journal, time.monotonic() - self.started)
            self.result = res.outcome(self.journal, self.results)
            ext = chaosiq_extension(self.journal, create=True) or {}
            if isinstance(ext.get("verification"), dict):
                ext["verification"]["outcome"] = self.result
            self.reporter.finished(self.journal, self.results.as_payload())
            self.registry.finish(self.journal)

    def _record(self, results: res.Results) -> None:
        """The verification's own block in the journal's ``chaosiq`` extension."""
        spec, reporter = self.spec, self.reporter
        times = self.sampler.sample_times if self.sampler is not None else []
        block: dict[str, Any] = {
            "id": spec.id,
            "run_id": reporter.run_id,
            "warm-up-duration": spec.warm_up,
            "frequency-of-measurement": spec.frequency,
            "duration-of-conditions": spec.duration_of_conditions,
            "cool-down-duration": spec.cool_down,
            "phases": self.phases.items,
            "samples_during_conditions": self.phases.count_in("conditions", times),
            "results": results.as_payload(),
        }
        if reporter.reason and not reporter.run_id:
            block["not_published"] = reporter.reason
        ext = chaosiq_extension(self.journal, create=True)
        if ext is not None:
            ext["verification"] = block


def verify_source(
    source: str,
    *,
    settings: dict[str, Any],
    hooks: Hooks,
    journal_path: str = "./journal.json",
    dry: str | None = None,
    no_validation: bool = False,
    no_verify_tls: bool = False,
    rollback_strategy: str | None = None,
    var: dict[str, Any] | None = None,
    var_file: list[str] | None = None,
) -> int:
    """What ``chaos verify SOURCE`` does: load, run, write the journal, print; returns the exit code."""
    loaded_settings.set(settings)
    experiment_vars = merge_vars(var or {}, var_file or [])
    load_global_controls(settings)
    experiment, spec = load_verification(
        source,
        settings,
        hooks,
        no_verify_tls=no_verify_tls,
        no_validation=no_validation,
        request_timeout=number_option(settings, "request_timeout", 5.0),
    )
    experiment["dry"] = Dry.from_string(dry)
    options = Options.resolve(settings, experiment, rollback_strategy)
    try:
        outcome = VerificationRun(
            experiment,
            spec,
            settings,
            experiment_vars=experiment_vars,
            options=options,
            progress=make_progress(),
        ).execute()
    except ChaosException as exc:  # configuration, secrets or controls could not be loaded
        raise InvalidVerification(str(exc)) from None
    journal = outcome.journal
    if "dry" in journal.get("experiment", {}):
        journal["experiment"]["dry"] = dry
    res.write_journal(journal, journal_path)
    res.print_results(outcome.results, outcome.result, outcome.phases, journal_path, outcome.run_id)
    return outcome.exit_code
