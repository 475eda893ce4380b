"""chaosiq-core: the pluggy core of the ChaosIQ extension for Chaos Toolkit.

Plugins implement the hooks of :mod:`chaosiq_core.hookspecs` with
``@chaosiq_core.hookimpl`` and are found through the ``chaosiq`` entry-point
group; the entry-point name is the feature name that ``chaos enable`` and
``chaos disable`` toggle.
"""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

PROJECT_NAME = "chaosiq"
"""The pluggy project name and the entry-point group of chaosiq plugins."""

CONTROL_NAME = "chaosiq-cloud"
"""The key of the global control in the Chaos Toolkit settings (kept from the original)."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["CONTROL_NAME", "PROJECT_NAME", "__version__", "hookimpl", "hookspec"]
