"""The web console of chaosiq-server: server-rendered pages (Jinja2) under ``/``.

``mount(app)`` adds the pages, the static assets (``/console/static``) and the
console's error pages. ``create_app`` calls it after including the API routers
(an API request matches without trying the console's routes); ``GET /`` is the
console's for browsers, and API clients sending a bearer token still get the
API's answer there.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from .auth import (
    ConsoleForbidden,
    ConsoleNotFound,
    CrossOriginRejected,
    CsrfRejected,
    SignInRequired,
    optional_user,
)

STATIC = Path(__file__).parent / "static"


def mount(app: FastAPI) -> None:
    """Add the console to ``app``."""
    from .admin import router as admin_router
    from .history import router as history_router
    from .policies import router as policies_router
    from .views import redirect, render, router

    app.include_router(router)
    app.include_router(history_router)
    app.include_router(admin_router)
    app.include_router(policies_router)
    app.mount("/console/static", StaticFiles(directory=str(STATIC)), name="console-static")

    @app.exception_handler(SignInRequired)
    async def _signin(request: Request, _exc: SignInRequired) -> Response:
        if request.url.path.endswith(".json"):
            return JSONResponse({"detail": "signed out"}, status_code=401)
        if request.method not in ("GET", "HEAD"):
            return redirect("/signin")  # a form of an expired session: nothing to come back to
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return redirect("/signin?next=" + quote(target, safe=""))

    @app.exception_handler(ConsoleNotFound)
    async def _not_found(request: Request, exc: ConsoleNotFound) -> Response:
        user = optional_user(request)
        return render(
            request,
            "error.html",
            {"title": "Not found", "message": f"There is no such {exc.what}, or this token cannot see it."},
            status_code=404,
            user=user,
        )

    @app.exception_handler(ConsoleForbidden)
    async def _forbidden(request: Request, exc: ConsoleForbidden) -> Response:
        if request.url.path.endswith(".json"):
            return JSONResponse({"detail": exc.message}, status_code=403)
        return render(
            request,
            "error.html",
            {"title": "Not allowed", "message": exc.message[0].upper() + exc.message[1:] + "."},
            status_code=403,
            user=optional_user(request),
        )

    @app.exception_handler(CsrfRejected)
    async def _csrf(request: Request, _exc: CsrfRejected) -> Response:
        return render(
            request,
            "error.html",
            {
                "title": "Form refused",
                "message": "This form was not sent from a page of this console "
                "(missing or wrong CSRF token). Reload the page and try again.",
            },
            status_code=403,
            user=optional_user(request),
        )

    @app.exception_handler(CrossOriginRejected)
    async def _cross_origin(request: Request, _exc: CrossOriginRejected) -> Response:
        return render(
            request,
            "error.html",
            {"title": "Form refused", "message": CROSS_ORIGIN_MESSAGE},
            status_code=403,
            user=optional_user(request),
        )


CROSS_ORIGIN_MESSAGE = (
    "This form was not sent from a page of this console (it came from another site, "
    "or without an Origin header): refused. Open the console and send it from there."
)

__all__ = ["CROSS_ORIGIN_MESSAGE", "mount"]
