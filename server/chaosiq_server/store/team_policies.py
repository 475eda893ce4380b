"""A team's safeguard policies: deny now, weekly time windows, a concurrency limit;
each for every experiment of the team or those with a tag.

Every change goes through :meth:`TeamPolicies.create`, :meth:`TeamPolicies.update`
and :meth:`TeamPolicies.delete` (the API routes and the console call only these).
:meth:`TeamPolicies.denials` turns the policies into the denying entries of an
execution's verdict (``store/verdicts.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from .. import models as m
from ..db import Database, new_id, utcnow
from ..errors import Conflict, NotFound
from ..windows import Window
from .audit import Audit, AuditScope
from .liveness import alive

KINDS = ("deny", "window", "concurrency")
FIELDS = (
    "name",
    "kind",
    "tag",
    "reason",
    "start_day",
    "start_time",
    "end_day",
    "end_time",
    "time_zone",
    "max_runs",
)
"""What a policy is made of (validated by ``schemas.TeamPolicyIn`` before it gets here)."""


def policy_dict(row: Any) -> dict[str, Any]:
    out = {"id": row.id, **{f: getattr(row, f) for f in FIELDS}}
    out.update(
        created_by=row.created_by,
        created_at=row.created_at,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
        description=describe(out),
    )
    return out


def window_of(policy: dict[str, Any]) -> Window:
    return Window(
        policy["start_day"], policy["start_time"], policy["end_day"], policy["end_time"], policy["time_zone"]
    )


def describe(policy: dict[str, Any]) -> str:
    """What the policy does, in words (the list page, the verdict's reason)."""
    scope = f"experiments tagged '{policy['tag']}'" if policy.get("tag") else "every experiment"
    if policy["kind"] == "window":
        what = f"no run while {window_of(policy).describe()} is open"
    elif policy["kind"] == "concurrency":
        n = policy["max_runs"]
        what = f"at most {n} run{'s' if n != 1 else ''} at a time"
    else:
        what = "every run is denied now"
    return f"{what} ({scope})"


class TeamPolicies:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ----------------------------------------------------------- reading
    def list(self, team_id: str) -> list[dict[str, Any]]:
        """The team's policies, by name."""
        t = m.team_policies
        with self.db.read() as conn:
            rows = conn.execute(select(t).where(t.c.team_id == team_id).order_by(t.c.name, t.c.id)).all()
        return [policy_dict(r) for r in rows]

    def get(self, team_id: str, pid: str) -> dict[str, Any]:
        t = m.team_policies
        with self.db.read() as conn:
            row = conn.execute(select(t).where(t.c.id == pid, t.c.team_id == team_id)).first()
        if row is None:
            raise NotFound("policy")
        return policy_dict(row)

    # ---------------------------------------------------------- changing
    def create(self, scope: AuditScope, spec: dict[str, Any]) -> dict[str, Any]:
        """Add a policy to ``scope``'s team, by its token (``spec``: the :data:`FIELDS`);
        ``Conflict`` when the team has one of that name. Audited as ``policy.create``."""
        team_id, by = scope.team_id, scope.principal.name
        now = utcnow()
        row = {
            "id": new_id(),
            "team_id": team_id,
            **{f: spec.get(f) for f in FIELDS},
            "created_by": by,
            "created_at": now,
            "updated_by": by,
            "updated_at": now,
        }
        try:
            with self.db.write() as conn:
                conn.execute(insert(m.team_policies).values(row))
                Audit.record(conn, scope, "policy.create", row["id"], _details(row))
        except IntegrityError as exc:
            raise Conflict(f"the team already has a policy named {spec.get('name')!r}") from exc
        return self.get(team_id, row["id"])

    def update(self, scope: AuditScope, pid: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Replace a policy's definition (every one of the :data:`FIELDS`). Audited as
        ``policy.update``."""
        team_id, by = scope.team_id, scope.principal.name
        t = m.team_policies
        values = {**{f: spec.get(f) for f in FIELDS}, "updated_by": by, "updated_at": utcnow()}
        try:
            with self.db.write() as conn:
                done = conn.execute(update(t).where(t.c.id == pid, t.c.team_id == team_id).values(values))
                if done.rowcount == 0:
                    raise NotFound("policy")
                Audit.record(conn, scope, "policy.update", pid, _details(values))
        except IntegrityError as exc:
            raise Conflict(f"the team already has a policy named {spec.get('name')!r}") from exc
        return self.get(team_id, pid)

    def delete(self, scope: AuditScope, pid: str) -> dict[str, Any]:
        """Remove a policy; returns what it was. Audited as ``policy.delete``."""
        team_id = scope.team_id
        t = m.team_policies
        with self.db.write() as conn:
            row = conn.execute(select(t).where(t.c.id == pid, t.c.team_id == team_id)).first()
            if row is None:
                raise NotFound("policy")
            conn.execute(delete(t).where(t.c.id == pid, t.c.team_id == team_id))
            Audit.record(conn, scope, "policy.delete", pid, _details(row._mapping))
        return policy_dict(row)

    # ---------------------------------------------------------- verdicts
    def denials(self, conn: Connection, team_id: str, xid: str, now: datetime) -> list[dict[str, Any]]:
        """The verdict entries of the team's policies that deny execution ``xid`` at ``now``.

        A window denies while it is open; a concurrency limit of N denies a running
        execution that is not among the N oldest running ones of its scope (so an
        older run is never stopped by a newer one); deny-now always denies.
        """
        t = m.team_policies
        policies = [policy_dict(r) for r in conn.execute(select(t).where(t.c.team_id == team_id)).all()]
        if not policies:
            return []
        x = m.executions
        execution = conn.execute(
            select(x.c.experiment_id, x.c.outcome).where(x.c.id == xid, x.c.team_id == team_id)
        ).first()
        if execution is None:
            return []
        tags = _tags(conn, execution.experiment_id) if any(p["tag"] for p in policies) else set()
        out = []
        for policy in sorted(policies, key=lambda p: (p["name"], p["id"])):
            if policy["tag"] and policy["tag"] not in tags:
                continue
            reason = self._denies(conn, team_id, xid, execution.outcome, policy, now)
            if reason is not None:
                out.append(_entry(policy, reason))
        return out

    def _denies(
        self, conn: Connection, team_id: str, xid: str, outcome: str, policy: dict[str, Any], now: datetime
    ) -> str | None:
        name = policy["name"]
        extra = f": {policy['reason']}" if policy.get("reason") else ""
        if policy["kind"] == "deny":
            return f"policy '{name}' denies every run now{extra}"
        if policy["kind"] == "window":
            window = window_of(policy)
            return f"window '{name}' ({window.describe()}) is open{extra}" if window.is_open(now) else None
        if policy["kind"] == "concurrency" and outcome == "running":
            limit = int(policy["max_runs"])
            if xid not in _oldest_running(conn, team_id, xid, policy["tag"], limit, now):
                scope = f" tagged '{policy['tag']}'" if policy["tag"] else ""
                return (
                    f"limit '{name}': at most {limit} run{'s' if limit != 1 else ''}{scope} at a time, "
                    f"and {limit} older one{'s are' if limit != 1 else ' is'} running{extra}"
                )
        return None


def _tags(conn: Connection, experiment_id: str) -> set[str]:
    t = m.experiment_tags
    return set(conn.execute(select(t.c.tag).where(t.c.experiment_id == experiment_id)).scalars())


def _oldest_running(
    conn: Connection, team_id: str, xid: str, tag: str | None, limit: int, now: datetime
) -> set[str]:
    """Ids of the ``limit`` oldest running executions of the team (of experiments tagged
    ``tag``) that are alive (``liveness.py``); ``xid``, which asks, is."""
    x = m.executions
    q = select(x.c.id).where(x.c.team_id == team_id, x.c.outcome == "running", or_(x.c.id == xid, alive(now)))
    if tag:
        tags = m.experiment_tags
        tagged = select(tags.c.experiment_id).where(tags.c.team_id == team_id, tags.c.tag == tag)
        q = q.where(x.c.experiment_id.in_(tagged))
    return set(conn.execute(q.order_by(x.c.created_at, x.c.id).limit(limit)).scalars())


def _entry(policy: dict[str, Any], reason: str) -> dict[str, Any]:
    """A denying entry of the verdict's ``policies`` list (the shape clients already read)."""
    return {
        "id": policy["id"],
        "name": policy["name"],
        "allowed": False,
        "reason": reason,
        "created_by": policy["updated_by"] or policy["created_by"],
        "created_at": policy["updated_at"],
        "kind": policy["kind"],
        "scope": "team",
    }


def _details(values: Any) -> dict[str, Any]:
    """What the audit log keeps of a team policy: its definition."""
    return {f: values[f] for f in FIELDS if values.get(f) is not None}
