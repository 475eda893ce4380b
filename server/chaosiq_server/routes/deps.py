"""Shared route dependencies: the authenticated team scope and helpers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel

from ..auth import Principal, authenticated
from ..errors import NotFound
from ..roles import MEMBER, OWNER, VIEWER, Role, allows, refusal
from ..store import Store


class ErrorOut(BaseModel):
    detail: Any


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Malformed request"},
    401: {"model": ErrorOut, "description": "Missing, invalid or revoked token"},
    403: {"model": ErrorOut, "description": "The token's role may not do this (e.g. a viewer publishing)"},
    404: {"model": ErrorOut, "description": "Unknown id, or one the token cannot see"},
    413: {"model": ErrorOut, "description": "Request body too large"},
    422: {"model": ErrorOut, "description": "Well-formed but invalid body"},
}

API = "/api/v1"
TEAM = API + "/organizations/{org}/teams/{team}"


async def any_role(request: Request) -> Principal:
    """Any valid token (every role sees what these routes show)."""
    return await authenticated(request)


any_role.required_role = VIEWER  # type: ignore[attr-defined]

# Routes outside a team: any valid token.
Auth = Annotated[Principal, Depends(any_role)]


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
"""The team without a role check: routes use :data:`Viewer`, :data:`Member` or :data:`Owner`
(server/tests/test_roles.py fails for an API route that declares none)."""


def role_scope(needed: Role, doing: str) -> Callable[..., Awaitable[TeamScope]]:
    """The dependency of a team route that needs ``needed``: :func:`team_scope` and the
    role check in one dependency (no extra one per request), 403 saying what ``doing``
    needs. The route's requirement is readable as the dependency's ``required_role``."""

    async def scoped(
        request: Request,
        org: Annotated[str, Path(max_length=200)],
        team: Annotated[str, Path(max_length=200)],
    ) -> TeamScope:
        scope = TeamScope.of(await authenticated(request), org, team, request)
        if not allows(scope.principal.role, needed):
            raise HTTPException(403, refusal(scope.principal.role, doing, needed))
        return scope

    scoped.required_role = needed  # type: ignore[attr-defined]
    scoped.__name__ = f"{needed}_scope"
    return scoped


def declared_roles(dependant: Any) -> set[str]:
    """The roles a route's dependencies declare (``route.dependant``): one for every API route."""
    found: set[str] = set()
    for dep in dependant.dependencies:
        role = getattr(dep.call, "required_role", None)
        if role:
            found.add(role)
        found |= declared_roles(dep)
    return found


# The role each team route needs, declared in its signature (``scope: Member``).
Viewer = Annotated[TeamScope, Depends(role_scope(VIEWER, "reading"))]
Member = Annotated[TeamScope, Depends(role_scope(MEMBER, "publishing"))]
Stopper = Annotated[TeamScope, Depends(role_scope(MEMBER, "stopping a run"))]
Pauser = Annotated[TeamScope, Depends(role_scope(MEMBER, "pausing or resuming a run"))]
Owner = Annotated[TeamScope, Depends(role_scope(OWNER, "managing policies"))]

# Path and query parameters the routers share.
Eid = Annotated[str, Path(max_length=200)]
Xid = Annotated[str, Path(max_length=200)]
LimitQ = Annotated[int | None, Query(ge=1, le=1000)]
CursorQ = Annotated[str | None, Query(max_length=500)]


def page(found: Any) -> dict[str, Any]:
    """The JSON of a :class:`~chaosiq_server.store.Page`."""
    return {"items": found.items, "next_cursor": found.next_cursor, "total": found.total}
