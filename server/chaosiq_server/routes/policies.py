"""Safeguard policies of an execution: the verdict, adding one, stopping a run."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from ..schemas import Policies, PolicyIn, PolicyOut, StopIn
from .deps import ERRORS, TEAM, Eid, Owner, Stopper, Viewer, Xid
from .json_route import JsonRoute

router = APIRouter(prefix=TEAM, tags=["safeguards"], responses=ERRORS, route_class=JsonRoute)

POLICIES = "/experiments/{eid}/executions/{xid}/policies"


def _verdict(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"allowed": all(p["allowed"] for p in items), "policies": items}


@router.get(POLICIES, response_model=Policies)
async def get_policies(scope: Viewer, eid: Eid, xid: Xid) -> Any:
    """Safeguard verdict: ``allowed`` is false when any policy denies the run."""
    if scope.store.db.is_sqlite:  # a cached ownership check and one indexed read: no thread hop
        return _verdict(scope.store.policies.list(scope.team_id, xid, eid))
    return _verdict(await run_in_threadpool(scope.store.policies.list, scope.team_id, xid, eid))


@router.post(POLICIES, status_code=201, response_model=PolicyOut)
def add_policy(body: PolicyIn, scope: Owner, eid: Eid, xid: Xid) -> Any:
    """Attach a policy to an execution (``allowed: false`` stops the run at its
    next safeguard check). Extension ``policies-write``."""
    return scope.store.policies.add(scope, xid, eid, body.name, body.allowed, body.reason)


@router.post("/executions/{xid}/stop", status_code=201, response_model=PolicyOut)
def stop_execution(scope: Stopper, xid: Xid, body: StopIn | None = None) -> Any:
    """Ask a running execution to stop (extension ``stop``): adds a denying
    policy named ``stopped-by-user``."""
    reason = (body.reason if body else None) or f"stopped by {scope.principal.name}"
    return scope.store.policies.add(scope, xid, None, "stopped-by-user", False, reason, "execution.stop")
