"""``chaoscloud.controls``: the original control module name, served by :mod:`chaosiq_core.control`."""

from __future__ import annotations

import logging
from typing import Any

from chaosiq_core import control as _control
from chaosiq_core.control import *  # noqa: F403 - every control function, under the old name

logger = logging.getLogger("chaostoolkit.chaosiq")
_warned = False


def configure_control(
    experiment: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    event_registry: Any = None,
    **kwargs: Any,
) -> None:
    """Say once how to migrate, then configure the run as :mod:`chaosiq_core.control` does.

    The parameters are spelled out: chaostoolkit-lib passes ``experiment``,
    ``settings`` and ``event_registry`` only to functions that name them.
    """
    global _warned
    if not _warned:
        _warned = True
        logger.warning(
            "Your settings still name the original ChaosIQ control (chaoscloud.controls); chaosiq "
            "runs it for you. Run `chaos enable publish` (or `chaos signin`) once to migrate the file."
        )
    _control.configure_control(
        experiment=experiment,
        settings=settings,
        configuration=configuration,
        secrets=secrets,
        event_registry=event_registry,
        **kwargs,
    )
