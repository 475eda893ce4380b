"""Read queries the console needs and the API's store does not offer."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select

from .. import models as m
from ..db import Database
from ..jsonutil import decode_cursor, encode_cursor

PAGE_SIZE = 25


@dataclass(frozen=True)
class TeamRef:
    """A team the signed-in token sees, with its organization."""

    org_id: str
    org_name: str
    team_id: str
    team_name: str

    @property
    def label(self) -> str:
        return f"{self.org_name} / {self.team_name}"

    @property
    def path(self) -> str:
        return f"/organizations/{self.org_id}/teams/{self.team_id}"


@dataclass(frozen=True)
class TokenInfo:
    """A live (not revoked) token: the console's signed-in user."""

    id: str
    name: str
    token_hash: str
    teams: list[TeamRef] = field(default_factory=list)

    def team(self, org_id: str, team_id: str) -> TeamRef | None:
        for ref in self.teams:
            if ref.team_id == team_id and ref.org_id == org_id:
                return ref
        return None


def _token_teams(conn: Any, token_id: str) -> list[TeamRef]:
    rows = conn.execute(
        select(
            m.teams.c.id,
            m.teams.c.name,
            m.organizations.c.id.label("oid"),
            m.organizations.c.name.label("oname"),
        )
        .join(m.token_teams, m.token_teams.c.team_id == m.teams.c.id)
        .join(m.organizations, m.organizations.c.id == m.teams.c.org_id)
        .where(m.token_teams.c.token_id == token_id)
        .order_by(m.organizations.c.name, m.teams.c.name)
    ).all()
    return [TeamRef(r.oid, r.oname, r.id, r.name) for r in rows]


def token_by_id(db: Database, token_id: str) -> TokenInfo | None:
    """The token with this id unless it was revoked."""
    with db.read() as conn:
        row = conn.execute(
            select(m.tokens.c.id, m.tokens.c.name, m.tokens.c.token_hash).where(
                m.tokens.c.id == token_id, m.tokens.c.revoked_at.is_(None)
            )
        ).first()
        if row is None:
            return None
        return TokenInfo(row.id, row.name, row.token_hash, _token_teams(conn, row.id))


def token_by_hash(db: Database, token_hash: str) -> TokenInfo | None:
    """The live token whose digest is ``token_hash`` (sign-in)."""
    with db.read() as conn:
        row = conn.execute(
            select(m.tokens.c.id).where(m.tokens.c.token_hash == token_hash, m.tokens.c.revoked_at.is_(None))
        ).first()
    return token_by_id(db, row.id) if row is not None else None


@dataclass
class ExecutionRow:
    """One line of the executions list."""

    id: str
    experiment_id: str
    title: str
    status: str
    deviated: bool | None
    start: str
    duration: float | None
    created_at: str


def _journal_summary(text: str | None) -> dict[str, Any]:
    try:
        journal = json.loads(text) if text else {}
    except ValueError:
        journal = {}
    return journal if isinstance(journal, dict) else {}


def executions_page(
    db: Database, team_id: str, cursor: str | None, limit: int = PAGE_SIZE
) -> tuple[list[ExecutionRow], str | None, int]:
    """A team's executions, newest first, keyset-paged on (created_at, id)."""
    x, e = m.executions, m.experiments
    where = x.c.team_id == team_id
    q = (
        select(x.c.id, x.c.experiment_id, x.c.status, x.c.created_at, x.c.journal, e.c.title)
        .join(e, e.c.id == x.c.experiment_id)
        .where(where)
    )
    if cursor:
        created, ident = decode_cursor(cursor, 2)
        q = q.where(
            or_(x.c.created_at < str(created), and_(x.c.created_at == str(created), x.c.id < str(ident)))
        )
    q = q.order_by(x.c.created_at.desc(), x.c.id.desc()).limit(limit + 1)
    with db.read() as conn:
        rows = conn.execute(q).all()
        total = conn.execute(select(func.count()).select_from(x).where(where)).scalar_one()
    more = len(rows) > limit
    rows = rows[:limit]
    out = []
    for r in rows:
        journal = _journal_summary(r.journal)
        deviated = journal.get("deviated")
        duration = journal.get("duration")
        start = journal.get("start")
        out.append(
            ExecutionRow(
                id=r.id,
                experiment_id=r.experiment_id,
                title=r.title or "(untitled experiment)",
                status=r.status or "unknown",
                deviated=deviated if isinstance(deviated, bool) else None,
                start=start if isinstance(start, str) and start else r.created_at,
                duration=float(duration) if isinstance(duration, (int, float)) else None,
                created_at=r.created_at,
            )
        )
    nxt = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
    return out, nxt, total


def locate_execution(db: Database, team_ids: list[str], xid: str) -> tuple[str, str] | None:
    """(team id, experiment id) of execution ``xid`` if one of ``team_ids`` owns it."""
    if not team_ids:
        return None
    with db.read() as conn:
        row = conn.execute(
            select(m.executions.c.team_id, m.executions.c.experiment_id).where(
                m.executions.c.id == xid, m.executions.c.team_id.in_(team_ids)
            )
        ).first()
    return (row.team_id, row.experiment_id) if row is not None else None


def experiment_title(db: Database, team_id: str, eid: str) -> str | None:
    with db.read() as conn:
        return conn.execute(
            select(m.experiments.c.title).where(m.experiments.c.id == eid, m.experiments.c.team_id == team_id)
        ).scalar()
