"""Pauses of an execution: a standing pause holds the run before its next activity.

Pausing and resuming go through :meth:`Pauses.pause` and :meth:`Pauses.resume`
only (the API routes and the console call these).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from .. import models as m
from ..db import Database, new_id, utcnow
from ..errors import Conflict
from .audit import Audit, AuditScope
from .executions import Executions

DEFAULT_TIMEOUT = 600.0
"""Seconds a pause holds a run when the request names no timeout (then the run is stopped)."""
MAX_TIMEOUT = 86400.0


def pause_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "reason": row.reason,
        "timeout": row.timeout,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "resumed_by": row.resumed_by,
        "resumed_at": row.resumed_at,
    }


class Pauses:
    def __init__(self, db: Database, executions: Executions) -> None:
        self.db = db
        self.executions = executions

    def standing(self, conn: Connection, xid: str) -> dict[str, Any] | None:
        """The pause of ``xid`` not resumed yet, if any (inside the caller's transaction)."""
        t = m.execution_pauses
        q = select(t).where(t.c.execution_id == xid, t.c.resumed_at.is_(None))
        row = conn.execute(q.order_by(t.c.created_at).limit(1)).first()
        return pause_dict(row) if row is not None else None

    def current(self, team_id: str, xid: str, eid: str | None = None) -> dict[str, Any] | None:
        with self.db.read() as conn:
            self.executions.require(conn, team_id, xid, eid)
            return self.standing(conn, xid)

    def pause(
        self, scope: AuditScope, xid: str, eid: str | None, reason: str | None, timeout: float | None
    ) -> dict[str, Any]:
        """Pause a running execution of ``scope``'s team, by its token; ``Conflict`` when it
        is not running or already paused. Audited as ``execution.pause``."""
        team_id, by = scope.team_id, scope.principal.name
        row = {
            "id": new_id(),
            "execution_id": xid,
            "reason": reason,
            "timeout": DEFAULT_TIMEOUT if timeout is None else float(timeout),
            "created_by": by,
            "created_at": utcnow(),
            "resumed_by": None,
            "resumed_at": None,
        }
        with self.db.write() as conn:
            self.executions.require(conn, team_id, xid, eid)
            x = m.executions
            outcome = conn.execute(select(x.c.outcome).where(x.c.id == xid)).scalar()
            if outcome != "running":
                raise Conflict(f"only a running execution can be paused (this one is {outcome})")
            if self.standing(conn, xid) is not None:
                raise Conflict("the execution is already paused: resume it first")
            conn.execute(insert(m.execution_pauses).values(row))
            details = {"reason": reason, "timeout": row["timeout"], "pause_id": row["id"]}
            Audit.record(conn, scope, "execution.pause", xid, details)
        return {k: v for k, v in row.items() if k != "execution_id"}

    def resume(self, scope: AuditScope, xid: str, eid: str | None) -> dict[str, Any]:
        """Lift the standing pause; ``Conflict`` when there is none. Audited as
        ``execution.resume``."""
        team_id, by = scope.team_id, scope.principal.name
        t = m.execution_pauses
        with self.db.write() as conn:
            self.executions.require(conn, team_id, xid, eid)
            current = self.standing(conn, xid)
            if current is None:
                raise Conflict("the execution is not paused")
            now = utcnow()
            conn.execute(update(t).where(t.c.id == current["id"]).values(resumed_by=by, resumed_at=now))
            Audit.record(conn, scope, "execution.resume", xid, {"pause_id": current["id"]})
        return {**current, "resumed_by": by, "resumed_at": now}
