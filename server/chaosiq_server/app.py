"""The FastAPI application factory."""

from __future__ import annotations

import gc
import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__
from .auth import Authenticator
from .binary_mode import BinaryModeEvents
from .config import Settings
from .console import mount as mount_console
from .db import Database, schema_head
from .errors import BadInput, Conflict, NotFound, StorageUnavailable
from .ingest import EventFrontDoor
from .log import flush_logs
from .metrics import RunningExecutions
from .middleware import AccessLog, BodySizeLimit, NulInUrl, ResponseDelay
from .routes import API_ROUTERS, meta
from .secret_key import from_text as secret_key_from_text
from .secret_key import load as load_secret_key
from .storage import RETRY_AFTER_S, unavailable_reason
from .store import Store

log = logging.getLogger("chaosiq_server.app")

DESCRIPTION = """A self-hostable server speaking the ChaosIQ API of the original
`chaosiq-cloud` client, plus negotiated extensions (see `GET /api/v1/capabilities`).
Every endpoint but `/health` needs `Authorization: Bearer <token>`."""


def create_app(settings: Settings, *, migrate: bool = True) -> FastAPI:
    db = Database(settings.database_url)
    if migrate:
        db.migrate()
    db.watch_file()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> Any:
        yield
        db.dispose()
        flush_logs()

    app = FastAPI(
        title="chaosiq-server",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # routes/meta.py serves it, with anti-framing headers
        redoc_url=None,
        lifespan=lifespan,
        strict_content_type=False,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.store = Store(db)
    app.state.auth = Authenticator(app.state.store.tokens)
    app.state.schema_head = schema_head()
    app.state.metrics_registry = CollectorRegistry(auto_describe=True)
    app.state.metrics_registry.register(RunningExecutions(app.state.store.executions.count_running))
    if settings.secret_key:
        app.state.secret_key = secret_key_from_text(settings.secret_key, "the settings")
    else:
        app.state.secret_key = load_secret_key(settings.database_url)
    if app.state.secret_key.created:
        log.warning("generated a new secret key: %s (mode 0600)", app.state.secret_key.source)

    # API routes first: an API request matches without trying the console's
    # routes. None of them is ``/``, so the console still answers ``GET /``
    # (browsers) and ``HEAD /`` with a bearer token (the ``chaos signin`` probe).
    for router in API_ROUTERS:
        app.include_router(router)
    mount_console(app)
    app.include_router(meta.probe_router)

    _install_handlers(app)

    # Innermost first (each add wraps the previous): the access log sees
    # everything, including 413s.
    app.add_middleware(EventFrontDoor)
    app.add_middleware(BinaryModeEvents)
    if settings.response_delay_ms > 0:
        app.add_middleware(ResponseDelay, delay_ms=settings.response_delay_ms)
    app.add_middleware(BodySizeLimit, max_size=settings.max_body_size)
    app.add_middleware(NulInUrl)
    app.add_middleware(AccessLog)
    return app


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        item = {"loc": list(err.get("loc", ())), "msg": err.get("msg"), "type": err.get("type")}
        if err.get("ctx", {}).get("error") and err.get("type") == "json_invalid":
            item["msg"] = f"malformed JSON: {err['ctx']['error']}"
        out.append(item)
    return out


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotFound)
    async def _not_found(_r: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=404)

    @app.exception_handler(BadInput)
    async def _bad_input(_r: Request, exc: BadInput) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(Conflict)
    async def _conflict(_r: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=409)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_r: Request, exc: RequestValidationError) -> JSONResponse:
        detail = _validation_detail(exc)
        status = 400 if any(d["type"] == "json_invalid" for d in detail) else 422
        return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_r: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(StorageUnavailable)
    async def _unavailable(request: Request, exc: StorageUnavailable) -> Response:
        return _unavailable_answer(request, exc.detail)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        why = unavailable_reason(exc)  # a database error raised outside Database.read/write
        if why is not None:
            return _unavailable_answer(request, why)
        log.error("unhandled error on %s %s: %r", request.method, request.url.path, exc, exc_info=exc)
        return JSONResponse({"detail": "internal server error"}, status_code=500)


def _unavailable_answer(request: Request, detail: str) -> Response:
    """503 with ``Retry-After``: a console page for a browser, else JSON."""
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    message = f"the server cannot store or read data now: {detail}; retry later"
    path = request.url.path
    wants_page = "text/html" in request.headers.get("accept", "")
    if wants_page and not path.startswith("/api/") and not path.endswith(".json"):
        from .console.views import render

        response: Response = render(
            request, "error.html", {"title": "Service unavailable", "message": message}, status_code=503
        )
        response.headers.update(headers)
        return response
    return JSONResponse({"detail": message}, status_code=503, headers=headers)


def app_factory() -> FastAPI:
    """Entry for uvicorn workers (``--factory``): settings come from the environment."""
    from .log import setup_logging

    settings = Settings.from_env()
    setup_logging(settings.log_format)
    # `serve` migrated before starting the workers.
    app = create_app(settings, migrate=False)
    # Everything loaded so far lives as long as the process: keep it out of the
    # cyclic GC's full collections (tens of ms each: a p99 spike under load).
    gc.collect()
    gc.freeze()
    return app
