"""Shared route dependencies: the authenticated team scope and helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from pydantic import BaseModel

from ..auth import Principal, authenticated
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

Auth = Annotated[Principal, Depends(authenticated)]


async def get_store(request: Request) -> Store:
    return request.app.state.store


StoreDep = Annotated[Store, Depends(get_store)]


@dataclass(frozen=True)
class TeamScope:
    """What a route under ``{team}`` works with: the team the token may use, and the store."""

    org_id: str
    team_id: str
    principal: Principal
    store: Store
    request: Request

    @classmethod
    def of(cls, principal: Principal, org: str, team: str, request: Request) -> TeamScope:
        """The scope of ``team`` in ``org`` for ``principal``; NotFound unless the token may use it."""
        if principal.teams.get(team) != org:
            raise NotFound("team")
        return cls(org, team, principal, request.app.state.store, request)

    def url(self, *parts: str) -> str:
        """The absolute URL of a resource of the team (``Content-Location``)."""
        base = str(self.request.base_url).rstrip("/")
        tail = "/".join(parts)
        return f"{base}{API}/organizations/{self.org_id}/teams/{self.team_id}/{tail}"


async def team_scope(
    request: Request,
    org: Annotated[str, Path(max_length=200)],
    team: Annotated[str, Path(max_length=200)],
) -> TeamScope:
    """The one dependency of every team route (a dependency less is a real share of
    an event's cost): authentication, then the team, else 404."""
    return TeamScope.of(await authenticated(request), org, team, request)


Scope = Annotated[TeamScope, Depends(team_scope)]

# Path and query parameters the routers share.
Eid = Annotated[str, Path(max_length=200)]
Xid = Annotated[str, Path(max_length=200)]
LimitQ = Annotated[int | None, Query(ge=1, le=1000)]
CursorQ = Annotated[str | None, Query(max_length=500)]


def page(found: Any) -> dict[str, Any]:
    """The JSON of a :class:`~chaosiq_server.store.Page`."""
    return {"items": found.items, "next_cursor": found.next_cursor, "total": found.total}
