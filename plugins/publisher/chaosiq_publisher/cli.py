"""``chaos publish [JOURNAL]`` (light module: heavy imports happen inside the command)."""

from __future__ import annotations

from pathlib import Path

import click

from chaosiq_core.clisupport import command_errors, fail, require_feature


@click.command("publish")
@click.argument("journal", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--deadline",
    default=120.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Give up sending the outbox after this many seconds.",
)
@click.pass_context
@command_errors
def publish(ctx: click.Context, journal: Path | None, deadline: float) -> None:
    """Publish to ChaosIQ: what earlier runs could not send, or a JOURNAL file.

    Without JOURNAL, sends every event, journal and message kept in the
    outbox (idempotent: nothing is stored twice). With JOURNAL, publishes that
    journal as a complete execution (created, or updated if it was published
    before), with the status the journal says.
    """
    _, settings, hooks = require_feature("publish", ctx)
    from chaosiq_publisher import replay

    if journal is not None:
        _eid, xid, url = replay.publish_journal(journal, settings, hooks)
        click.echo(f"Execution {xid} published" + (f": {url}" if url else ""))
        return
    report = replay.replay_outbox(settings, hooks, deadline_s=deadline)
    for line in report.lines:
        click.echo(line)
    if report.runs == 0 and not report.busy:
        click.echo("Nothing to publish: the outbox is empty.")
        return
    click.echo(
        f"{report.delivered} message(s) sent, {report.rejected} refused by the server, "
        f"{report.remaining} still pending."
    )
    if report.busy:
        fail(f"{report.busy} run(s) are still being written by a running `chaos`; publish them once it ends")
    if report.remaining:
        fail(f"{report.remaining} message(s) could not be sent; run `chaos publish` again later")
    if report.rejected:
        fail(f"the server refused {report.rejected} message(s) (see the lines above)")
