"""The Chaos Toolkit control that bridges a run to the chaosiq hooks.

``chaos signin`` declares this module as the global control ``chaosiq-cloud``
in the settings. Chaos Toolkit then calls the module-level functions below at
every control point, and the :class:`RunEventBridge` registered from
``configure_control(event_registry=...)`` receives the run events. Each
forwards to the hooks of :mod:`chaosiq_core.hookspecs`.

Promises made to Chaos Toolkit:

* nothing but ``InterruptExecution`` is ever raised into chaostoolkit-lib, except
  ``SystemExit`` before the experiment is loaded, when a feature the settings
  turn on with ``on_error: fail-closed`` is missing (nothing has started then);
* ``settings`` being ``None`` (worker threads) does not matter: the run keeps
  the settings captured in ``configure_control``;
* being configured twice (global and experiment control) is harmless;
* the run thread never waits on the network here; plugins queue their work.
"""

from __future__ import annotations

import inspect
import logging
import threading
from typing import Any, cast

from chaoslib.exceptions import InterruptExecution
from chaoslib.run import RunEventHandler

from chaosiq_core import CONTROL_NAME
from chaosiq_core import settings as s
from chaosiq_core.api import ApiClient
from chaosiq_core.control_log import quiet_activity_lines
from chaosiq_core.errors import ChaosIQError
from chaosiq_core.hooks import Hooks
from chaosiq_core.journal import chaosiq_extension
from chaosiq_core.manager import make_hooks, unavailable_features
from chaosiq_core.pause import hold
from chaosiq_core.run import Run
from chaosiq_core.types import Verdict

logger = logging.getLogger("chaostoolkit.chaosiq")
LEGACY_MODULE = "chaoscloud.controls"
"""The original's control module: a settings file may still name it (it forwards here)."""

__all__ = [
    "after_activity_control",
    "after_experiment_control",
    "after_hypothesis_control",
    "after_loading_experiment_control",
    "after_method_control",
    "after_rollback_control",
    "before_activity_control",
    "before_experiment_control",
    "before_hypothesis_control",
    "before_loading_experiment_control",
    "before_method_control",
    "before_rollback_control",
    "cleanup_control",
    "configure_control",
    "current_run",
]


class _State:
    """What the bridge remembers between control calls of one process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.hooks: Hooks | None = None
        self.settings_id: int | None = None
        self.run: Run | None = None
        self.source: str | None = None
        self.kind: str = "run"
        self.checked = False
        """The features the settings turn on were checked (once per process, see ``reset``)."""


_state = _State()


def current_run() -> Run | None:
    """The run being executed in this process, if any."""
    return _state.run


def set_run_kind(kind: str) -> None:
    """Mark the next run as ``kind`` (``chaos verify`` sets ``verification``)."""
    _state.kind = kind


def reset() -> None:
    """Forget every run and plugin manager (tests, or a process running several runs)."""
    with _state.lock:
        _state.hooks = None
        _state.settings_id = None
        _state.run = None
        _state.source = None
        _state.kind = "run"
        _state.checked = False


def _loaded_settings(settings: dict[str, Any] | None) -> dict[str, Any]:
    if settings:
        return settings
    try:
        from chaoslib.settings import get_loaded_settings

        return get_loaded_settings() or {}
    except Exception:
        return {}


def _hooks_for(settings: dict[str, Any]) -> Hooks:
    with _state.lock:
        if _state.hooks is None or (_state.settings_id != id(settings) and settings):
            _state.hooks = make_hooks(settings)
            _state.settings_id = id(settings)
        return _state.hooks


def _guard(what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ``fn``; log anything it raises once and swallow it (never into chaoslib)."""
    try:
        return fn(*args, **kwargs)
    except InterruptExecution:
        raise
    except Exception as exc:
        logger.warning("chaosiq: %s failed: %s: %s", what, type(exc).__name__, exc)
        logger.debug("traceback", exc_info=exc)
        return None


# ------------------------------------------------------------------- loading


def before_loading_experiment_control(context: str, settings: Any = None, **kwargs: Any) -> None:
    """Chaos Toolkit is about to load ``context`` (a path or URL): the first call of a run."""
    settings = _loaded_settings(settings)
    _state.source = context
    hooks = _guard("loading chaosiq plugins", _hooks_for, settings)
    if hooks is None:
        return
    refusal = _guard("checking the features", _check_features, settings, hooks)
    if refusal is not None:
        # Nothing has started yet: not a line of the experiment has run, nothing was
        # sent. SystemExit is the one exception chaostoolkit-lib's controls let through
        # besides InterruptExecution, and `chaos run` lets it end the process.
        logger.error("%s", refusal)
        raise SystemExit(1)
    _guard("loading hooks", hooks.loading_experiment, context, settings)


def after_loading_experiment_control(
    context: str, state: Any = None, settings: Any = None, **kwargs: Any
) -> None:
    """The experiment was parsed from ``context``."""
    settings = _loaded_settings(settings)
    _guard("loading hooks", lambda: _hooks_for(settings).experiment_loaded(context, state, settings))


def _check_features(settings: dict[str, Any], hooks: Hooks) -> str | None:
    """Warn once about each feature the settings turn on and this run goes without.

    Returns the line to refuse the run with when one of them fails closed.
    """
    with _state.lock:
        if _state.checked:
            return None
        _state.checked = True
    refusal = None
    for missing in unavailable_features(settings, hooks):
        if missing.fail_closed and refusal is None:
            refusal = (
                f"{missing.line()}. Its on_error option is '{s.FAIL_CLOSED}': "
                "the run does not start without it."
            )
        elif missing.broken is None:  # a broken one was reported as it failed to load
            logger.warning("%s", missing.line())
    return refusal


# --------------------------------------------------------------- configuring


def configure_control(
    experiment: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    event_registry: Any = None,
    url: str | None = None,
    verify_tls: Any = None,
    organizations: Any = None,
    **kwargs: Any,
) -> None:
    """Create the :class:`Run` and start the plugins (once per run)."""
    settings = _loaded_settings(settings)
    if experiment is None:
        return
    existing = _state.run
    if existing is not None and existing.experiment is experiment and not existing.finished.is_set():
        logger.debug("chaosiq control configured twice for the same run: ignoring the second")
        return
    hooks = _guard("loading chaosiq plugins", _hooks_for, settings)
    if hooks is None:
        return
    # Declared in the experiment only, the control missed the loading stage.
    refusal = _guard("checking the features", _check_features, settings, hooks)
    client = None
    try:
        client = ApiClient.for_settings(settings, hooks, url=url, verify_tls=s.parse_flag(verify_tls))
    except ChaosIQError as exc:
        logger.warning("chaosiq: not talking to the server: %s", exc)
    run = Run(
        settings=settings,
        experiment=experiment,
        hooks=hooks,
        client=client,
        source=_state.source,
        configuration=configuration,
        secrets=secrets,
        kind=_state.kind,
    )
    run._defaults = _guard("reading plugin defaults", hooks.settings_defaults) or {}
    _state.run = run
    if refusal is not None:
        run.request_stop(Verdict.stop("chaosiq", refusal))
    if event_registry is not None:
        event_registry.register(RunEventBridge(run))
    hooks.run_configured(run)


def cleanup_control(**kwargs: Any) -> None:
    """Nothing to clean: threads end in ``after_experiment``/``finish``."""


# ------------------------------------------------------------- control points
#
# What the hooks are told is what happened. chaostoolkit-lib calls the
# after-control of every control of a step, even when an earlier
# before-control (the experiment's own, which it puts first) interrupted the
# step before ours was called: such a step never started, and its "after" is
# not passed on. When an experiment declares controls of its own,
# chaostoolkit-lib applies only those at the method and rollback levels: the
# run events it sends around them (``start_method``, ``method_completed``, …)
# open and close those phases instead, in the same places.


def _interrupt_if_stopping(run: Run) -> None:
    """Raise ``InterruptExecution`` once, on the main thread, when a stop was requested."""
    verdict = run.stop_verdict
    if verdict is None or run.finished.is_set():
        return
    if threading.current_thread() is not threading.main_thread():
        return
    if not run.claim_interrupt():
        return
    if verdict.source == "chaosiq":
        raise InterruptExecution(verdict.reason)
    raise InterruptExecution(f"chaosiq safeguard '{verdict.source}' stopped the run: {verdict.reason}")


def before_experiment_control(context: dict[str, Any], **kwargs: Any) -> None:
    run = _state.run
    if run is None or not run.first_time("before_experiment"):
        return
    run.hooks.before_experiment(run, context)
    _interrupt_if_stopping(run)


def after_experiment_control(context: dict[str, Any], state: dict[str, Any], **kwargs: Any) -> None:
    run = _state.run
    if run is None or not run.first_time("after_experiment"):
        return
    run.journal = state
    _guard("after-experiment hooks", run.hooks.after_experiment, run, context, state)
    run.finished.set()
    if isinstance(state, dict) and run.journal_extension:
        _guard("writing the journal extension", _write_extension, state, run.journal_extension)


def _write_extension(journal: dict[str, Any], values: dict[str, Any]) -> None:
    ext = chaosiq_extension(journal, create=True)
    if ext is not None:
        ext.update(values)


def before_hypothesis_control(context: dict[str, Any], **kwargs: Any) -> None:
    run = _state.run
    if run is None:
        return
    run.began("hypothesis", context)
    run.hooks.before_hypothesis(run, context)
    _interrupt_if_stopping(run)


def after_hypothesis_control(context: dict[str, Any], state: Any = None, **kwargs: Any) -> None:
    run = _state.run
    if run is None or not run.ends("hypothesis", context):
        return
    run.hooks.after_hypothesis(run, context, state)
    _interrupt_if_stopping(run)


def _begin_method(run: Run, experiment: dict[str, Any]) -> None:
    if run.begin_phase("method"):
        run.hooks.before_method(run, experiment)


def _end_method(run: Run, experiment: dict[str, Any], state: Any) -> None:
    if run.end_phase("method"):
        run.hooks.after_method(run, experiment, state)


def _begin_rollback(run: Run, experiment: dict[str, Any]) -> None:
    if run.begin_phase("rollback"):
        run.hooks.before_rollback(run, experiment)


def _end_rollback(run: Run, experiment: dict[str, Any], state: Any) -> None:
    if run.end_phase("rollback"):
        run.hooks.after_rollback(run, experiment, state)


def before_method_control(context: dict[str, Any], **kwargs: Any) -> None:
    run = _state.run
    if run is None:
        return
    _begin_method(run, context)
    _interrupt_if_stopping(run)


def after_method_control(context: dict[str, Any], state: Any = None, **kwargs: Any) -> None:
    run = _state.run
    if run is None:
        return
    _end_method(run, context, state)
    _interrupt_if_stopping(run)


def before_rollback_control(context: dict[str, Any], **kwargs: Any) -> None:
    run = _state.run
    if run is not None:
        _begin_rollback(run, context)


def after_rollback_control(context: dict[str, Any], state: Any = None, **kwargs: Any) -> None:
    run = _state.run
    if run is not None:
        _end_rollback(run, context, state)


def before_activity_control(context: dict[str, Any], **kwargs: Any) -> None:
    run = _state.run
    if run is None:
        return
    if run.pause_verdict is not None and not run.in_phase("rollback"):
        hold(run)  # a pause holds the run here, before the activity starts (rollbacks never)
        _interrupt_if_stopping(run)
    run.began("activity", context)
    run.hooks.before_activity(run, context)
    _interrupt_if_stopping(run)


def after_activity_control(context: dict[str, Any], state: Any = None, **kwargs: Any) -> None:
    run = _state.run
    if run is None or not run.ends("activity", context):
        return
    run.hooks.after_activity(run, context, state)
    _interrupt_if_stopping(run)


# ------------------------------------------------- cost of a control call
#
# chaostoolkit-lib, at every control point (two per activity), deep-copies the
# control's ``provider.arguments``, substitutes configuration and secrets into
# them and calls ``inspect.signature`` on the function. Our arguments (url,
# verify_tls and the organizations list) are only needed by
# ``configure_control``; those copies and the signature were half of what a
# control call cost (benchmarks/RESULTS.md). Both are avoided below, through
# chaostoolkit-lib's public functions only.


def _lighten_global_control(settings: dict[str, Any] | None) -> None:
    """Once the controls are initialised, run with a copy of ours without arguments.

    The settings dict itself is not changed (plugins keep reading the
    organizations from it): only chaostoolkit-lib's list of global controls
    gets an equivalent entry whose ``arguments`` are empty.
    """
    try:
        from chaoslib.control import get_global_controls, set_global_controls

        ours = ((settings or {}).get("controls") or {}).get(CONTROL_NAME)
        current = get_global_controls()
        if not isinstance(ours, dict) or not any(c is ours for c in current):
            return
        provider = ours.get("provider") or {}
        if provider.get("module") != __name__ or not provider.get("arguments"):
            return
        lean = {**ours, "provider": {k: v for k, v in provider.items() if k != "arguments"}}
        set_global_controls([lean if c is ours else c for c in current])
    except Exception as exc:  # an optimisation: never a reason to fail a run
        logger.debug("chaosiq: keeping the global control as it is: %s", exc)


def _quiet_control_lines(experiment: Any) -> None:
    """Drop chaostoolkit-lib's per-activity DEBUG lines about this control (see :mod:`.control_log`)."""
    try:
        from chaoslib.control import get_global_controls

        declared = list(get_global_controls())
        if isinstance(experiment, dict):
            declared += [c for c in experiment.get("controls") or () if isinstance(c, dict)]
        names = {
            c.get("name")
            for c in declared
            if isinstance(c.get("provider"), dict)
            and c["provider"].get("module") in (__name__, LEGACY_MODULE)
        }
        if names:
            quiet_activity_lines({n for n in names if isinstance(n, str)}, globals())
    except Exception as exc:  # an optimisation: never a reason to fail a run
        logger.debug("chaosiq: keeping chaostoolkit-lib's control log lines: %s", exc)


def _cache_signatures() -> None:
    """chaostoolkit-lib calls ``inspect.signature`` at every control call: precompute it."""
    for name in __all__:
        fn = globals()[name]
        if inspect.isfunction(fn) and name.endswith("_control"):
            cast(Any, fn).__signature__ = inspect.signature(fn)


# -------------------------------------------------------------- run events


class RunEventBridge(RunEventHandler):  # type: ignore[misc]  # chaostoolkit-lib has no type information
    """Forwards chaostoolkit-lib's run events to the hooks of one run."""

    def __init__(self, run: Run) -> None:
        self.run = run

    def running(
        self,
        experiment: Any,
        journal: Any,
        configuration: Any = None,
        secrets: Any = None,
        schedule: Any = None,
        settings: Any = None,
    ) -> None:
        _lighten_global_control(self.run.settings)
        _quiet_control_lines(experiment)
        self.run.journal = journal
        if configuration is not None:
            self.run.configuration = configuration
        if secrets is not None:
            self.run.secrets = secrets
        self.run.hooks.run_started(self.run, journal)

    # The phases, when chaostoolkit-lib leaves our control out of them (see above).
    def start_method(self, experiment: Any) -> None:
        _begin_method(self.run, experiment)

    def method_completed(self, experiment: Any, state: Any = None) -> None:
        _end_method(self.run, experiment, state)

    def start_rollbacks(self, experiment: Any) -> None:
        _begin_rollback(self.run, experiment)

    def rollbacks_completed(self, experiment: Any, journal: Any) -> None:
        runs = journal.get("rollbacks") if isinstance(journal, dict) else None
        _end_rollback(self.run, experiment, runs)

    def start_continuous_hypothesis(self, frequency: Any) -> None:
        self.run.hooks.continuous_hypothesis_started(self.run, frequency)

    def continuous_hypothesis_iteration(self, iteration_index: int, state: Any) -> None:
        self.run.hooks.continuous_hypothesis_iteration(self.run, iteration_index, state)

    def continuous_hypothesis_completed(self, experiment: Any, journal: Any, exception: Any = None) -> None:
        self.run.hooks.continuous_hypothesis_completed(self.run, journal, exception)

    def interrupted(self, experiment: Any, journal: Any) -> None:
        self.run.hooks.run_interrupted(self.run, journal)

    def signal_exit(self) -> None:
        self.run.hooks.run_signal_exit(self.run)

    def finish(self, journal: Any) -> None:
        self.run.journal = journal
        self.run.finished.set()
        try:
            self.run.hooks.run_finished(self.run, journal)
        finally:
            if _state.run is self.run:
                _state.run = None


_cache_signatures()
