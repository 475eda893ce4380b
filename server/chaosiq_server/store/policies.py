"""Safeguard policies of an execution: a denying one stops the run at its next check.

:meth:`Policies.verdict` is what ``GET …/executions/{xid}/policies`` answers: the
execution's own policies, the team's policies that deny it now
(``team_policies.py``) and its standing pause (``pauses.py``), in the shape the
safeguards plugin reads.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, insert, select

from .. import models as m
from ..db import Database, new_id, utcnow
from .audit import Audit, AuditScope
from .executions import Executions
from .pauses import Pauses
from .team_policies import TeamPolicies


class Policies:
    def __init__(self, db: Database, executions: Executions, team: TeamPolicies, pauses: Pauses) -> None:
        self.db = db
        self.executions = executions
        self.team = team
        self.pauses = pauses

    def verdict(
        self, team_id: str, xid: str, eid: str | None = None, now: datetime | None = None
    ) -> dict[str, Any]:
        """``{"allowed", "policies"}``: the execution's policies, then the team's denying
        ones, then a standing pause (``"pause": true``, ``"allowed": true``, its ``timeout``)."""
        with self.db.read() as conn:
            items = self._own(conn, team_id, xid, eid)
            items += self.team.denials(conn, team_id, xid, now or datetime.now(timezone.utc))
            pause = self.pauses.standing(conn, xid)
        if pause is not None:
            items.append(
                {
                    "id": pause["id"],
                    "name": "paused-by-user",
                    "allowed": True,
                    "pause": True,
                    "timeout": pause["timeout"],
                    "reason": pause["reason"] or f"paused by {pause['created_by']}",
                    "created_by": pause["created_by"],
                    "created_at": pause["created_at"],
                }
            )
        return {"allowed": all(p["allowed"] for p in items), "policies": items}

    def list(self, team_id: str, xid: str, eid: str | None = None) -> list[dict[str, Any]]:
        """The execution's policies, oldest first."""
        with self.db.read() as conn:
            return self._own(conn, team_id, xid, eid)

    def _own(self, conn: Connection, team_id: str, xid: str, eid: str | None) -> list[dict[str, Any]]:
        """The execution's own policies, oldest first (``NotFound`` for another team's)."""
        self.executions.require(conn, team_id, xid, eid)
        t = m.policies
        rows = conn.execute(select(t).where(t.c.execution_id == xid).order_by(t.c.created_at, t.c.id)).all()
        return [_policy(r) for r in rows]

    def add(
        self,
        scope: AuditScope,
        xid: str,
        eid: str | None,
        name: str,
        allowed: bool,
        reason: str | None,
        action: str = "policy.create",
    ) -> dict[str, Any]:
        """Attach a policy to an execution of ``scope``'s team, created by its token; the
        audit log's ``action`` row (``policy.create``, or ``execution.stop`` for a stop)
        is written in the same transaction."""
        team_id, created_by = scope.team_id, scope.principal.name
        row = {
            "id": new_id(),
            "execution_id": xid,
            "name": name,
            "allowed": allowed,
            "reason": reason,
            "created_by": created_by,
            "created_at": utcnow(),
        }
        with self.db.write() as conn:
            self.executions.require(conn, team_id, xid, eid)
            conn.execute(insert(m.policies).values(row))
            details = {"name": name, "allowed": allowed, "reason": reason, "policy_id": row["id"]}
            Audit.record(conn, scope, action, xid, details)
        return {k: v for k, v in row.items() if k != "execution_id"}


def _policy(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "allowed": bool(row.allowed),
        "reason": row.reason,
        "created_by": row.created_by,
        "created_at": row.created_at,
    }
