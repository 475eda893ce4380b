"""Console routes: sign-in/out, executions, an execution, verifications, stop, pause, resume."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ..auth import authenticate, bearer_token
from ..errors import BadInput, Conflict, NotFound
from ..roles import MEMBER
from ..store.tokens import hash_token
from . import pages, session, trends
from .auth import (
    ConsoleNotFound,
    ConsoleUser,
    checked_form,
    cookie_names,
    current_user,
    is_https,
    optional_user,
    read_form,
    require_same_origin,
    safe_next,
    secret_key_of,
    store_of,
)
from .timefmt import show_duration, show_time

log = logging.getLogger("chaosiq_server.console")

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["when"] = show_time
templates.env.filters["duration"] = show_duration
templates.env.filters["compact_json"] = pages.compact_json
templates.env.globals["tree_depth"] = pages.TREE_DEPTH

# Every console route checks the origin of state-changing requests (a POST from
# another site is refused before anything else runs); GET and HEAD pass.
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_same_origin)])
User = Annotated[ConsoleUser, Depends(current_user)]

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
STOP_POLICY = "stopped-by-user"


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    status_code: int = 200,
    user: ConsoleUser | None = None,
) -> HTMLResponse:
    ctx = {"user": user, "current_team": None, **context}
    response = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


# ------------------------------------------------------------------ root
@router.get("/")
def root(request: Request) -> Response:
    """The console home for browsers; the API's token probe (``HEAD /`` with a bearer
    token, as ``chaos signin`` sends it) keeps answering 200/401 as before."""
    if request.method == "HEAD" or bearer_token(request) is not None:
        authenticate(request)
        return Response(
            content=b'{"name":"chaosiq-server"}' if request.method == "GET" else b"",
            media_type="application/json",
        )
    user = optional_user(request)
    if user is None:
        return redirect("/signin")
    if not user.token.teams:
        return render(request, "no_team.html", {}, user=user)
    return redirect(user.token.teams[0].path + "/executions")


# --------------------------------------------------------------- sign-in
def _signin_page(
    request: Request,
    error: str | None,
    next_url: str | None,
    status_code: int = 200,
    command: str | None = None,
) -> Response:
    """The sign-in form; ``error`` is plain text, ``command`` a command shown after it as code."""
    names = cookie_names(request)
    nonce = request.cookies.get(names.signin_csrf) or ""
    if not nonce or len(nonce) > session.COOKIE_MAX:
        nonce = session.new_signin_nonce()
    csrf = session.signin_csrf_token(secret_key_of(request), nonce)
    response = render(
        request,
        "signin.html",
        {"error": error, "error_command": command, "next": next_url or "", "csrf_token": csrf},
        status_code=status_code,
    )
    response.set_cookie(
        names.signin_csrf,
        nonce,
        max_age=3600,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path=names.signin_path,
    )
    return response


@router.get("/signin")
def signin_form(request: Request, next: str | None = None) -> Response:
    if optional_user(request) is not None:
        return redirect(safe_next(next) or "/")
    return _signin_page(request, None, safe_next(next))


@router.post("/signin")
async def signin(request: Request) -> Response:
    # The TCP peer, or the address a proxy trusted with --forwarded-allow-ips forwarded
    # (uvicorn's proxy-headers middleware rewrites it only for those).
    address = request.client.host if request.client else "unknown"
    failures = store_of(request).signins
    wait = failures.retry_after(address)
    if wait:
        log.warning("console sign-in refused: too many failed attempts from %s", address)
        response = render(
            request,
            "error.html",
            {
                "title": "Too many failed sign-ins",
                "message": f"Too many failed sign-ins from your address. Try again in {wait} s.",
            },
            status_code=429,
        )
        response.headers["Retry-After"] = str(wait)
        return response
    form = await read_form(request)
    names = cookie_names(request)
    nonce = request.cookies.get(names.signin_csrf)
    if not session.check_signin_csrf(secret_key_of(request), nonce, form.get("csrf_token")):
        return render(
            request,
            "error.html",
            {
                "title": "Form expired",
                "message": "The sign-in form expired or was not sent by this site. "
                "Open the sign-in page again.",
            },
            status_code=403,
        )
    next_url = safe_next(form.get("next"))
    token = (form.get("token") or "").strip()
    if not token:
        return _signin_page(request, "Paste an API token to sign in.", next_url, 400)
    info = store_of(request).tokens.live_by_hash(hash_token(token))
    if info is None:
        failures.failed(address)
        log.info("console sign-in refused: unknown or revoked token")
        return _signin_page(
            request,
            "This token is not valid: it is unknown or was revoked. Check it, or create one with",
            next_url,
            401,
            command="chaosiq-server token create",
        )
    failures.succeeded(address)
    store = store_of(request)
    request.app.state.auth.touch(info.id, info.last_used_at)  # a sign-in is a use of the token
    previous = optional_user(request)
    if previous is not None:  # signing in again: the old session ends, a new id is made
        store.sessions.end(previous.session_id)
    session_id = store.sessions.create(info.id, session.SESSION_TTL_SECONDS)
    response = redirect(next_url or "/")
    response.set_cookie(
        names.session,
        session.session_cookie(secret_key_of(request), session_id),
        max_age=session.SESSION_TTL_SECONDS,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path="/",
    )
    response.delete_cookie(names.signin_csrf, path=names.signin_path, secure=is_https(request), httponly=True)
    log.info("console sign-in with token %s", info.id)
    return response


@router.post("/signout")
async def signout(request: Request, user: User) -> Response:
    await checked_form(request, user)
    store_of(request).sessions.end(user.session_id)
    response = redirect("/signin?signed_out=1")
    response.delete_cookie(
        cookie_names(request).session, path="/", secure=is_https(request), httponly=True, samesite="lax"
    )
    log.info("console sign-out of token %s", user.token.id)
    return response


@router.get("/switch-team")
def switch_team(user: User, team: str = "") -> Response:
    org_id, _, team_id = team.partition(":")
    return redirect(user.team(org_id, team_id).path + "/executions")


# ------------------------------------------------------------ executions
@router.get("/organizations/{org}/teams/{team}")
def team_home(org: str, team: str, user: User) -> Response:
    return redirect(user.team(org, team).path + "/executions")


@router.get("/organizations/{org}/teams/{team}/executions")
def executions(request: Request, org: str, team: str, user: User, cursor: str | None = None) -> Response:
    """The team's executions, newest first, filtered by the form's outcome, experiment,
    tag, dates and title search; every link (pages, newest) keeps the filter."""
    ref = user.team(org, team)
    form = trends.ListFilter.of(request)
    store = store_of(request)
    rows, next_cursor, total = [], None, 0  # a filter that makes no sense lists nothing
    if form.error is None:
        try:
            rows, next_cursor, total = store.executions.rows(ref.team_id, cursor, where=form.where)
        except BadInput as exc:
            raise ConsoleNotFound("page") from exc
    return render(
        request,
        "executions.html",
        {
            "ref": ref,
            "rows": rows,
            "total": total,
            "current_team": ref,
            "first_page": not cursor,
            "filter": trends.filter_form(store, ref, form.where),
            "filter_error": form.error,
            "newest_url": trends.list_url(ref, form.where),
            "next_url": trends.list_url(ref, form.where, next_cursor) if next_cursor else None,
            "exec_path": lambda row: pages.execution_path(ref, row.experiment_id, row.id),
            "history_path": lambda row: trends.experiment_path(ref, row.experiment_id),
        },
        status_code=400 if form.error else 200,
        user=user,
    )


def _locate(request: Request, user: ConsoleUser, xid: str) -> str:
    teams = {t.team_id: t for t in user.token.teams}
    found = store_of(request).executions.locate(list(teams), xid)
    if found is None:
        raise ConsoleNotFound("execution")
    team_id, eid = found
    return pages.execution_path(teams[team_id], eid, xid)


@router.get("/executions/{xid}")
def execution_alias(request: Request, xid: str, user: User) -> Response:
    """Short link to an execution of any team the token sees."""
    return redirect(_locate(request, user, xid))


@router.get("/organizations/{org}/teams/{team}/executions/{xid}")
def execution_team_alias(request: Request, org: str, team: str, xid: str, user: User) -> Response:
    ref = user.team(org, team)
    found = store_of(request).executions.locate([ref.team_id], xid)
    if found is None:
        raise ConsoleNotFound("execution")
    return redirect(pages.execution_path(ref, found[1], xid))


@router.get("/v1/organizations/{rest:path}")
def original_clean_url(rest: str, user: User) -> Response:
    """The original client printed Content-Location with ``/api/`` → ``/`` (``/v1/...``)."""
    return redirect("/organizations/" + rest)


def _execution(
    request: Request, user: ConsoleUser, org: str, team: str, eid: str, xid: str
) -> dict[str, Any]:
    ref = user.team(org, team)
    title = store_of(request).experiments.title(ref.team_id, eid)
    return pages.execution_view(store_of(request), ref, eid, xid, title)


EXEC = "/organizations/{org}/teams/{team}/experiments/{eid}/executions/{xid}"


@router.get(EXEC)
def execution(request: Request, org: str, team: str, eid: str, xid: str, user: User) -> Response:
    view = _execution(request, user, org, team, eid, xid)
    return render(request, "execution.html", {**view, "current_team": view["ref"]}, user=user)


@router.get(EXEC + "/live.json")
def execution_live(request: Request, org: str, team: str, eid: str, xid: str, user: User) -> Response:
    """The parts of the execution page that change while it runs (polled by live.js)."""
    view = _execution(request, user, org, team, eid, xid)
    fragment = templates.get_template("_execution_live.html").render({**view, "user": user})
    return JSONResponse(
        {
            "status": view["status"],
            "outcome": view["outcome"],
            "running": view["running"],
            "events_count": view["events_count"],
            "html": fragment,
        },
        headers={"Cache-Control": "no-store"},
    )


@router.get(EXEC + "/journal.json")
def execution_journal(request: Request, org: str, team: str, eid: str, xid: str, user: User) -> Response:
    ref = user.team(org, team)
    try:
        data = store_of(request).executions.get(ref.team_id, xid, eid)
    except NotFound as exc:
        raise ConsoleNotFound("execution") from exc
    body = pages.pretty_json(data["journal"])
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="journal-{xid}.json"',
            "Cache-Control": "no-store",
        },
    )


def _reason(form: Any) -> str:
    """The optional reason of a stop or pause form: no NUL, trimmed, at most 500 characters."""
    return str(form.get("reason") or "").replace("\x00", "").strip()[:500]


@router.post(EXEC + "/stop")
async def stop_execution(request: Request, org: str, team: str, eid: str, xid: str, user: User) -> Response:
    """Same effect as the API's ``POST .../executions/{xid}/stop``: a denying policy."""
    form = await checked_form(request, user)
    ref = user.team(org, team)
    user.require(MEMBER, "stopping a run")
    reason = _reason(form)
    reason = reason or f"stopped by {user.name} from the console"
    try:
        acting = user.acting(ref.team_id)
        store_of(request).policies.add(acting, xid, eid, STOP_POLICY, False, reason, "execution.stop")
    except NotFound as exc:
        raise ConsoleNotFound("execution") from exc
    log.info("execution %s stop requested from the console by token %s", xid, user.token.id)
    return redirect(pages.execution_path(ref, eid, xid) + "?stop=requested")


@router.post(EXEC + "/pause")
async def pause_execution(request: Request, org: str, team: str, eid: str, xid: str, user: User) -> Response:
    """Same effect as the API's ``POST .../executions/{xid}/pause`` (the default timeout)."""
    form = await checked_form(request, user)
    ref = user.team(org, team)
    user.require(MEMBER, "pausing or resuming a run")
    reason = _reason(form)
    try:
        reason = reason or f"paused by {user.name} from the console"
        store_of(request).pauses.pause(user.acting(ref.team_id), xid, eid, reason, None)
    except NotFound as exc:
        raise ConsoleNotFound("execution") from exc
    except Conflict:
        return redirect(pages.execution_path(ref, eid, xid) + "?pause=refused")
    log.info("execution %s paused from the console by token %s", xid, user.token.id)
    return redirect(pages.execution_path(ref, eid, xid) + "?pause=requested")


@router.post(EXEC + "/resume")
async def resume_execution(request: Request, org: str, team: str, eid: str, xid: str, user: User) -> Response:
    """Same effect as the API's ``POST .../executions/{xid}/resume``."""
    await checked_form(request, user)
    ref = user.team(org, team)
    user.require(MEMBER, "pausing or resuming a run")
    try:
        store_of(request).pauses.resume(user.acting(ref.team_id), xid, eid)
    except NotFound as exc:
        raise ConsoleNotFound("execution") from exc
    except Conflict:
        return redirect(pages.execution_path(ref, eid, xid))
    log.info("execution %s resumed from the console by token %s", xid, user.token.id)
    return redirect(pages.execution_path(ref, eid, xid) + "?resume=requested")


# --------------------------------------------------------- verifications
@router.get("/organizations/{org}/teams/{team}/verifications")
def verifications(request: Request, org: str, team: str, user: User, cursor: str | None = None) -> Response:
    ref = user.team(org, team)
    try:
        page = store_of(request).verifications.list(ref.team_id, ref.org_id, 50, cursor)
    except BadInput as exc:
        raise ConsoleNotFound("page") from exc
    return render(
        request,
        "verifications.html",
        {
            "ref": ref,
            "current_team": ref,
            "items": page.items,
            "total": page.total,
            "next_url": f"{ref.path}/verifications?cursor={quote(page.next_cursor)}"
            if page.next_cursor
            else None,
        },
        user=user,
    )


@router.get("/organizations/{org}/teams/{team}/verifications/{vid}")
def verification(
    request: Request, org: str, team: str, vid: str, user: User, cursor: str | None = None
) -> Response:
    ref = user.team(org, team)
    try:
        page = store_of(request).verifications.list_runs(ref.team_id, vid, 50, cursor)
    except (NotFound, BadInput) as exc:
        raise ConsoleNotFound("verification") from exc
    base = f"{ref.path}/verifications/{quote(vid, safe='')}"
    return render(
        request,
        "verification.html",
        {
            "ref": ref,
            "current_team": ref,
            "vid": vid,
            "base": base,
            "total": page.total,
            "runs": [pages.run_summary(r) for r in page.items],
            "trend": trends.trend_chart(store_of(request), ref, vid, base),
            "next_url": f"{base}?cursor={quote(page.next_cursor)}" if page.next_cursor else None,
        },
        user=user,
    )


RUN = "/organizations/{org}/teams/{team}/verifications/{vid}/runs/{rid}"


def _run(request: Request, user: ConsoleUser, org: str, team: str, vid: str, rid: str) -> dict[str, Any]:
    return pages.run_view(store_of(request), user.team(org, team), vid, rid)


@router.get(RUN)
def verification_run(request: Request, org: str, team: str, vid: str, rid: str, user: User) -> Response:
    view = _run(request, user, org, team, vid, rid)
    ref = view["ref"]
    base = f"{ref.path}/verifications/{quote(vid, safe='')}"
    return render(request, "run.html", {**view, "current_team": ref, "base": base}, user=user)


@router.get(RUN + "/live.json")
def verification_run_live(request: Request, org: str, team: str, vid: str, rid: str, user: User) -> Response:
    """The verification run page while it runs: chart, counts and events (polled by console.js)."""
    view = _run(request, user, org, team, vid, rid)
    fragment = templates.get_template("_run_live.html").render({**view, "user": user})
    return JSONResponse(
        {
            "state": view["run"].get("state"),
            "outcome": view["outcome"],
            "running": view["running"],
            "html": fragment,
        },
        headers={"Cache-Control": "no-store"},
    )
