"""``chaos verify``: a light click command (heavy imports happen inside it)."""

from __future__ import annotations

from typing import Any

import click

from chaosiq_core.clisupport import command_errors, require_feature
from chaosiq_verification.exitcodes import EXIT_CODES_HELP


def _vars(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> dict[str, Any]:
    from chaoslib import convert_vars

    try:
        converted: dict[str, Any] = convert_vars(list(value))
        return converted
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command(
    help="Run the verification loaded from SOURCE, either a local file or a HTTP resource. "
    "SOURCE can be formatted as JSON or YAML.\n\n"
    "Timeline: gate steady state, sampling at frequency-of-measurement, warm-up, method, "
    "conditions held for duration-of-conditions, cool-down, after-method steady state, rollbacks.",
    epilog=EXIT_CODES_HELP,
)
@click.option(
    "--journal-path", default="./journal.json", show_default=True, help="Where to write the journal."
)
@click.option(
    "--dry",
    type=click.Choice(["probes", "actions", "activities", "pause"]),
    help="Run the verification without executing the chosen activities.",
)
@click.option("--no-validation", is_flag=True, help="Do not validate the verification before running it.")
@click.option("--no-verify-tls", is_flag=True, help="Do not verify the TLS certificate of a SOURCE URL.")
@click.option(
    "--rollback-strategy",
    type=click.Choice(["default", "always", "never", "deviated"]),
    help="When to play the rollbacks (default: not after a failed or interrupted verification).",
)
@click.option(
    "--var",
    multiple=True,
    callback=_vars,
    help="Configuration value, key=value or key:type=value (int, float, bytes). Repeatable.",
)
@click.option(
    "--var-file",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="JSON/YAML file of configuration and secrets, or a .env file. Repeatable.",
)
@click.argument("source")
@click.pass_context
@command_errors
def verify(
    ctx: click.Context,
    source: str,
    journal_path: str,
    dry: str | None,
    no_validation: bool,
    no_verify_tls: bool,
    rollback_strategy: str | None,
    var: dict[str, Any],
    var_file: tuple[str, ...],
) -> None:
    _, settings, hooks = require_feature("verification", ctx)
    from chaosiq_verification.runner import verify_source

    code = verify_source(
        source,
        settings=settings,
        hooks=hooks,
        journal_path=journal_path,
        dry=dry,
        no_validation=no_validation,
        no_verify_tls=no_verify_tls,
        rollback_strategy=rollback_strategy,
        var=var,
        var_file=list(var_file),
    )
    ctx.exit(code)
