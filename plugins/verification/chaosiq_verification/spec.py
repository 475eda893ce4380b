"""The ``verification`` block of a verification's ``chaosiq`` extension and its validation.

The original's messages are kept word for word; type and
range checks come on top: every duration is a non-negative number of seconds
and the frequency of measurement is strictly positive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from chaosiq_core.errors import ChaosIQError
from chaosiq_core.journal import EXTENSION_NAME


class InvalidVerification(ChaosIQError):
    """The document is not a runnable verification (exit code :data:`results.EXIT_INVALID`)."""

    exit_code = 2


@dataclass(frozen=True)
class VerificationSpec:
    """What ``chaos verify`` needs from the extension block, in seconds."""

    id: str | None
    frequency: float
    duration_of_conditions: float
    warm_up: float = 0.0
    cool_down: float = 0.0
    experiment_id: str | None = None
    team_id: str | None = None


def _chaosiq_extensions(experiment: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e
        for e in experiment.get("extensions") or []
        if isinstance(e, dict) and e.get("name") == EXTENSION_NAME
    ]


def _seconds(block: dict[str, Any], key: str, *, required: bool, positive: bool = False) -> float:
    if key not in block or block[key] is None:
        if required:
            raise InvalidVerification(f"a verification must have a {key} block")
        return 0.0
    value = block[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidVerification(
            f"'{key}' must be a number of seconds, got {type(value).__name__} {value!r}"
        )
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        raise InvalidVerification(f"'{key}' must be a finite number of seconds, got {value}")
    if positive and value <= 0:
        raise InvalidVerification(f"'{key}' must be greater than 0 seconds, got {value:g}")
    if value < 0:
        raise InvalidVerification(f"'{key}' must not be negative, got {value:g}")
    return value


def parse_verification(experiment: dict[str, Any], *, require_id: bool = True) -> VerificationSpec:
    """Read and check the verification block of ``experiment``.

    :param require_id: ``False`` with ``--no-validation``: a verification
        without an id still runs, locally only.
    :raises InvalidVerification: with the original's message, or a type/range error.
    """
    if not experiment.get("extensions"):
        raise InvalidVerification("a verification must have an extensions block")
    found = _chaosiq_extensions(experiment)
    if len(found) != 1:
        raise InvalidVerification("a verification must have a single chaosiq extension block")
    ext = found[0]
    block = ext.get("verification")
    if not isinstance(block, dict):
        if "verification" in ext and block is not None:
            raise InvalidVerification("the verification block must be a mapping")
        raise InvalidVerification("a verification must have a verification block")
    vid = block.get("id")
    if not vid and require_id:
        raise InvalidVerification("a verification must have an id")
    frequency = _seconds(block, "frequency-of-measurement", required=True, positive=True)
    duration = _seconds(block, "duration-of-conditions", required=True)
    warm_up = _seconds(block, "warm-up-duration", required=False)
    cool_down = _seconds(block, "cool-down-duration", required=False)
    return VerificationSpec(
        id=str(vid) if vid else None,
        frequency=frequency,
        duration_of_conditions=duration,
        warm_up=warm_up,
        cool_down=cool_down,
        experiment_id=str(ext["experiment_id"]) if ext.get("experiment_id") else None,
        team_id=str(ext["team_id"]) if ext.get("team_id") else None,
    )


def has_steady_state_probes(experiment: dict[str, Any]) -> bool:
    """``True`` when the steady-state hypothesis has at least one probe to sample."""
    hypo = experiment.get("steady-state-hypothesis")
    return isinstance(hypo, dict) and bool(hypo.get("probes"))


def ensure_verification_is_valid(experiment: dict[str, Any]) -> VerificationSpec:
    """chaostoolkit-lib's experiment validation, then the verification checks."""
    from chaoslib.experiment import ensure_experiment_is_valid

    ensure_experiment_is_valid(experiment)
    spec = parse_verification(experiment)
    if not has_steady_state_probes(experiment):
        raise InvalidVerification(
            "a verification must have a steady-state hypothesis with at least one probe to sample"
        )
    return spec
