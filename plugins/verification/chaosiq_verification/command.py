"""What ``chaos verify`` does, step by step (imported only when the command runs)."""

from __future__ import annotations

import logging
from typing import Any

import click
from chaoslib import merge_vars
from chaoslib.control import load_global_controls
from chaoslib.exceptions import ChaosException, InvalidSource
from chaoslib.loader import load_experiment
from chaoslib.settings import loaded_settings
from chaoslib.types import Dry

from chaosiq_core import settings as s
from chaosiq_core.hooks import Hooks
from chaosiq_core.serialize import dumps
from chaosiq_verification import FEATURE
from chaosiq_verification import results as res
from chaosiq_verification.progress import make_progress
from chaosiq_verification.spec import (
    InvalidVerification,
    VerificationSpec,
    ensure_verification_is_valid,
    parse_verification,
)
from chaosiq_verification.team import switch_team
from chaosiq_verification.timeline import Options, Outcome, run_verification

logger = logging.getLogger("chaostoolkit.chaosiq.verification")


def _option(settings: dict[str, Any], name: str, default: float) -> float:
    value = s.options(settings, FEATURE).get(name, default)
    try:
        return float(value)
    except (TypeError, ValueError):
        logger.warning("chaosiq: option %s.%s must be a number; using %g", FEATURE, name, default)
        return default


def _rollback_strategy(settings: dict[str, Any], experiment: dict[str, Any], cli: str | None) -> str:
    """Settings < experiment ``runtime`` < command line, as ``chaos run`` does."""
    strategy = ((settings.get("runtime") or {}).get("rollbacks") or {}).get("strategy") or "default"
    strategy = ((experiment.get("runtime") or {}).get("rollbacks") or {}).get("strategy") or strategy
    return cli or strategy


def load(
    source: str, settings: dict[str, Any], hooks: Hooks, *, no_verify_tls: bool, no_validation: bool
) -> tuple[dict[str, Any], VerificationSpec]:
    """Load SOURCE (once), validate it and switch team when it belongs to another one."""
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
    switch_team(settings, spec.team_id, hooks, timeout=_option(settings, "request_timeout", 5.0))
    return experiment, spec


def write_journal(journal: dict[str, Any], path: str) -> None:
    """Write the journal as ``chaos run`` does (indented UTF-8 JSON, tolerant of odd types)."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(dumps(journal, indent=2))


def print_results(outcome: Outcome, journal_path: str) -> None:
    rows = res.table_rows(outcome.results, outcome.result, outcome.phases)
    if outcome.run_id:
        rows.append(("verification run", outcome.run_id))
    rows.append(("journal", journal_path))
    colour = {"passed": "green", "deviated": "yellow"}.get(outcome.result, "red")
    click.secho(f"Verification {outcome.result}", fg=colour, bold=True, err=True)
    click.echo(res.render_table(rows), err=True)


def execute(
    source: str,
    *,
    settings: dict[str, Any],
    hooks: Hooks,
    journal_path: str = "./journal.json",
    dry: str | None = None,
    no_validation: bool = False,
    no_verify_tls: bool = False,
    rollback_strategy: str | None = None,
    var: dict[str, Any] | None = None,
    var_file: list[str] | None = None,
) -> int:
    """Run one verification; return the exit code of :mod:`.results`."""
    loaded_settings.set(settings)
    experiment_vars = merge_vars(var or {}, var_file or [])
    load_global_controls(settings)
    experiment, spec = load(source, settings, hooks, no_verify_tls=no_verify_tls, no_validation=no_validation)
    experiment["dry"] = Dry.from_string(dry)
    options = Options(
        rollback_strategy=_rollback_strategy(settings, experiment, rollback_strategy),
        execution_wait=_option(settings, "execution_wait", 10.0),
        request_timeout=_option(settings, "request_timeout", 5.0),
    )
    try:
        outcome = run_verification(
            experiment,
            spec,
            settings,
            experiment_vars=experiment_vars,
            options=options,
            progress=make_progress(),
        )
    except ChaosException as exc:  # configuration or secrets could not be loaded
        raise InvalidVerification(str(exc)) from None
    journal = outcome.journal
    if "dry" in journal.get("experiment", {}):
        journal["experiment"]["dry"] = dry
    write_journal(journal, journal_path)
    print_results(outcome, journal_path)
    return outcome.exit_code
