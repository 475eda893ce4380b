"""The console's team policies pages: the list, a form to create or edit one, delete.

The forms are validated by the API's own schema (``schemas.TeamPolicyIn``) and the
changes go through the same store methods as the API routes
(``team_policies.create/update/delete``).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from ..errors import Conflict, NotFound
from ..roles import OWNER
from ..schemas import WINDOW_FIELDS, TeamPolicyIn
from ..store import TeamRef
from ..windows import DAY_NAMES, time_zones
from .auth import ConsoleNotFound, ConsoleUser, checked_form, require_same_origin, store_of
from .views import User, redirect, render

log = logging.getLogger("chaosiq_server.console")

# as every console router: a state-changing request from another site is refused first
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_same_origin)])

POLICIES = "/organizations/{org}/teams/{team}/policies"
KIND_LABELS = {
    "deny": "Deny now",
    "window": "Time window",
    "concurrency": "Concurrent runs",
}
BLANK = {"name": "", "kind": "window", "tag": "", "reason": "", "start_day": "4", "start_time": "16:00",
         "end_day": "0", "end_time": "08:00", "time_zone": "UTC", "max_runs": "1"}  # fmt: skip


def _owner(user: ConsoleUser, org: str, team: str) -> TeamRef:
    """The team, when the user's role may manage its policies (else 403)."""
    ref = user.team(org, team)
    user.require(OWNER, "managing policies")
    return ref


def _spec(form: dict[str, str]) -> dict[str, Any]:
    """The form as a policy definition: blanks are absent, numbers are numbers, and the
    fields of the other kinds are left out."""
    kind = form.get("kind", "")
    spec: dict[str, Any] = {"name": form.get("name", ""), "kind": kind}
    for key in ("tag", "reason"):
        if (form.get(key) or "").strip():
            spec[key] = form[key].strip()
    if kind == "window":
        for key in WINDOW_FIELDS:
            value = (form.get(key) or "").strip()
            if value:
                spec[key] = _int(value) if key.endswith("_day") else value
    if kind == "concurrency" and (form.get("max_runs") or "").strip():
        spec["max_runs"] = _int(form["max_runs"].strip())
    return spec


def _int(text: str) -> int | str:
    """An integer, or the text itself (the schema then says what is wrong)."""
    return int(text) if text.isdigit() and len(text) < 10 else text


def _problem(exc: ValidationError) -> str:
    """One line per problem, the way a person reads it."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc") or ())
        message = str(err.get("msg") or "invalid").removeprefix("Value error, ")
        lines.append(f"{where.replace('_', ' ')}: {message}" if where else message)
    return "; ".join(lines)


def _form_page(
    request: Request, user: ConsoleUser, ref: Any, values: dict[str, Any], pid: str | None, error: str | None
) -> Response:
    return render(
        request,
        "policy_form.html",
        {
            "ref": ref,
            "current_team": ref,
            "values": {k: "" if v is None else str(v) for k, v in {**BLANK, **values}.items()},
            "pid": pid,
            "error": error,
            "kinds": KIND_LABELS,
            "days": list(enumerate(DAY_NAMES)),
            "zones": sorted(time_zones()),
            "action": f"{ref.path}/policies/{pid}" if pid else f"{ref.path}/policies",
        },
        status_code=400 if error else 200,
        user=user,
    )


@router.get(POLICIES)
def policies(request: Request, org: str, team: str, user: User) -> Response:
    ref = user.team(org, team)
    items = store_of(request).team_policies.list(ref.team_id)
    return render(
        request,
        "policies.html",
        {"ref": ref, "current_team": ref, "items": items, "kinds": KIND_LABELS},
        user=user,
    )


@router.get(POLICIES + "/new")
def new_policy(request: Request, org: str, team: str, user: User) -> Response:
    ref = _owner(user, org, team)
    return _form_page(request, user, ref, {}, None, None)


async def _save(request: Request, user: ConsoleUser, org: str, team: str, pid: str | None) -> Response:
    form = await checked_form(request, user)
    ref = _owner(user, org, team)
    values = {k: v for k, v in form.items() if k != "csrf_token"}
    try:
        spec = TeamPolicyIn.model_validate(_spec(form)).model_dump()
    except ValidationError as exc:
        return _form_page(request, user, ref, values, pid, _problem(exc))
    store = store_of(request)
    try:
        if pid is None:
            saved = store.team_policies.create(user.acting(ref.team_id), spec)
        else:
            saved = store.team_policies.update(user.acting(ref.team_id), pid, spec)
    except Conflict as exc:
        return _form_page(request, user, ref, values, pid, exc.detail)
    except NotFound as exc:
        raise ConsoleNotFound("policy") from exc
    done = "created" if pid is None else "updated"
    log.info("team policy %s %s from the console by token %s", saved["id"], done, user.token.id)
    return redirect(f"{ref.path}/policies?saved={saved['id']}")


@router.post(POLICIES)
async def create_policy(request: Request, org: str, team: str, user: User) -> Response:
    return await _save(request, user, org, team, None)


@router.get(POLICIES + "/{pid}")
def edit_policy(request: Request, org: str, team: str, pid: str, user: User) -> Response:
    ref = _owner(user, org, team)
    try:
        policy = store_of(request).team_policies.get(ref.team_id, pid)
    except NotFound as exc:
        raise ConsoleNotFound("policy") from exc
    return _form_page(request, user, ref, policy, pid, None)


@router.post(POLICIES + "/{pid}")
async def update_policy(request: Request, org: str, team: str, pid: str, user: User) -> Response:
    return await _save(request, user, org, team, pid)


@router.post(POLICIES + "/{pid}/delete")
async def delete_policy(request: Request, org: str, team: str, pid: str, user: User) -> Response:
    await checked_form(request, user)
    ref = _owner(user, org, team)
    try:
        store_of(request).team_policies.delete(user.acting(ref.team_id), pid)
    except NotFound as exc:
        raise ConsoleNotFound("policy") from exc
    log.info("team policy %s deleted from the console by token %s", pid, user.token.id)
    return redirect(f"{ref.path}/policies?deleted=1")
