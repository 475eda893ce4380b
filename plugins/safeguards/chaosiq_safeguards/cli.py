"""``chaos safeguards SOURCE``: the safeguards of an experiment and their verdict now.

Registered through Chaos Toolkit's ``chaostoolkit.cli_plugins`` entry points;
imports only click and chaosiq_core.clisupport at import time.
"""

from __future__ import annotations

import click

from chaosiq_core.clisupport import command_errors, require_feature


@click.command("safeguards")
@click.argument("source")
@click.option("--execution", "execution_id", help="Also ask the server for the policies of this execution.")
@click.option("--experiment-id", help="The server's experiment id (default: the experiment's extension).")
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON.")
@click.pass_context
@command_errors
def safeguards(
    ctx: click.Context,
    source: str,
    execution_id: str | None,
    experiment_id: str | None,
    as_json: bool,
) -> None:
    """List the safeguards that apply to the experiment SOURCE and their verdict now.

    Local safeguard probes are run once (the experiment itself is not run),
    every plugin voting through chaosiq_safeguard_verdicts is asked, and with
    --execution the server's policies of that execution are fetched. Exits 1
    when any safeguard says stop.
    """
    _, settings, hooks = require_feature("safeguards", ctx)
    from chaosiq_safeguards.listing import check_experiment, render

    rows = check_experiment(source, settings, hooks, execution_id=execution_id, experiment_id=experiment_id)
    click.echo(render(rows, as_json=as_json))
    if any(row["decision"] == "stop" for row in rows):
        ctx.exit(1)
