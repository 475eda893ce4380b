"""A small typed facade over the plugin manager: core code never spells ``pm.hook.x``.

Lifecycle hooks are dispatched implementation by implementation so that one
failing plugin neither stops the others nor the run: its exception is logged
once per plugin and hook as a WARNING and the next implementation is called.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pluggy

from chaosiq_core.types import Outgoing, Scope, Verdict

if TYPE_CHECKING:  # pragma: no cover
    from chaosiq_core.api import ApiClient
    from chaosiq_core.run import Run

logger = logging.getLogger("chaostoolkit.chaosiq")


class Hooks:
    """Typed calls of the chaosiq hooks on one plugin manager."""

    def __init__(self, pm: pluggy.PluginManager, broken: dict[str, str] | None = None) -> None:
        self.pm = pm
        self.broken: dict[str, str] = dict(broken or {})
        """Features whose plugin failed to import: name → error line."""
        self._warned: set[tuple[str, str]] = set()
        self._warned_lock = threading.Lock()

    # ---------------------------------------------------- generic dispatch

    def call(self, name: str, **kwargs: Any) -> list[Any]:
        """Call every implementation of ``chaosiq_<name>``; return their non-None results.

        Implementations run in pluggy's order (tryfirst, LIFO registration,
        trylast); an exception in one is logged and does not stop the others.
        """
        caller = getattr(self.pm.hook, f"chaosiq_{name}")
        results: list[Any] = []
        for impl in reversed(caller.get_hookimpls()):
            try:
                res = impl.function(*[kwargs[a] for a in impl.argnames])
            except Exception as exc:
                self._warn_once(impl.plugin_name, name, exc)
                continue
            if res is not None:
                results.append(res)
        return results

    def _warn_once(self, plugin: str, hook: str, exc: BaseException) -> None:
        with self._warned_lock:
            if (plugin, hook) in self._warned:
                logger.debug("chaosiq plugin '%s' failed again in %s", plugin, hook, exc_info=exc)
                return
            self._warned.add((plugin, hook))
        logger.warning(
            "chaosiq plugin '%s' failed in chaosiq_%s: %s: %s", plugin, hook, type(exc).__name__, exc
        )
        logger.debug("traceback of the failure above", exc_info=exc)

    def first(self, name: str, **kwargs: Any) -> Any:
        """Result of a ``firstresult`` hook (pluggy semantics, exceptions propagate)."""
        return getattr(self.pm.hook, f"chaosiq_{name}")(**kwargs)

    # -------------------------------------------------------- typed calls

    def token(self, url: str, settings: dict[str, Any]) -> str | None:
        return self.first("token", url=url, settings=settings)

    def api_scope(self, settings: dict[str, Any]) -> Scope | None:
        return self.first("api_scope", settings=settings)

    def select_scope(
        self,
        client: ApiClient,
        settings: dict[str, Any],
        org: str | None,
        team: str | None,
        interactive: bool,
    ) -> Scope | None:
        return self.first(
            "select_scope",
            client=client,
            settings=settings,
            org=org,
            team=team,
            interactive=interactive,
        )

    def signin_completed(self, url: str, settings: dict[str, Any], scope: Scope | None) -> None:
        self.call("signin_completed", url=url, settings=settings, scope=scope)

    def settings_defaults(self) -> dict[str, dict[str, Any]]:
        merged: dict[str, dict[str, Any]] = {}
        for result in self.call("settings_defaults"):
            for feature, values in result.items():
                merged.setdefault(feature, {}).update(values)
        return merged

    def safeguard_verdicts(self, run: Run) -> list[Verdict]:
        verdicts: list[Verdict] = []
        for res in self.call("safeguard_verdicts", run=run):
            if isinstance(res, Verdict):
                verdicts.append(res)
            elif isinstance(res, Iterable):
                verdicts.extend(v for v in res if isinstance(v, Verdict))
        return verdicts

    def deliver(self, run: Run, message: Outgoing) -> bool:
        try:
            return bool(self.first("deliver", run=run, message=message))
        except Exception as exc:
            self._warn_once("deliver", "deliver", exc)
            return False

    def feature_status(self, settings: dict[str, Any]) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        for res in self.call("feature_status", settings=settings):
            pairs.extend(res)
        return pairs
