"""``chaos org`` and ``chaos team`` (registered through ``chaostoolkit.cli_plugins``).

Only click and :mod:`chaosiq_core.clisupport` are imported here; everything
else is imported when a command runs, so ``chaos --help`` stays fast.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

from chaosiq_core.clisupport import command_errors, is_interactive, require_feature

if TYPE_CHECKING:  # pragma: no cover
    from chaosiq_core.api import ApiClient
    from chaosiq_core.hooks import Hooks

FEATURE = "teams"


def _client(settings: dict[str, Any], hooks: Hooks) -> ApiClient | None:
    """A client for the configured server and token, or ``None`` when not signed in."""
    from chaosiq_core.api import ApiClient

    client = ApiClient.for_settings(settings, hooks)
    return client if client is not None and client.signed_in else None


def _signin_instead(ctx: click.Context, org: str | None, team: str | None) -> None:
    """Not signed in: run the whole ``chaos signin`` when a user is there, as the original did."""
    from chaosiq_core.errors import ChaosIQError

    if not is_interactive():
        raise ChaosIQError("not signed in to a ChaosIQ server: run `chaos signin` first")
    from chaosiq_core.cli import signin

    click.echo("You are not signed in yet: let's do that first.")
    ctx.invoke(signin, org=org, team=team, token=os.environ.get("CHAOSIQ_TOKEN"))


def _save(path: Any, settings: dict[str, Any], org: dict[str, Any], team: dict[str, Any]) -> None:
    from chaosiq_core import settings as s
    from chaosiq_teams.selection import label

    s.migrate(settings)
    s.set_default_org(settings, org, {"id": team["id"], "name": team.get("name")})
    saved = s.save(settings, path)
    click.echo(
        f"Experiments and executions will be published to team '{label(team)}' in organization '{label(org)}'"
    )
    click.echo(f"ChaosIQ details saved at {saved}")


@click.command(help="Set the default ChaosIQ organization (and a team in it).")
@click.option("--org", "org_wanted", metavar="NAME|ID", help="Organization to use, by name or id.")
@click.option("--team", "team_wanted", metavar="NAME|ID", help="Team to use in it, by name or id.")
@click.pass_context
@command_errors
def org(ctx: click.Context, org_wanted: str | None, team_wanted: str | None) -> None:
    from chaosiq_teams import selection

    path, settings, hooks = require_feature(FEATURE, ctx)
    client = _client(settings, hooks)
    if client is None:
        _signin_instead(ctx, org_wanted, team_wanted)
        return
    echo, prompt = selection.click_io()
    interactive = is_interactive()
    chosen = selection.select_organization(client, org_wanted, interactive, echo, prompt)
    click.echo(f"Using organization '{selection.label(chosen)}'")
    team = selection.select_team(client, chosen, team_wanted, interactive, echo, prompt)
    # A newly chosen organization's team list is replaced by the chosen team (original semantics).
    _save(path, settings, {"id": chosen["id"], "name": chosen.get("name")}, team)


@click.command(help="Set the default ChaosIQ team in the default organization.")
@click.option("--team", "team_wanted", metavar="NAME|ID", help="Team to use, by name or id.")
@click.pass_context
@command_errors
def team(ctx: click.Context, team_wanted: str | None) -> None:
    from chaosiq_core import settings as s
    from chaosiq_core.errors import ChaosIQError
    from chaosiq_teams import selection

    path, settings, hooks = require_feature(FEATURE, ctx)
    client = _client(settings, hooks)
    if client is None:
        _signin_instead(ctx, None, team_wanted)
        return
    current = s.default_org(settings)
    if not current or not current.get("id"):
        raise ChaosIQError(f"no default organization in {path}: run `chaos org` (or `chaos signin`) first")
    echo, prompt = selection.click_io()
    chosen = selection.select_team(client, current, team_wanted, is_interactive(), echo, prompt)
    # The teams of the current organization accumulate (original semantics).
    _save(path, settings, current, chosen)
