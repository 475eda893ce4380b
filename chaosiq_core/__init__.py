"""chaosiq-core: the pluggy core of the ChaosIQ extension for Chaos Toolkit.

Plugins implement the hooks of :mod:`chaosiq_core.hookspecs` with
``@chaosiq_core.hookimpl`` and are found through the ``chaosiq`` entry-point
group; the entry-point name is the feature name that ``chaos enable`` and
``chaos disable`` toggle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pluggy

    hookspec: pluggy.HookspecMarker
    hookimpl: pluggy.HookimplMarker

__version__ = "0.1.0"

PROJECT_NAME = "chaosiq"
"""The pluggy project name and the entry-point group of chaosiq plugins."""

CONTROL_NAME = "chaosiq-cloud"
"""The key of the global control in the Chaos Toolkit settings (kept from the original)."""


def __getattr__(name: str) -> Any:
    """``hookspec`` and ``hookimpl``, made on first use: `chaos --help` never imports pluggy."""
    if name in ("hookspec", "hookimpl"):
        import pluggy

        globals()["hookspec"] = pluggy.HookspecMarker(PROJECT_NAME)
        globals()["hookimpl"] = pluggy.HookimplMarker(PROJECT_NAME)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CONTROL_NAME", "PROJECT_NAME", "__version__", "hookimpl", "hookspec"]
