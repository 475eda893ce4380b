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
@click.option("--list", "list_", is_flag=True, help="Show the runs waiting in the outbox, and why.")
@click.option("--drop", metavar="RUN_ID", help="Delete a run from the outbox (its unsent messages are lost).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (--drop).")
@click.option(
    "--retarget",
    is_flag=True,
    help="Send runs whose team the server refused to the organization and team of the settings.",
)
@click.pass_context
@command_errors
def publish(
    ctx: click.Context,
    journal: Path | None,
    deadline: float,
    list_: bool,
    drop: str | None,
    yes: bool,
    retarget: bool,
) -> None:
    """Publish to ChaosIQ: what earlier runs could not send, or a JOURNAL file.

    Without JOURNAL, sends every event, journal and message kept in the
    outbox (idempotent: nothing is stored twice). With JOURNAL, publishes that
    journal as a complete execution (created, or updated if it was published
    before), with the status the journal says.
    """
    if sum((journal is not None, list_, drop is not None)) > 1:
        fail("give one of JOURNAL, --list and --drop", code=2)
    _, settings, hooks = require_feature("publish", ctx)
    from chaosiq_publisher import replay

    if list_:
        lines = replay.entries(settings)
        click.echo("\n".join(lines) if lines else "Nothing to publish: the outbox is empty.")
        return
    if drop is not None:
        path = replay.find_entry(drop)
        if not yes and not click.confirm(f"Delete run {path.stem} and its unsent messages from the outbox?"):
            fail("nothing dropped")
        replay.drop(path)
        click.echo(f"Run {path.stem} dropped from the outbox.")
        return
    if journal is not None:
        _eid, xid, url = replay.publish_journal(journal, settings, hooks)
        click.echo(f"Execution {xid} published" + (f": {url}" if url else ""))
        return
    report = replay.Replay(settings, hooks, deadline_s=deadline, retarget=retarget).outbox()
    for line in report.lines:
        click.echo(line)
    if report.runs == 0 and not report.busy:
        click.echo("Nothing to send." if report.lines else "Nothing to publish: the outbox is empty.")
        return
    click.echo(
        f"{report.delivered} message(s) sent, {report.rejected} refused by the server, "
        f"{report.remaining} still pending."
    )
    if refusals := sorted(set(report.refusals)):
        fail(refusals[0] if len(refusals) == 1 else f"the server refused {len(refusals)} runs (see above)")
    if report.busy:
        fail(f"{report.busy} run(s) are still being written by a running `chaos`; publish them once it ends")
    if report.remaining:
        fail(f"{report.remaining} message(s) could not be sent; run `chaos publish` again later")
    if report.rejected:
        fail(f"the server refused {report.rejected} message(s) (see the lines above)")
