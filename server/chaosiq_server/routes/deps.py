"""Shared route dependencies: the authenticated team scope and helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from pydantic import BaseModel

from ..auth import Principal, authenticate
from ..errors import NotFound
from ..store import Store


class ErrorOut(BaseModel):
    detail: Any


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Malformed request"},
    401: {"model": ErrorOut, "description": "Missing, invalid or revoked token"},
    404: {"model": ErrorOut, "description": "Unknown id, or one the token cannot see"},
    413: {"model": ErrorOut, "description": "Request body too large"},
    422: {"model": ErrorOut, "description": "Well-formed but invalid body"},
}

API = "/api/v1"
TEAM = API + "/organizations/{org}/teams/{team}"

Auth = Annotated[Principal, Depends(authenticate)]


async def get_store(request: Request) -> Store:
    return request.app.state.store


StoreDep = Annotated[Store, Depends(get_store)]


@dataclass(frozen=True)
class TeamScope:
    org_id: str
    team_id: str
    principal: Principal

    def url(self, request: Request, *parts: str) -> str:
        base = str(request.base_url).rstrip("/")
        tail = "/".join(parts)
        return f"{base}{API}/organizations/{self.org_id}/teams/{self.team_id}/{tail}"


async def team_scope(
    principal: Auth,
    org: Annotated[str, Path(max_length=200)],
    team: Annotated[str, Path(max_length=200)],
) -> TeamScope:
    if principal.teams.get(team) != org:
        raise NotFound("team")
    return TeamScope(org_id=org, team_id=team, principal=principal)


Scope = Annotated[TeamScope, Depends(team_scope)]

# Path and query parameters the routers share.
Eid = Annotated[str, Path(max_length=200)]
Xid = Annotated[str, Path(max_length=200)]
LimitQ = Annotated[int | None, Query(ge=1, le=1000)]
CursorQ = Annotated[str | None, Query(max_length=500)]


def page(found: Any) -> dict[str, Any]:
    """The JSON of a :class:`~chaosiq_server.store.Page`."""
    return {"items": found.items, "next_cursor": found.next_cursor, "total": found.total}
