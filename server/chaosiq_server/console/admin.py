"""The console's Tokens page (owners: list, create, revoke) and Audit page (members
and owners: the team's audit log, newest first)."""

from __future__ import annotations

import shlex
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from ..errors import BadInput
from ..roles import OWNER, ROLES, allows, parse
from ..store import TeamRef
from .auth import ConsoleForbidden, ConsoleNotFound, ConsoleUser, checked_form, require_same_origin, store_of
from .views import User, log, redirect, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_same_origin)])

TEAM = "/organizations/{org}/teams/{team}"
NAME_MAX = 200
MANAGING = "managing tokens"


def _owner(user: ConsoleUser, org: str, team: str) -> TeamRef:
    ref = user.team(org, team)
    user.require(OWNER, MANAGING)
    return ref


def _listed(request: Request, user: ConsoleUser, ref: TeamRef) -> list[dict[str, Any]]:
    """The tokens bound to ``ref``'s team, newest first, with the names of their teams the
    owner sees and whether the owner may revoke them (every team of theirs is the owner's)."""
    mine = {t.team_id: t for t in user.token.teams}
    rows = store_of(request).tokens.list([ref.team_id])
    out = []
    for row in reversed(rows):
        others = [t for t in row["teams"] if t not in mine]
        out.append(
            {
                **row,
                "team_labels": [mine[t].label for t in row["teams"] if t in mine],
                "other_teams": len(others),
                "revocable": not others and row["revoked_at"] is None,
                "is_self": row["id"] == user.token.id,
            }
        )
    return out


def signin_command(request: Request, secret: str, ref: TeamRef) -> str:
    """The ``chaos signin`` line that signs in with a new token, without a prompt."""
    url = str(request.base_url).rstrip("/")
    return shlex.join(
        ["chaos", "signin", "--url", url, "--token", secret, "--org", ref.org_name, "--team", ref.team_name]
    )


def _page(
    request: Request, user: ConsoleUser, ref: TeamRef, status_code: int = 200, **extra: Any
) -> Response:
    return render(
        request,
        "tokens.html",
        {
            "ref": ref,
            "current_team": ref,
            "tokens": _listed(request, user, ref),
            "roles": ROLES,
            "teams": user.token.teams,
            "error": None,
            "created": None,
            "form": {},
            **extra,
        },
        status_code=status_code,
        user=user,
    )


@router.get(TEAM + "/tokens")
def tokens(request: Request, org: str, team: str, user: User, revoked: str | None = None) -> Response:
    ref = _owner(user, org, team)
    return _page(request, user, ref, revoked=(revoked or "")[:NAME_MAX] or None)


@router.post(TEAM + "/tokens")
async def create_token(request: Request, org: str, team: str, user: User) -> Response:
    """A new token: a name, a role (never above the owner's), teams (only the owner's)."""
    form = await checked_form(request, user)
    ref = _owner(user, org, team)
    name = (form.get("name") or "").replace("\x00", "").strip()
    role = parse(form.get("role") or "")
    chosen = [t for t in user.token.teams if form.get(f"team-{t.team_id}")]
    error = None
    if not name or len(name) > NAME_MAX:
        error = f"Give the token a name of 1 to {NAME_MAX} characters."
    elif role is None or not allows(user.role, role):
        error = "Choose a role: viewer, member or owner."
    elif not chosen:
        error = "Choose at least one team."
    elif len(chosen) != len([k for k in form if k.startswith("team-")]):
        error = "A token can only be bound to teams of your token."
    if error or role is None:
        return _page(request, user, ref, 400, error=error, form=form)
    secret, info = store_of(request).tokens.create(name, [t.team_id for t in chosen], role, user.who)
    log.info("token %s (%s) created from the console by token %s", info["id"], role, user.token.id)
    home = ref if ref in chosen else chosen[0]
    created = {"id": info["id"], "name": name, "role": role, "secret": secret,
               "command": signin_command(request, secret, home)}  # fmt: skip
    return _page(request, user, ref, 201, created=created)


def _revocable(request: Request, user: ConsoleUser, ref: TeamRef, tid: str) -> dict[str, Any]:
    found = next((t for t in _listed(request, user, ref) if t["id"] == tid), None)
    if found is None or found["revoked_at"] is not None:
        raise ConsoleNotFound("token")
    if not found["revocable"]:
        raise ConsoleForbidden("this token is also bound to teams yours is not: their owners may revoke it")
    return found


@router.get(TEAM + "/tokens/{tid}/revoke")
def confirm_revoke(request: Request, org: str, team: str, tid: str, user: User) -> Response:
    """The confirmation: revoking cannot be undone."""
    ref = _owner(user, org, team)
    found = _revocable(request, user, ref, tid)
    return render(request, "revoke.html", {"ref": ref, "current_team": ref, "token": found}, user=user)


@router.post(TEAM + "/tokens/{tid}/revoke")
async def revoke_token(request: Request, org: str, team: str, tid: str, user: User) -> Response:
    await checked_form(request, user)
    ref = _owner(user, org, team)
    found = _revocable(request, user, ref, tid)
    store_of(request).tokens.revoke(tid, actor=user.who)
    log.info("token %s revoked from the console by token %s", tid, user.token.id)
    if found["is_self"]:  # its sessions ended with it: this one too
        return redirect("/signin")
    return redirect(f"{ref.path}/tokens?revoked={quote(found['name'], safe='')}")


@router.get(TEAM + "/audit")
def audit(request: Request, org: str, team: str, user: User, cursor: str | None = None) -> Response:
    """The team's audit log, newest first, 50 a page."""
    ref = user.team(org, team)
    try:
        page = store_of(request).audit.list(ref.team_id, 50, cursor)
    except BadInput as exc:
        raise ConsoleNotFound("page") from exc
    return render(
        request,
        "audit.html",
        {
            "ref": ref,
            "current_team": ref,
            "entries": page.items,
            "total": page.total,
            "first_page": not cursor,
            "next_url": f"{ref.path}/audit?cursor={quote(page.next_cursor)}" if page.next_cursor else None,
        },
        user=user,
    )
