"""Hook implementations of the ``teams`` feature (entry point ``teams = chaosiq_teams.plugin``).

* :func:`chaosiq_select_scope` — organization and team selection for ``chaos signin``.
* :func:`chaosiq_api_scope` — the scope of runtime calls when the user (or
  ``chaos verify``) asks for another team than the default, through the
  ``CHAOSIQ_ORG`` / ``CHAOSIQ_TEAM`` environment variables or the options
  ``controls.chaosiq-cloud.options.teams.org|team`` of the (in-memory) settings.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from chaosiq_core import hookimpl
from chaosiq_core import settings as s
from chaosiq_core.api import ApiClient
from chaosiq_core.types import Scope
from chaosiq_teams import selection

logger = logging.getLogger("chaostoolkit.chaosiq.teams")

FEATURE = "teams"
ORG_ENV = "CHAOSIQ_ORG"
TEAM_ENV = "CHAOSIQ_TEAM"


@hookimpl
def chaosiq_select_scope(
    client: ApiClient,
    settings: dict[str, Any],
    org: str | None,
    team: str | None,
    interactive: bool,
) -> Scope:
    """List the organizations and teams of the token and pick one of each."""
    echo, prompt = selection.click_io()
    chosen_org = selection.select_organization(client, org, interactive, echo, prompt)
    chosen_team = selection.select_team(client, chosen_org, team, interactive, echo, prompt)
    return Scope(chosen_org["id"], chosen_team["id"], chosen_org.get("name"), chosen_team.get("name"))


@hookimpl
def chaosiq_settings_defaults() -> dict[str, Any]:
    """``org`` / ``team``: override the default organization and team of runtime calls."""
    return {FEATURE: {"org": None, "team": None}}


def _find(items: list[Any], wanted: str) -> dict[str, Any] | None:
    for test in (
        lambda i: str(i.get("id")) == wanted,
        lambda i: i.get("name") == wanted,
        lambda i: str(i.get("name") or "").lower() == wanted.lower(),
    ):
        for item in items:
            if isinstance(item, dict) and test(item):
                return item
    return None


def override_scope(settings: dict[str, Any]) -> Scope | None:
    """The scope asked for by ``CHAOSIQ_ORG``/``CHAOSIQ_TEAM`` or the ``teams`` options, if any.

    Names are looked up in the organizations and teams recorded in the
    settings; a value that matches none of them is taken as an id. No network.
    """
    opts = s.options(settings, FEATURE)
    org_wanted = (os.environ.get(ORG_ENV) or str(opts.get("org") or "")).strip()
    team_wanted = (os.environ.get(TEAM_ENV) or str(opts.get("team") or "")).strip()
    if not org_wanted and not team_wanted:
        return None
    orgs = s.organizations(settings)
    org = (
        (_find(orgs, org_wanted) or {"id": org_wanted, "teams": []})
        if org_wanted
        else s.default_org(settings)
    )
    if not org or not org.get("id"):
        logger.warning("chaosiq: a team was asked for (%s) but no organization is known", team_wanted)
        return None
    teams = org.get("teams") or []
    team: dict[str, Any] | None
    if team_wanted:
        team = _find(teams, team_wanted) or {"id": team_wanted}
    else:
        team = s.default_team(org) or (teams[0] if len(teams) == 1 else None)
    if not team or not team.get("id"):
        logger.warning(
            "chaosiq: no team is known in organization '%s': set %s", org.get("name") or org["id"], TEAM_ENV
        )
        return None
    return Scope(str(org["id"]), str(team["id"]), org.get("name"), team.get("name"))


@hookimpl(tryfirst=True)
def chaosiq_api_scope(settings: dict[str, Any]) -> Scope | None:
    """An explicit override of the scope, else ``None`` (the core reads the defaults)."""
    return override_scope(settings)


@hookimpl
def chaosiq_feature_status(settings: dict[str, Any]) -> list[tuple[str, str]]:
    """The default organization and team."""
    org = s.default_org(settings)
    team = s.default_team(org)
    return [
        ("organization", selection.label(org) if org and org.get("id") else "-"),
        ("team", selection.label(team) if team and team.get("id") else "-"),
    ]
