"""Loading SOURCE into a verification: fetched once, validated, its team checked."""

from __future__ import annotations

import logging
from typing import Any

from chaoslib.exceptions import ChaosException, InvalidSource
from chaoslib.loader import load_experiment

from chaosiq_core.hooks import Hooks
from chaosiq_verification.spec import (
    InvalidVerification,
    VerificationSpec,
    ensure_verification_is_valid,
    parse_verification,
)
from chaosiq_verification.team import switch_team

logger = logging.getLogger("chaostoolkit.chaosiq.verification")


def load_verification(
    source: str,
    settings: dict[str, Any],
    hooks: Hooks,
    *,
    no_verify_tls: bool,
    no_validation: bool,
    request_timeout: float,
) -> tuple[dict[str, Any], VerificationSpec]:
    """Load SOURCE (once), validate it and switch team when it belongs to another one.

    Every problem is an :class:`InvalidVerification` (one line, exit code 2).
    """
    try:
        experiment = load_experiment(source, settings, verify_tls=not no_verify_tls)
    except InvalidSource as exc:
        raise InvalidVerification(str(exc)) from None
    except ChaosException as exc:
        raise InvalidVerification(f"cannot load {source}: {exc}") from None
    if not isinstance(experiment, dict):
        raise InvalidVerification(f"{source} does not hold a verification")
    try:
        spec = (
            parse_verification(experiment, require_id=False)
            if no_validation
            else ensure_verification_is_valid(experiment)
        )
    except InvalidVerification:
        raise
    except ChaosException as exc:
        raise InvalidVerification(str(exc)) from None
    if not no_validation:
        logger.info("Verification looks valid")
    switch_team(settings, spec.team_id, hooks, timeout=request_timeout)
    return experiment, spec
