"""Health, capabilities, the API docs page, and the token probe at ``/`` (outside
``/api/v1``: no common prefix)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse

from .. import __version__
from ..errors import StorageUnavailable
from ..metrics import exposition
from ..schemas import Capabilities, Health
from .deps import API, ERRORS, Auth
from .json_route import JsonRoute

router = APIRouter(tags=["meta"], route_class=JsonRoute)
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
    "execution-run-id",
    "verification-run-put",
]


@probe_router.api_route("/", methods=["GET", "HEAD"])
async def console_root(principal: Auth) -> Response:
    """The console root. ``chaos signin`` probes it with HEAD: 401 for a bad token."""
    return Response(content=b'{"name":"chaosiq-server"}', media_type="application/json")


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(request: Request) -> Response:
    """Liveness probe (no authentication): 503 once the database this server
    serves is lost (its SQLite file deleted or replaced while serving)."""
    lost = request.app.state.db.lost()
    if lost is not None:
        return JSONResponse({"status": "lost", "detail": lost}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/ready", response_model=Health, responses={503: {"model": Health}})
def ready(request: Request) -> Response:
    """Readiness probe (no authentication): 200 when the database answers and its
    schema is the one this server's code needs, else 503 saying why."""
    db = request.app.state.db
    lost = db.lost()
    if lost is not None:
        return JSONResponse({"status": "lost", "detail": lost}, status_code=503)
    try:
        revision = db.schema_revision()
    except StorageUnavailable as exc:
        return JSONResponse({"status": "unavailable", "detail": exc.detail}, status_code=503)
    head = request.app.state.schema_head
    if revision != head:
        detail = f"the database's schema is at revision {revision}, this server needs {head}"
        return JSONResponse({"status": "schema-mismatch", "detail": detail}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus metrics, text format (no authentication: see docs/server.md)."""
    body, content_type = exposition(request.app.state.metrics_registry)
    return Response(body, media_type=content_type)


@router.get(API + "/capabilities", response_model=Capabilities, responses=ERRORS)
async def capabilities(principal: Auth) -> Capabilities:
    """API extensions this server supports (an original server answers 404)."""
    return Capabilities(capabilities=CAPABILITIES, version=__version__)


# The docs page may not be framed (clickjacking), as no console page may. Only
# frame-ancestors: Swagger UI loads its script and style from a CDN.
DOCS_HEADERS = {
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@router.get(API + "/docs", include_in_schema=False)
async def docs(request: Request) -> Response:
    """Swagger UI for the OpenAPI document."""
    app = request.app
    response = get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title} - API")
    response.headers.update(DOCS_HEADERS)
    return response
