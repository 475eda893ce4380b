"""The audit log: who did what to which target of a team, and when. Append-only.

Every action that changes who may do what, or stops a run, writes its row with
:meth:`Audit.record` on the connection of the action's own transaction: the row
exists exactly when the action happened. No code path updates or deletes a row,
and the database refuses it too (a trigger, migration 0006).

Actions: ``execution.stop``, ``execution.pause``, ``execution.resume``,
``token.create``, ``token.revoke``, ``policy.create``, ``policy.update``,
``policy.delete``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, insert

from .. import models as m
from ..db import Database, new_id, utcnow
from ..jsonutil import dumps, loads
from .paging import Page, newest_first

ACTIONS = (
    "execution.stop",
    "execution.pause",
    "execution.resume",
    "token.create",
    "token.revoke",
    "policy.create",
    "policy.update",
    "policy.delete",
)


class Actor(Protocol):
    """Who acts: a token (``chaosiq_server.auth.Principal`` is one)."""

    @property
    def token_id(self) -> str | None: ...

    @property
    def name(self) -> str: ...


class AuditScope(Protocol):
    """Where and by whom: ``routes.deps.TeamScope`` is one, :class:`Acting` another."""

    @property
    def team_id(self) -> str: ...

    @property
    def principal(self) -> Actor: ...


@dataclass(frozen=True)
class Who:
    """An :class:`Actor` by value: a token (the console's user), or :data:`ADMIN`."""

    token_id: str | None
    name: str


ADMIN = Who(None, "chaosiq-server (admin CLI)")
"""The admin CLI (``chaosiq-server token …``): no token acts."""


@dataclass(frozen=True)
class Acting:
    """An :class:`AuditScope` for callers without a route scope (the console, the CLI)."""

    team_id: str
    principal: Actor


class Audit:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def record(
        conn: Connection,
        scope: AuditScope,
        action: str,
        target: str | None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append one row on ``conn``, inside the caller's write transaction (so the row
        is committed with the action, or not at all)."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        conn.execute(
            insert(m.audit_log).values(
                id=new_id(),
                created_at=utcnow(),
                team_id=scope.team_id,
                token_id=scope.principal.token_id,
                token_name=scope.principal.name,
                action=action,
                target_id=target,
                details=dumps(details or {}),
            )
        )

    def list(self, team_id: str, limit: int | None, cursor: str | None) -> Page:
        """The team's audit log, newest first (paged)."""
        t = m.audit_log
        return newest_first(self.db, t, t.c.team_id == team_id, limit, cursor, _entry)


def _entry(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.created_at,
        "team_id": row.team_id,
        "token_id": row.token_id,
        "token_name": row.token_name,
        "action": row.action,
        "target_id": row.target_id,
        "details": loads(row.details) if row.details else {},
    }
