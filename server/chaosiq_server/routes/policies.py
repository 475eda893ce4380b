"""Safeguard policies: an execution's verdict, adding one, stopping, pausing and
resuming a run; the team's policies (list, create, read, replace, delete).

Every change is made by one store method (``policies.add``, ``pauses.pause``,
``pauses.resume``, ``team_policies.create/update/delete``); the console calls the
same ones.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from starlette.concurrency import run_in_threadpool

from ..roles import MEMBER, allows
from ..schemas import (
    PauseIn,
    PauseOut,
    Policies,
    PolicyIn,
    PolicyOut,
    StopIn,
    TeamPoliciesOut,
    TeamPolicyIn,
    TeamPolicyOut,
)
from .deps import ERRORS, TEAM, Eid, ErrorOut, Owner, Pauser, Stopper, Viewer, Xid
from .json_route import JsonRoute

router = APIRouter(prefix=TEAM, tags=["safeguards"], responses=ERRORS, route_class=JsonRoute)

POLICIES = "/experiments/{eid}/executions/{xid}/policies"
TEAM_POLICIES = "/policies"
Pid = Annotated[str, Path(max_length=200)]
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": ErrorOut, "description": "Conflict"}}


@router.get(POLICIES, response_model=Policies, response_model_exclude_unset=True)  # the original shape
async def get_policies(scope: Viewer, eid: Eid, xid: Xid) -> Any:
    """Safeguard verdict: ``allowed`` is false when any policy denies the run (the
    execution's own, or a team policy that applies now); a standing pause is listed
    with ``"pause": true`` and its ``timeout``."""
    store = scope.store
    if store.db.is_sqlite:  # a cached ownership check and a few indexed reads: no thread hop
        verdict = store.policies.verdict(scope.team_id, xid, eid)
    else:
        verdict = await run_in_threadpool(store.policies.verdict, scope.team_id, xid, eid)
    # The run asks (with the token that publishes it, a member's or an owner's): it is
    # alive; a write every 15 s at most. A viewer watching it is no sign of its life.
    if allows(scope.principal.role, MEMBER) and store.liveness.due(xid):
        await run_in_threadpool(store.liveness.seen, xid)
    return verdict


@router.post(POLICIES, status_code=201, response_model=PolicyOut, response_model_exclude_unset=True)
def add_policy(body: PolicyIn, scope: Owner, eid: Eid, xid: Xid) -> Any:
    """Attach a policy to an execution (``allowed: false`` stops the run at its
    next safeguard check). Extension ``policies-write``."""
    return scope.store.policies.add(scope, xid, eid, body.name, body.allowed, body.reason)


@router.post(
    "/executions/{xid}/stop", status_code=201, response_model=PolicyOut, response_model_exclude_unset=True
)
def stop_execution(scope: Stopper, xid: Xid, body: StopIn | None = None) -> Any:
    """Ask a running execution to stop (extension ``stop``): adds a denying
    policy named ``stopped-by-user``."""
    reason = (body.reason if body else None) or f"stopped by {scope.principal.name}"
    return scope.store.policies.add(scope, xid, None, "stopped-by-user", False, reason, "execution.stop")


@router.post("/executions/{xid}/pause", status_code=201, response_model=PauseOut, responses=CONFLICT)
def pause_execution(scope: Pauser, xid: Xid, body: PauseIn | None = None) -> Any:
    """Hold a running execution before its next activity until it is resumed, or
    until ``timeout`` seconds (default 600) pass: then it is stopped as if by a
    safeguard. 409 when it is not running or already paused."""
    body = body or PauseIn()
    return scope.store.pauses.pause(scope, xid, None, body.reason, body.timeout)


@router.post("/executions/{xid}/resume", response_model=PauseOut, responses=CONFLICT)
def resume_execution(scope: Pauser, xid: Xid) -> Any:
    """Lift the execution's pause: the run goes on at its next safeguard check. 409
    when it is not paused."""
    return scope.store.pauses.resume(scope, xid, None)


# ------------------------------------------------------------ team policies
@router.get(TEAM_POLICIES, response_model=TeamPoliciesOut)
def list_team_policies(scope: Viewer) -> Any:
    """The team's safeguard policies, by name."""
    return {"items": scope.store.team_policies.list(scope.team_id)}


@router.post(TEAM_POLICIES, status_code=201, response_model=TeamPolicyOut, responses=CONFLICT)
def create_team_policy(body: TeamPolicyIn, scope: Owner) -> Any:
    """Add a team safeguard policy (409 when the team has one of that name)."""
    return scope.store.team_policies.create(scope, body.model_dump())


@router.get(TEAM_POLICIES + "/{pid}", response_model=TeamPolicyOut)
def get_team_policy(scope: Viewer, pid: Pid) -> Any:
    return scope.store.team_policies.get(scope.team_id, pid)


@router.put(TEAM_POLICIES + "/{pid}", response_model=TeamPolicyOut, responses=CONFLICT)
def update_team_policy(body: TeamPolicyIn, scope: Owner, pid: Pid) -> Any:
    """Replace a team policy's definition (the whole of it)."""
    return scope.store.team_policies.update(scope, pid, body.model_dump())


@router.delete(TEAM_POLICIES + "/{pid}", status_code=204)
def delete_team_policy(scope: Owner, pid: Pid) -> Response:
    scope.store.team_policies.delete(scope, pid)
    return Response(status_code=204)
