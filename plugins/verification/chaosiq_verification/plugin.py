"""The ``verification`` feature's hook implementations.

The verification itself is driven by ``chaos verify`` (:mod:`.cli`, :mod:`.runner`); the
hooks give the feature its defaults and its line in ``chaos features``.
"""

from __future__ import annotations

from typing import Any

from chaosiq_core import hookimpl
from chaosiq_verification import FEATURE


@hookimpl
def chaosiq_settings_defaults() -> dict[str, Any]:
    """``execution_wait``: seconds to wait for the publisher's execution before creating the
    verification run; ``request_timeout``: read timeout of that call."""
    return {FEATURE: {"execution_wait": 10.0, "request_timeout": 5.0}}


@hookimpl
def chaosiq_feature_status(settings: dict[str, Any]) -> list[tuple[str, str]]:
    """The command this feature adds."""
    return [("command", "chaos verify SOURCE")]
