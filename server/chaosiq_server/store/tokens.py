"""API tokens: their secrets (only a SHA-256 is stored), their teams, revocation."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from .. import models as m
from ..db import Database, new_id, utcnow

TOKEN_PREFIX = "ciq_"


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

    def team(self, org_id: str, team_id: str) -> TeamRef | None:
        for ref in self.teams:
            if ref.team_id == team_id and ref.org_id == org_id:
                return ref
        return None


class Tokens:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, name: str, team_ids: list[str]) -> tuple[str, dict[str, Any]]:
        """A new token bound to ``team_ids``: (its secret, shown once; its record)."""
        secret = generate_token()
        token_id = new_id()
        teams = list(dict.fromkeys(team_ids))
        with self.db.write() as conn:
            conn.execute(
                insert(m.tokens).values(
                    id=token_id, name=name, token_hash=hash_token(secret), created_at=utcnow()
                )
            )
            for team_id in teams:
                conn.execute(insert(m.token_teams).values(token_id=token_id, team_id=team_id))
        return secret, {"id": token_id, "name": name, "teams": teams}

    def revoke(self, token_id: str) -> bool:
        """True if a live token was revoked. Its console sessions end in the same transaction."""
        with self.db.write() as conn:
            res = conn.execute(
                update(m.tokens)
                .where(m.tokens.c.id == token_id, m.tokens.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            conn.execute(delete(m.console_sessions).where(m.console_sessions.c.token_id == token_id))
        return res.rowcount > 0

    def list(self) -> list[dict[str, Any]]:
        """Every token with its teams (never a secret: none is stored)."""
        with self.db.read() as conn:
            toks = conn.execute(select(m.tokens).order_by(m.tokens.c.created_at)).all()
            links = conn.execute(select(m.token_teams)).all()
        teams: dict[str, list[str]] = {}
        for link in links:
            teams.setdefault(link.token_id, []).append(link.team_id)
        return [
            {
                "id": t.id,
                "name": t.name,
                "created_at": t.created_at,
                "revoked_at": t.revoked_at,
                "teams": teams.get(t.id, []),
            }
            for t in toks
        ]

    def live_by_hash(self, token_hash: str) -> TokenInfo | None:
        """The live token whose digest is ``token_hash`` (API authentication, console sign-in)."""
        return self._live(m.tokens.c.token_hash == token_hash)

    def _live(self, where: Any) -> TokenInfo | None:
        with self.db.read() as conn:
            row = conn.execute(
                select(m.tokens.c.id, m.tokens.c.name, m.tokens.c.token_hash).where(
                    where, m.tokens.c.revoked_at.is_(None)
                )
            ).first()
            if row is None:
                return None
            return TokenInfo(row.id, row.name, row.token_hash, _teams(conn, row.id))


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
