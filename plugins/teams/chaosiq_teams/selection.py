"""Choosing an organization and a team: listing them, matching ``--org``/``--team``, prompting.

Every failure is a :class:`~chaosiq_core.errors.ChaosIQError` with one clear
line (the original looped forever on an empty list and crashed with a
TypeError when no organization was chosen).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from chaosiq_core.api import ApiClient
from chaosiq_core.errors import ApiError, ChaosIQError

logger = logging.getLogger("chaostoolkit.chaosiq.teams")

Item = dict[str, Any]
Echo = Callable[[str], None]
Prompt = Callable[[str], int]


def _items(client: ApiClient, path: str, what: str) -> list[Item]:
    """``GET path`` and return its list of ``{id, name, ...}``; raise a clear error otherwise."""
    body = client.get_json(path)
    if not isinstance(body, list):
        raise ApiError(f"the server's list of {what} is not a JSON list (GET {path})")
    items = [i for i in body if isinstance(i, dict) and i.get("id") not in (None, "")]
    return [{**i, "id": str(i["id"]), "name": i.get("name") or ""} for i in items]


def fetch_organizations(client: ApiClient) -> list[Item]:
    """The organizations the token can see (``GET /api/v1/organizations``)."""
    return _items(client, "/api/v1/organizations", "organizations")


def fetch_teams(client: ApiClient, org: Item) -> list[Item]:
    """The teams of ``org`` the token belongs to (``GET /api/v1/organizations/{org}/teams``)."""
    return _items(client, f"/api/v1/organizations/{org['id']}/teams", "teams")


def label(item: Item) -> str:
    """The name of an organization or team, or its id when it has no name."""
    return str(item.get("name") or item["id"])


def match(items: list[Item], wanted: str, kind: str, where: str = "") -> Item:
    """The item whose id or name is ``wanted`` (id first, then exact name, then any case)."""
    wanted = wanted.strip()
    for test in (
        lambda i: i["id"] == wanted,
        lambda i: i.get("name") == wanted,
        lambda i: str(i.get("name") or "").lower() == wanted.lower(),
    ):
        found = [i for i in items if test(i)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            ids = ", ".join(i["id"] for i in found)
            raise ChaosIQError(f"several {kind}s are named '{wanted}'{where}: give its id ({ids})")
    known = ", ".join(sorted(label(i) for i in items)) or "none"
    raise ChaosIQError(f"no {kind} '{wanted}'{where} (yours: {known})")


def choose(
    items: list[Item],
    kind: str,
    *,
    wanted: str | None,
    interactive: bool,
    header: str,
    question: str,
    option: str,
    where: str = "",
    echo: Echo,
    prompt: Prompt,
) -> Item:
    """Pick one item: by ``wanted``, the only one, or by asking (numbered list)."""
    if not items:
        raise ChaosIQError(f"you belong to no {kind}{where} on this server: ask its administrator")
    if wanted:
        return match(items, wanted, kind, where)
    if len(items) == 1:
        return items[0]
    if not interactive:
        known = ", ".join(label(i) for i in items)
        raise ChaosIQError(
            f"you belong to several {kind}s{where} ({known}): choose one with {option} NAME|ID"
        )
    echo(header)
    for index, item in enumerate(items, start=1):
        echo(f"{index}) {label(item)}")
    while True:
        picked = prompt(question)
        if 1 <= picked <= len(items):
            return items[picked - 1]
        echo(f"Please, select a valid {kind} (1 to {len(items)}).")


def select_organization(
    client: ApiClient, wanted: str | None, interactive: bool, echo: Echo, prompt: Prompt
) -> Item:
    """The organization to use, from the server's list."""
    return choose(
        fetch_organizations(client),
        "organization",
        wanted=wanted,
        interactive=interactive,
        header="Here are your known organizations:",
        question="Default organization to use",
        option="--org",
        echo=echo,
        prompt=prompt,
    )


def select_team(
    client: ApiClient, org: Item, wanted: str | None, interactive: bool, echo: Echo, prompt: Prompt
) -> Item:
    """The team to use in ``org``, from the server's list."""
    where = f" in organization '{label(org)}'"
    return choose(
        fetch_teams(client, org),
        "team",
        wanted=wanted,
        interactive=interactive,
        header=f"Here are the teams you belong to{where}:",
        question="Default team to publish to",
        option="--team",
        where=where,
        echo=echo,
        prompt=prompt,
    )


def click_io() -> tuple[Echo, Prompt]:
    """``echo`` and ``prompt`` on the terminal (click imported only when asked)."""
    import click

    def echo(line: str) -> None:
        click.echo(line)

    def prompt(question: str) -> int:
        return int(click.prompt(click.style(question, fg="green"), type=int))

    return echo, prompt
