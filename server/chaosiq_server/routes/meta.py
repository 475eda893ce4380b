"""Health, capabilities, and the token probe at ``/`` (outside ``/api/v1``: no common prefix)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from .. import __version__
from ..schemas import Capabilities, Health
from .deps import API, ERRORS, Auth

router = APIRouter(tags=["meta"])
# ``/`` is answered by the console (browsers, and the bearer-token probe); this
# route only serves an app without the console. Included last.
probe_router = APIRouter(include_in_schema=False)

CAPABILITIES = [
    "events-batch",
    "event-idempotency",
    "paging",
    "policies-write",
    "stop",
    "execution-with-experiment",
    "verification-run-put",
]


@probe_router.api_route("/", methods=["GET", "HEAD"])
async def console_root(principal: Auth) -> Response:
    """The console root. ``chaos signin`` probes it with HEAD: 401 for a bad token."""
    return Response(content=b'{"name":"chaosiq-server"}', media_type="application/json")


@router.get("/health", response_model=Health)
async def health() -> Health:
    """Liveness probe (no authentication)."""
    return Health(status="ok")


@router.get(API + "/capabilities", response_model=Capabilities, responses=ERRORS)
async def capabilities(principal: Auth) -> Capabilities:
    """API extensions this server supports (an original server answers 404)."""
    return Capabilities(capabilities=CAPABILITIES, version=__version__)
