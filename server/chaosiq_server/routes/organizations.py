"""Organizations and teams the token is bound to."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from ..errors import NotFound
from ..schemas import Organization, Team
from .deps import API, ERRORS, Auth, StoreDep

router = APIRouter(prefix=API + "/organizations", tags=["organizations"], responses=ERRORS)

Org = Annotated[str, Path(max_length=200)]
TeamId = Annotated[str, Path(max_length=200)]


@router.get("", response_model=list[Organization])
def list_organizations(principal: Auth, store: StoreDep) -> list[dict[str, str]]:
    """Organizations that hold at least one team the token is bound to."""
    visible = principal.org_ids()
    return [o for o in store.organizations.list() if o["id"] in visible]


@router.get("/{org}/teams", response_model=list[Team])
def list_teams(principal: Auth, store: StoreDep, org: Org) -> list[dict[str, str]]:
    """Teams of an organization that the token is bound to."""
    if org not in principal.org_ids():
        raise NotFound("organization")
    return [t for t in store.teams.list(org) if t["id"] in principal.teams]


@router.get("/{org}/teams/{team}", response_model=Team)
def get_team(principal: Auth, store: StoreDep, org: Org, team: TeamId) -> dict[str, str]:
    """One team (404 unless the token is bound to it)."""
    if principal.teams.get(team) != org:
        raise NotFound("team")
    found = store.teams.find(team, org)
    if found is None:
        raise NotFound("team")
    return found
