"""Organizations and their teams (created by the admin CLI, read by the API)."""

from __future__ import annotations

from sqlalchemy import insert, or_, select

from .. import models as m
from ..db import Database, new_id, utcnow


class Organizations:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, name: str) -> dict[str, str]:
        with self.db.write() as conn:
            row = {"id": new_id(), "name": name, "created_at": utcnow()}
            conn.execute(insert(m.organizations).values(row))
        return {"id": row["id"], "name": name}

    def find(self, ref: str) -> dict[str, str] | None:
        """The organization whose id or name is ``ref``."""
        with self.db.read() as conn:
            row = conn.execute(
                select(m.organizations.c.id, m.organizations.c.name).where(
                    or_(m.organizations.c.id == ref, m.organizations.c.name == ref)
                )
            ).first()
        return {"id": row.id, "name": row.name} if row else None

    def list(self) -> list[dict[str, str]]:
        with self.db.read() as conn:
            rows = conn.execute(
                select(m.organizations.c.id, m.organizations.c.name).order_by(
                    m.organizations.c.created_at, m.organizations.c.id
                )
            ).all()
        return [{"id": r.id, "name": r.name} for r in rows]


class Teams:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, org_id: str, name: str) -> dict[str, str]:
        with self.db.write() as conn:
            row = {"id": new_id(), "org_id": org_id, "name": name, "created_at": utcnow()}
            conn.execute(insert(m.teams).values(row))
        return {"id": row["id"], "name": name, "org_id": org_id}

    def find(self, ref: str, org_id: str | None = None) -> dict[str, str] | None:
        """The team whose id (or else unique name) is ``ref``, in ``org_id`` when given."""
        q = select(m.teams.c.id, m.teams.c.name, m.teams.c.org_id).where(
            or_(m.teams.c.id == ref, m.teams.c.name == ref)
        )
        if org_id is not None:
            q = q.where(m.teams.c.org_id == org_id)
        with self.db.read() as conn:
            rows = conn.execute(q).all()
        exact = [r for r in rows if r.id == ref] or rows
        if len(exact) != 1:
            return None
        r = exact[0]
        return {"id": r.id, "name": r.name, "org_id": r.org_id}

    def list(self, org_id: str | None = None) -> list[dict[str, str]]:
        q = select(m.teams.c.id, m.teams.c.name, m.teams.c.org_id).order_by(
            m.teams.c.created_at, m.teams.c.id
        )
        if org_id is not None:
            q = q.where(m.teams.c.org_id == org_id)
        with self.db.read() as conn:
            return [{"id": r.id, "name": r.name, "org_id": r.org_id} for r in conn.execute(q)]
