"""The typed facade over pluggy: core code and plugins call ``hooks.before_activity(run, …)``,
never ``pm.hook.chaosiq_…`` nor a hook name in a string.

Every call goes through pluggy itself, so wrappers (``wrapper=True`` and the
old ``hookwrapper=True``), ``firstresult``, ``tryfirst``/``trylast``, pluggy's
tracing and ``add_hookcall_monitoring`` behave as pluggy documents them.

One failing plugin must not stop the others nor the run: when a plugin is
registered, :class:`PluginManager` wraps each of its non-wrapper
implementations so that an exception is logged as one WARNING per plugin and
hook (later ones at DEBUG) and counts as ``None``; pluggy then calls the next
implementation. The hooks whose errors are the user's message
(:data:`STRICT`) are left as they are. A wrapper sees the other
implementations' exceptions, as in pluggy; an exception a wrapper raises
itself is logged once by the facade and the call counts as having no result.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pluggy

from chaosiq_core.types import Outgoing, Scope, Verdict

if TYPE_CHECKING:  # pragma: no cover
    from chaosiq_core.api import ApiClient
    from chaosiq_core.run import Run

logger = logging.getLogger("chaostoolkit.chaosiq")

PREFIX = "chaosiq_"

STRICT = frozenset({"chaosiq_token", "chaosiq_api_scope", "chaosiq_select_scope"})
"""Hooks whose exceptions reach the caller: ``chaos signin`` shows a plugin's
:class:`~chaosiq_core.errors.ChaosIQError` as the one line the user reads."""


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, with each implementation guarded as it is registered."""

    def __init__(self, project_name: str) -> None:
        super().__init__(project_name)
        self._warned: set[tuple[str, str]] = set()
        self._warned_lock = threading.Lock()

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """Register ``plugin`` (pluggy's semantics), then guard its implementations.

        pluggy replays a *historic* hook already called to a plugin inside
        ``register``, before the guard is in place: an exception there reaches
        whoever registers the plugin late (the entry points are registered
        before the historic ``chaosiq_settings_loaded`` is called).
        """
        registered = super().register(plugin, name)
        if registered is None:
            return None
        for caller in self.get_hookcallers(plugin) or ():
            if caller.name in STRICT:
                continue
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and not (impl.wrapper or impl.hookwrapper):
                    # HookImpl.function is typed Final; this is the one place chaosiq
                    # changes a pluggy object, and only to wrap what pluggy calls.
                    impl.function = self._guarded(impl.function, registered, caller.name)  # type: ignore[misc]
        return registered

    def _guarded(self, fn: Callable[..., Any], plugin: str, hook: str) -> Callable[..., Any]:
        @functools.wraps(fn)
        def guarded(*args: Any) -> Any:
            try:
                return fn(*args)
            except Exception as exc:
                self.warn_once(plugin, hook, exc)
                return None

        return guarded

    def warn_once(self, plugin: str, hook: str, exc: BaseException) -> None:
        """One WARNING per plugin and hook; the next failures of the same pair go to DEBUG."""
        with self._warned_lock:
            first = (plugin, hook) not in self._warned
            self._warned.add((plugin, hook))
        if not first:
            logger.debug("chaosiq plugin '%s' failed again in %s", plugin, hook, exc_info=exc)
            return
        logger.warning("chaosiq plugin '%s' failed in %s: %s: %s", plugin, hook, type(exc).__name__, exc)
        logger.debug("traceback of the failure above", exc_info=exc)


class Hooks:
    """One typed method per hook of :mod:`chaosiq_core.hookspecs`, on one plugin manager.

    The run-scoped hooks take the :class:`~chaosiq_core.run.Run` first, as
    tox 4's facade takes the environment: one manager serves every run of a
    process.
    """

    def __init__(self, pm: PluginManager, broken: dict[str, str] | None = None) -> None:
        self.pm = pm
        self.broken: dict[str, str] = dict(broken or {})
        """Features whose plugin failed to import: name → error line."""

    # ------------------------------------------------------------ dispatch

    def _call(self, caller: pluggy.HookCaller, **kwargs: Any) -> Any:
        """Call a hook through pluggy; an exception (a wrapper's own) is logged once."""
        try:
            return caller(**kwargs)
        except Exception as exc:
            self.pm.warn_once(self._wrappers(caller), caller.name, exc)
            return None

    @staticmethod
    def _wrappers(caller: pluggy.HookCaller) -> str:
        names = [i.plugin_name for i in caller.get_hookimpls() if i.wrapper or i.hookwrapper]
        return ", ".join(names) or "?"

    def _all(self, caller: pluggy.HookCaller, **kwargs: Any) -> list[Any]:
        return list(self._call(caller, **kwargs) or ())

    # ----------------------------------------------------------- plugins

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """Register a plugin object by hand (tests, embedding); guarded like an entry point."""
        return self.pm.register(plugin, name)

    def plugin_names(self) -> list[str]:
        """Names of the registered plugins (``core`` included)."""
        return [name for name, _ in self.pm.list_name_plugin()]

    def implemented_by(self, name: str) -> list[str]:
        """The hooks plugin ``name`` implements, without the ``chaosiq_`` prefix, sorted."""
        plugin = self.pm.get_plugin(name)
        callers = self.pm.get_hookcallers(plugin) if plugin is not None else None
        return sorted(c.name.removeprefix(PREFIX) for c in callers or ())

    def can_deliver(self) -> bool:
        """Whether a plugin implements ``chaosiq_deliver`` (the ``publish`` feature is loaded)."""
        return bool(self.pm.hook.chaosiq_deliver.get_hookimpls())

    # ---------------------------------------------------------- settings

    def settings_loaded(self, settings: dict[str, Any]) -> None:
        """Historic: plugins registered later are called too."""
        caller = self.pm.hook.chaosiq_settings_loaded
        try:
            caller.call_historic(kwargs={"settings": settings})
        except Exception as exc:
            self.pm.warn_once(self._wrappers(caller), caller.name, exc)

    def settings_defaults(self) -> dict[str, dict[str, Any]]:
        merged: dict[str, dict[str, Any]] = {}
        for result in self._all(self.pm.hook.chaosiq_settings_defaults):
            if isinstance(result, dict):
                for feature, values in result.items():
                    merged.setdefault(feature, {}).update(values)
        return merged

    # -------------------------------------------------- auth and scope

    def token(self, url: str, settings: dict[str, Any]) -> str | None:
        result: str | None = self.pm.hook.chaosiq_token(url=url, settings=settings)
        return result

    def signin_completed(self, url: str, settings: dict[str, Any], scope: Scope | None) -> None:
        self._call(self.pm.hook.chaosiq_signin_completed, url=url, settings=settings, scope=scope)

    def api_scope(self, settings: dict[str, Any]) -> Scope | None:
        result: Scope | None = self.pm.hook.chaosiq_api_scope(settings=settings)
        return result

    def select_scope(
        self,
        client: ApiClient,
        settings: dict[str, Any],
        org: str | None,
        team: str | None,
        interactive: bool,
    ) -> Scope | None:
        result: Scope | None = self.pm.hook.chaosiq_select_scope(
            client=client, settings=settings, org=org, team=team, interactive=interactive
        )
        return result

    # ------------------------------------------------------------ loading

    def loading_experiment(self, source: str, settings: dict[str, Any]) -> None:
        self._call(self.pm.hook.chaosiq_loading_experiment, source=source, settings=settings)

    def experiment_loaded(
        self, source: str, experiment: dict[str, Any] | None, settings: dict[str, Any]
    ) -> None:
        self._call(
            self.pm.hook.chaosiq_experiment_loaded, source=source, experiment=experiment, settings=settings
        )

    # ---------------------------------------------------------- lifecycle

    def run_configured(self, run: Run) -> None:
        self._call(self.pm.hook.chaosiq_run_configured, run=run)

    def run_started(self, run: Run, journal: dict[str, Any]) -> None:
        self._call(self.pm.hook.chaosiq_run_started, run=run, journal=journal)

    def before_experiment(self, run: Run, experiment: dict[str, Any]) -> None:
        self._call(self.pm.hook.chaosiq_before_experiment, run=run, experiment=experiment)

    def after_experiment(self, run: Run, experiment: dict[str, Any], journal: dict[str, Any]) -> None:
        self._call(self.pm.hook.chaosiq_after_experiment, run=run, experiment=experiment, journal=journal)

    def before_hypothesis(self, run: Run, hypothesis: dict[str, Any]) -> None:
        self._call(self.pm.hook.chaosiq_before_hypothesis, run=run, hypothesis=hypothesis)

    def after_hypothesis(self, run: Run, hypothesis: dict[str, Any], state: dict[str, Any] | None) -> None:
        self._call(self.pm.hook.chaosiq_after_hypothesis, run=run, hypothesis=hypothesis, state=state)

    def before_method(self, run: Run, experiment: dict[str, Any]) -> None:
        self._call(self.pm.hook.chaosiq_before_method, run=run, experiment=experiment)

    def after_method(self, run: Run, experiment: dict[str, Any], state: list[Any] | None) -> None:
        self._call(self.pm.hook.chaosiq_after_method, run=run, experiment=experiment, state=state)

    def before_rollback(self, run: Run, experiment: dict[str, Any]) -> None:
        self._call(self.pm.hook.chaosiq_before_rollback, run=run, experiment=experiment)

    def after_rollback(self, run: Run, experiment: dict[str, Any], state: list[Any] | None) -> None:
        self._call(self.pm.hook.chaosiq_after_rollback, run=run, experiment=experiment, state=state)

    def before_activity(self, run: Run, activity: dict[str, Any]) -> None:
        self._call(self.pm.hook.chaosiq_before_activity, run=run, activity=activity)

    def after_activity(self, run: Run, activity: dict[str, Any], state: dict[str, Any] | None) -> None:
        self._call(self.pm.hook.chaosiq_after_activity, run=run, activity=activity, state=state)

    def continuous_hypothesis_started(self, run: Run, frequency: float) -> None:
        self._call(self.pm.hook.chaosiq_continuous_hypothesis_started, run=run, frequency=frequency)

    def continuous_hypothesis_iteration(self, run: Run, iteration: int, state: dict[str, Any] | None) -> None:
        self._call(
            self.pm.hook.chaosiq_continuous_hypothesis_iteration, run=run, iteration=iteration, state=state
        )

    def continuous_hypothesis_completed(
        self, run: Run, journal: dict[str, Any], exception: BaseException | None
    ) -> None:
        self._call(
            self.pm.hook.chaosiq_continuous_hypothesis_completed,
            run=run,
            journal=journal,
            exception=exception,
        )

    def run_interrupted(self, run: Run, journal: dict[str, Any]) -> None:
        self._call(self.pm.hook.chaosiq_run_interrupted, run=run, journal=journal)

    def run_signal_exit(self, run: Run) -> None:
        self._call(self.pm.hook.chaosiq_run_signal_exit, run=run)

    def run_finished(self, run: Run, journal: dict[str, Any]) -> None:
        self._call(self.pm.hook.chaosiq_run_finished, run=run, journal=journal)

    # --------------------------------------------------------- safeguards

    def safeguard_verdicts(self, run: Run) -> list[Verdict]:
        verdicts: list[Verdict] = []
        for res in self._all(self.pm.hook.chaosiq_safeguard_verdicts, run=run):
            if isinstance(res, Verdict):
                verdicts.append(res)
            elif isinstance(res, Iterable):
                verdicts.extend(v for v in res if isinstance(v, Verdict))
        return verdicts

    def safeguard_triggered(self, run: Run, verdict: Verdict) -> None:
        self._call(self.pm.hook.chaosiq_safeguard_triggered, run=run, verdict=verdict)

    def run_paused(self, run: Run, verdict: Verdict) -> None:
        self._call(self.pm.hook.chaosiq_run_paused, run=run, verdict=verdict)

    def run_resumed(self, run: Run, pause: dict[str, Any]) -> None:
        self._call(self.pm.hook.chaosiq_run_resumed, run=run, pause=pause)

    # ----------------------------------------------------------- delivery

    def deliver(self, run: Run, message: Outgoing) -> bool:
        """``True`` when a plugin accepted ``message`` for delivery (a failing one passes it on)."""
        return bool(self._call(self.pm.hook.chaosiq_deliver, run=run, message=message))

    # ---------------------------------------------------------------- CLI

    def feature_status(self, settings: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
        """Each plugin's ``(label, value)`` status lines, by plugin name (``chaos features --verbose``)."""
        caller = self.pm.hook.chaosiq_feature_status
        plugins = {i.plugin_name: i.plugin for i in caller.get_hookimpls()}
        status: dict[str, list[tuple[str, str]]] = {}
        for name, plugin in plugins.items():
            others = [p for p in plugins.values() if p is not plugin]
            one = self.pm.subset_hook_caller(caller.name, remove_plugins=others)
            try:
                results = one(settings=settings)
            except Exception as exc:  # a wrapper of its own
                self.pm.warn_once(name, caller.name, exc)
                continue
            lines = [
                (str(pair[0]), str(pair[1]))
                for result in results or ()
                for pair in (result if isinstance(result, (list, tuple)) else ())
                if isinstance(pair, (list, tuple)) and len(pair) == 2
            ]
            if lines:
                status[name] = lines
        return status
