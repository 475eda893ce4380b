"""Console sessions, kept on the server: created at sign-in, deleted at sign-out,
when they expire and when their token is revoked (``Tokens.revoke``).

The browser's cookie holds a random session id (signed with the server's secret
key by ``console/session.py``); only the id's SHA-256 is stored, so the table
holds nothing a cookie can be made from.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, insert, select

from .. import models as m
from ..db import Database, utcnow
from .tokens import LIVE_COLUMNS, TokenInfo, token_info


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def _ts(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Sessions:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, token_id: str, ttl_seconds: int) -> str:
        """A new session of ``token_id``: its id (to be signed into the cookie)."""
        session_id = secrets.token_urlsafe(32)
        now = datetime.now(timezone.utc)
        with self.db.write() as conn:
            # Expired sessions go when a new one is made (an index range: cheap).
            conn.execute(delete(m.console_sessions).where(m.console_sessions.c.expires_at < _ts(now)))
            conn.execute(
                insert(m.console_sessions).values(
                    id_hash=_digest(session_id),
                    token_id=token_id,
                    created_at=_ts(now),
                    expires_at=_ts(now + timedelta(seconds=ttl_seconds)),
                )
            )
        return session_id

    def live_token(self, session_id: str) -> TokenInfo | None:
        """The token of an unexpired session whose token is not revoked."""
        s, t = m.console_sessions, m.tokens
        with self.db.read() as conn:
            row = conn.execute(
                select(*LIVE_COLUMNS)
                .join(s, s.c.token_id == t.c.id)
                .where(
                    s.c.id_hash == _digest(session_id), s.c.expires_at > utcnow(), t.c.revoked_at.is_(None)
                )
            ).first()
            if row is None:
                return None
            return token_info(conn, row)

    def end(self, session_id: str) -> None:
        """Sign-out: the session is gone for every server process."""
        with self.db.write() as conn:
            conn.execute(
                delete(m.console_sessions).where(m.console_sessions.c.id_hash == _digest(session_id))
            )

    def count(self, token_id: str) -> int:
        """How many sessions ``token_id`` has (expired ones included until pruned)."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(m.console_sessions.c.id_hash).where(m.console_sessions.c.token_id == token_id)
            ).all()
        return len(rows)
