"""API tokens: their secrets (only a SHA-256 is stored), their role, their teams,
when they were last used, revocation. Creating and revoking a token is audited."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update

from .. import models as m
from ..db import Database, new_id, utc_iso, utcnow
from ..roles import OWNER, VIEWER, Role
from .audit import ADMIN, Acting, Actor, Audit

TOKEN_PREFIX = "ciq_"
LAST_USED_GRANULARITY_S = 60
"""``last_used_at`` is written at most once a minute per token: it is the time of a
use at most a minute (plus the authentication cache's second) before the last one."""


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens are 256-bit random strings: a plain SHA-256 is enough (no need
    # for a slow password hash) and allows an indexed lookup.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TeamRef:
    """A team a token is bound to, with its organization."""

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
    """A live (not revoked) token and the teams it may use."""

    id: str
    name: str
    token_hash: str
    teams: list[TeamRef] = field(default_factory=list)
    role: str = VIEWER
    last_used_at: str | None = None

    def team(self, org_id: str, team_id: str) -> TeamRef | None:
        for ref in self.teams:
            if ref.team_id == team_id and ref.org_id == org_id:
                return ref
        return None


class Tokens:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self, name: str, team_ids: list[str], role: Role = OWNER, actor: Actor | None = None
    ) -> tuple[str, dict[str, Any]]:
        """A new token of ``role`` bound to ``team_ids``: (its secret, shown once; its record).
        ``role`` defaults to owner, as the database's default (tokens made before roles).
        A ``token.create`` row goes to the audit log of each of its teams, by ``actor``
        (the admin CLI when None), in the same transaction."""
        secret = generate_token()
        token_id = new_id()
        teams = list(dict.fromkeys(team_ids))
        with self.db.write() as conn:
            conn.execute(
                insert(m.tokens).values(
                    id=token_id, name=name, token_hash=hash_token(secret), created_at=utcnow(), role=role
                )
            )
            for team_id in teams:
                conn.execute(insert(m.token_teams).values(token_id=token_id, team_id=team_id))
                details = {"name": name, "role": role, "teams": teams}
                Audit.record(conn, Acting(team_id, actor or ADMIN), "token.create", token_id, details)
        return secret, {"id": token_id, "name": name, "role": role, "teams": teams}

    def revoke(self, token_id: str, actor: Actor | None = None) -> bool:
        """True if a live token was revoked. Its console sessions end in the same transaction,
        and a ``token.revoke`` row goes to the audit log of each of its teams."""
        with self.db.write() as conn:
            row = conn.execute(
                select(m.tokens.c.name, m.tokens.c.role).where(
                    m.tokens.c.id == token_id, m.tokens.c.revoked_at.is_(None)
                )
            ).first()
            if row is None:
                return False
            res = conn.execute(
                update(m.tokens)
                .where(m.tokens.c.id == token_id, m.tokens.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            conn.execute(delete(m.console_sessions).where(m.console_sessions.c.token_id == token_id))
            if res.rowcount > 0:
                details = {"name": row.name, "role": row.role}
                for team_id in _team_ids(conn, token_id):
                    Audit.record(conn, Acting(team_id, actor or ADMIN), "token.revoke", token_id, details)
        return res.rowcount > 0

    def list(self, team_ids: list[str] | None = None) -> list[dict[str, Any]]:
        """Every token with its teams (never a secret: none is stored), oldest first;
        with ``team_ids``, only the tokens bound to one of them."""
        t, tt = m.tokens, m.token_teams
        q = select(t).order_by(t.c.created_at, t.c.id)
        if team_ids is not None:
            q = q.where(t.c.id.in_(select(tt.c.token_id).where(tt.c.team_id.in_(team_ids))))
        with self.db.read() as conn:
            toks = conn.execute(q).all()
            links = conn.execute(select(tt).where(tt.c.token_id.in_([r.id for r in toks]))).all()
        teams: dict[str, list[str]] = {}
        for link in links:
            teams.setdefault(link.token_id, []).append(link.team_id)
        return [
            {
                "id": r.id,
                "name": r.name,
                "role": r.role,
                "created_at": r.created_at,
                "last_used_at": r.last_used_at,
                "revoked_at": r.revoked_at,
                "teams": teams.get(r.id, []),
            }
            for r in toks
        ]

    def touch(self, token_id: str, last_used_at: str | None) -> None:
        """Note a use of the token unless ``last_used_at`` (as read) is less than
        :data:`LAST_USED_GRANULARITY_S` old: at most one write a minute per token,
        whatever the number of requests or server processes."""
        now = datetime.now(timezone.utc)
        cutoff = utc_iso(now - timedelta(seconds=LAST_USED_GRANULARITY_S))
        if last_used_at is not None and last_used_at > cutoff:
            return
        t = m.tokens
        with self.db.write() as conn:
            conn.execute(
                update(t)
                .where(t.c.id == token_id, or_(t.c.last_used_at.is_(None), t.c.last_used_at <= cutoff))
                .values(last_used_at=utc_iso(now))
            )

    def live_by_hash(self, token_hash: str) -> TokenInfo | None:
        """The live token whose digest is ``token_hash`` (API authentication, console sign-in)."""
        return self._live(m.tokens.c.token_hash == token_hash)

    def _live(self, where: Any) -> TokenInfo | None:
        with self.db.read() as conn:
            row = conn.execute(select(*LIVE_COLUMNS).where(where, m.tokens.c.revoked_at.is_(None))).first()
            if row is None:
                return None
            return token_info(conn, row)


_t = m.tokens
LIVE_COLUMNS = (_t.c.id, _t.c.name, _t.c.token_hash, _t.c.role, _t.c.last_used_at)


def token_info(conn: Connection, row: Any) -> TokenInfo:
    """The :class:`TokenInfo` of a row of :data:`LIVE_COLUMNS`, with its teams."""
    return TokenInfo(row.id, row.name, row.token_hash, _teams(conn, row.id), row.role, row.last_used_at)


def _team_ids(conn: Connection, token_id: str) -> list[str]:
    tt = m.token_teams
    return [r.team_id for r in conn.execute(select(tt.c.team_id).where(tt.c.token_id == token_id))]


def _teams(conn: Connection, token_id: str) -> list[TeamRef]:
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
