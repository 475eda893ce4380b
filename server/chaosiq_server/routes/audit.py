"""The team's audit log (read only: no route updates or deletes an entry)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..schemas import AuditPage
from .deps import ERRORS, TEAM, CursorQ, LimitQ, Viewer, page
from .json_route import JsonRoute

router = APIRouter(prefix=TEAM, tags=["audit"], responses=ERRORS, route_class=JsonRoute)


@router.get("/audit", response_model=AuditPage)
def list_audit(scope: Viewer, limit: LimitQ = None, cursor: CursorQ = None) -> Any:
    """Who stopped which run, created or revoked which token, created, changed or
    deleted which policy, and when: newest first (paged). Every role of the team."""
    return page(scope.store.audit.list(scope.team_id, limit, cursor))
