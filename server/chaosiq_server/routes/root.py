"""Console root probe, health, capabilities, organizations and teams."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from .. import __version__
from ..errors import NotFound
from ..schemas import Capabilities, Health, Organization, Team
from .deps import API, ERRORS, Auth, StoreDep

router = APIRouter()
# ``/`` is answered by the console (browsers, and the bearer-token probe); this
# route only serves an app without the console. Included last.
probe_router = APIRouter()

CAPABILITIES = [
    "events-batch",
    "event-idempotency",
    "paging",
    "policies-write",
    "stop",
    "execution-with-experiment",
    "verification-run-put",
]


@probe_router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
async def console_root(principal: Auth) -> Response:
    """The console root. ``chaos signin`` probes it with HEAD: 401 for a bad token."""
    return Response(
        content=b'{"name":"chaosiq-server"}',
        media_type="application/json",
    )


@router.get("/health", response_model=Health, tags=["meta"])
async def health() -> Health:
    """Liveness probe (no authentication)."""
    return Health(status="ok")


@router.get(API + "/capabilities", response_model=Capabilities, responses=ERRORS, tags=["meta"])
async def capabilities(principal: Auth) -> Capabilities:
    """API extensions this server supports (an original server answers 404)."""
    return Capabilities(capabilities=CAPABILITIES, version=__version__)


@router.get(
    API + "/organizations", response_model=list[Organization], responses=ERRORS, tags=["organizations"]
)
def list_organizations(principal: Auth, store: StoreDep) -> list[dict[str, str]]:
    """Organizations that hold at least one team the token is bound to."""
    visible = principal.org_ids()
    return [o for o in store.organizations.list() if o["id"] in visible]


@router.get(
    API + "/organizations/{org}/teams", response_model=list[Team], responses=ERRORS, tags=["organizations"]
)
def list_teams(
    principal: Auth, store: StoreDep, org: Annotated[str, Path(max_length=200)]
) -> list[dict[str, str]]:
    """Teams of an organization that the token is bound to."""
    if org not in principal.org_ids():
        raise NotFound("organization")
    return [t for t in store.teams.list(org) if t["id"] in principal.teams]


@router.get(
    API + "/organizations/{org}/teams/{team}", response_model=Team, responses=ERRORS, tags=["organizations"]
)
def get_team(
    principal: Auth,
    store: StoreDep,
    org: Annotated[str, Path(max_length=200)],
    team: Annotated[str, Path(max_length=200)],
) -> dict[str, str]:
    """One team (404 unless the token is bound to it)."""
    if principal.teams.get(team) != org:
        raise NotFound("team")
    found = store.teams.find(team, org)
    if found is None:
        raise NotFound("team")
    return found
