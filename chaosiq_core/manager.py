"""Build the plugin manager: block disabled features, then load entry points one by one.

There is no plugin manager at import time: every ``chaos`` command and every
run builds its own with :func:`make_hooks`, and tests build a fresh one each.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Any

from chaosiq_core import PROJECT_NAME, defaults, hookspecs
from chaosiq_core import settings as s
from chaosiq_core.hooks import Hooks, PluginManager

logger = logging.getLogger("chaostoolkit.chaosiq")

DISABLE_ENV = "CHAOSIQ_DISABLE_PLUGINS"
"""Comma-separated features to skip whatever the settings say; ``*`` skips every plugin."""

ESSENTIAL = ("core",)
"""Plugins that cannot be disabled."""


@dataclass
class Feature:
    """One feature as ``chaos features`` lists it."""

    name: str
    distribution: str | None
    version: str | None
    module: str
    enabled: bool
    loaded: bool = False
    error: str | None = None

    @property
    def state(self) -> str:
        if not self.enabled:
            return "disabled"
        return "broken" if self.error else ("loaded" if self.loaded else "not loaded")

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["state"] = self.state
        return d


def entry_points() -> list[metadata.EntryPoint]:
    """The installed entry points of group ``chaosiq``, sorted by name (first one per name)."""
    seen: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=PROJECT_NAME):
        seen.setdefault(ep.name, ep)
    return [seen[k] for k in sorted(seen)]


def blocked_names(settings: dict[str, Any]) -> set[str]:
    """Features that must not be loaded: turned off in settings or in ``CHAOSIQ_DISABLE_PLUGINS``."""
    names = s.disabled_features(settings)
    names.update(n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip())
    return names


def new_plugin_manager() -> PluginManager:
    """A manager with the hookspecs and the core defaults, and no plugin loaded."""
    pm = PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    pm.register(defaults, name="core")
    return pm


def make_hooks(
    settings: dict[str, Any] | None = None,
    *,
    load_entrypoints: bool = True,
    plugins: dict[str, object] | None = None,
) -> Hooks:
    """Build a plugin manager for ``settings`` and return its :class:`Hooks` facade.

    :param settings: the Chaos Toolkit settings (features turned off there are
        blocked before any entry point is imported).
    :param load_entrypoints: ``False`` in tests that register plugins by hand.
    :param plugins: extra plugin objects to register by name (tests, embedding).
    """
    settings = settings or {}
    pm = new_plugin_manager()
    blocked = blocked_names(settings)
    load_all = "*" not in blocked
    for name in blocked - set(ESSENTIAL):
        pm.set_blocked(name)
    broken: dict[str, str] = {}
    if load_entrypoints and load_all:
        for ep in entry_points():
            if pm.is_blocked(ep.name) or pm.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
                pm.register(plugin, name=ep.name)
            except Exception as exc:
                broken[ep.name] = f"{type(exc).__name__}: {exc}"
                _report_broken(ep, broken[ep.name])
    for name, plugin in (plugins or {}).items():
        if not pm.is_blocked(name):
            pm.register(plugin, name=name)
    hooks = Hooks(pm, broken)
    hooks.settings_loaded(settings)
    return hooks


_reported: set[tuple[str, str]] = set()
"""Broken features already reported by this process (``chaos verify`` builds two managers)."""


def _report_broken(ep: metadata.EntryPoint, error: str) -> None:
    if (ep.name, error) in _reported:
        logger.debug("chaosiq feature '%s' failed to load again: %s", ep.name, error)
        return
    _reported.add((ep.name, error))
    dist = getattr(ep, "dist", None)
    where = f" ({dist.name})" if dist is not None else ""
    fix = f"reinstall {dist.name}" if dist is not None else "reinstall it"
    logger.warning(
        "chaosiq feature '%s'%s failed to load and is skipped: %s (%s, or turn it off: chaos disable %s)",
        ep.name,
        where,
        error,
        fix,
        ep.name,
    )


def list_features(settings: dict[str, Any], hooks: Hooks | None = None) -> list[Feature]:
    """Every installed feature with its distribution, version and state."""
    hooks = hooks if hooks is not None else make_hooks(settings)
    blocked = blocked_names(settings)
    out: list[Feature] = []
    for ep in entry_points():
        dist = getattr(ep, "dist", None)
        enabled = ep.name not in blocked and "*" not in blocked
        out.append(
            Feature(
                name=ep.name,
                distribution=dist.name if dist is not None else None,
                version=dist.version if dist is not None else None,
                module=ep.value,
                enabled=enabled,
                loaded=enabled and hooks.pm.has_plugin(ep.name),
                error=hooks.broken.get(ep.name),
            )
        )
    return out


KNOWN_DISTRIBUTIONS = {
    "publish": "chaosiq-publisher",
    "safeguards": "chaosiq-safeguards",
    "verification": "chaosiq-verification",
    "teams": "chaosiq-teams",
}
"""Features of the chaosiq project, to tell users what to install."""

LEGACY_TOGGLES = {"workspace": "publish"}
"""Toggles of the original that live inside one of our features."""


@dataclass(frozen=True)
class Unavailable:
    """A feature the settings turn on that this run goes without."""

    name: str
    broken: str | None
    """The import error when it is installed but failed to load; ``None`` when not installed."""
    fail_closed: bool
    """Its options say ``on_error: fail-closed``: the run must not start without it."""

    @property
    def advice(self) -> str:
        """How to get it back, or turn it off."""
        off = f"chaos disable {self.name}"
        if self.broken is not None:
            return f"reinstall it, or turn it off: {off}"
        dist = KNOWN_DISTRIBUTIONS.get(self.name)
        if dist is not None:
            return f"install it (pip install {dist}), or turn it off: {off}"
        return f"no installed distribution provides it; install the plugin that does, or turn it off: {off}"

    def line(self) -> str:
        what = f"failed to load ({self.broken})" if self.broken is not None else "is not installed"
        return f"chaosiq: the '{self.name}' feature is on in your settings but {what}: {self.advice}"


def unavailable_features(settings: dict[str, Any], hooks: Hooks) -> list[Unavailable]:
    """Features the settings name as on that are not installed, or failed to load.

    A feature the settings do not name is not asked for; one turned off for
    this run with ``CHAOSIQ_DISABLE_PLUGINS`` is not either.
    """
    installed = {ep.name for ep in entry_points()}
    skipped = blocked_names(settings)
    out: list[Unavailable] = []
    for name in sorted(s.enabled_features(settings)):
        if name in ESSENTIAL or name in LEGACY_TOGGLES or name in skipped or "*" in skipped:
            continue
        if name in installed and name not in hooks.broken:
            continue
        out.append(Unavailable(name, hooks.broken.get(name), s.fails_closed(settings, name)))
    return out
