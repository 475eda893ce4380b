"""An experiment's configuration and secrets, loaded outside a run as ``chaos run`` loads them."""

from __future__ import annotations

from typing import Any

from chaosiq_core.errors import ChaosIQError


def configuration_and_secrets(experiment: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The experiment's configuration and secrets, their ``env``/``vault`` values loaded (not its
    dynamic configuration, which runs activities); :class:`ChaosIQError` when they cannot be."""
    from chaoslib.configuration import load_configuration
    from chaoslib.secret import load_secrets

    try:
        configuration = load_configuration(experiment.get("configuration") or {})
        return configuration, load_secrets(experiment.get("secrets") or {}, configuration)
    except Exception as exc:
        what = f"{type(exc).__name__}: {exc}"
        raise ChaosIQError(f"cannot load the experiment's configuration or secrets ({what})") from None
