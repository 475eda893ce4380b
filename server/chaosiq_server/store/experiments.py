"""Experiments: stored once per team by content, updated when their chaosiq id claims them."""

from __future__ import annotations

import copy
import json
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from .. import models as m
from ..db import Database, new_id, utcnow
from ..errors import NotFound
from ..jsonutil import dumps, loads, sha256
from .paging import Page, newest_first

# Keys the ChaosIQ client writes into the experiment's chaosiq extension at
# run time: they do not make an experiment "different".
VOLATILE_EXTENSION_KEYS = {"experiment_id", "execution_id", "experiment_path", "run_id"}


class Experiments:
    def __init__(self, db: Database) -> None:
        self.db = db

    def upsert(self, team_id: str, experiment: dict[str, Any]) -> tuple[str, str]:
        """Store an experiment; returns (outcome, id), outcome in created/unchanged/updated."""
        body = dumps(experiment)
        digest = sha256(canonical_experiment(experiment))
        title = experiment.get("title")
        # the title column is a copy for lists: NUL (which a column cannot hold) left out
        title = title.replace("\x00", "")[:1000] if isinstance(title, str) else None
        claimed = chaosiq_extension(experiment).get("experiment_id")
        now = utcnow()
        with self.db.write() as conn:
            if isinstance(claimed, str) and claimed:
                row = conn.execute(
                    select(m.experiments.c.id, m.experiments.c.content_hash).where(
                        m.experiments.c.id == claimed, m.experiments.c.team_id == team_id
                    )
                ).first()
                if row is not None:
                    if row.content_hash == digest:
                        return "unchanged", row.id
                    conn.execute(
                        update(m.experiments)
                        .where(m.experiments.c.id == row.id)
                        .values(content_hash=digest, body=body, title=title, updated_at=now)
                    )
                    _set_tags(conn, team_id, row.id, experiment)
                    return "updated", row.id
            existing = conn.execute(
                select(m.experiments.c.id)
                .where(m.experiments.c.team_id == team_id, m.experiments.c.content_hash == digest)
                .order_by(m.experiments.c.created_at)
                .limit(1)
            ).scalar()
            if existing is not None:
                return "unchanged", existing
            eid = new_id()
            conn.execute(
                insert(m.experiments).values(
                    id=eid,
                    team_id=team_id,
                    content_hash=digest,
                    title=title,
                    body=body,
                    created_at=now,
                    updated_at=now,
                )
            )
            _set_tags(conn, team_id, eid, experiment)
            return "created", eid

    def get(self, team_id: str, eid: str) -> dict[str, Any]:
        with self.db.read() as conn:
            row = conn.execute(
                select(m.experiments).where(m.experiments.c.id == eid, m.experiments.c.team_id == team_id)
            ).first()
        if row is None:
            raise NotFound("experiment")
        return _experiment(row)

    def list(self, team_id: str, limit: int | None, cursor: str | None) -> Page:
        t = m.experiments
        return newest_first(self.db, t, t.c.team_id == team_id, limit, cursor, _experiment)

    def title(self, team_id: str, eid: str) -> str | None:
        """The experiment's title (None when it has none, or is not the team's)."""
        with self.db.read() as conn:
            return conn.execute(
                select(m.experiments.c.title).where(
                    m.experiments.c.id == eid, m.experiments.c.team_id == team_id
                )
            ).scalar()

    def titles(self, team_id: str, limit: int = 500) -> list[tuple[str, str]]:
        """(id, title) of the team's experiments by title (the first ``limit``), for a picker."""
        t = m.experiments
        with self.db.read() as conn:
            rows = conn.execute(
                select(t.c.id, t.c.title)
                .where(t.c.team_id == team_id)
                .order_by(t.c.title, t.c.id)
                .limit(limit)
            ).all()
        return [(r.id, r.title or "(untitled experiment)") for r in rows]

    @staticmethod
    def require(conn: Connection, team_id: str, eid: str) -> None:
        """NotFound unless ``eid`` is the team's experiment (inside the caller's transaction)."""
        found = conn.execute(
            select(m.experiments.c.id).where(m.experiments.c.id == eid, m.experiments.c.team_id == team_id)
        ).first()
        if found is None:
            raise NotFound("experiment")


def tags_of(experiment: Any) -> list[str]:
    """The experiment's ``tags`` (its non-empty strings, each once, NUL left out, 200
    characters at most): what the executions list's tag filter matches."""
    tags = experiment.get("tags") if isinstance(experiment, dict) else None
    found: dict[str, None] = {}
    for tag in tags if isinstance(tags, list) else []:
        if isinstance(tag, str) and (tag := tag.replace("\x00", "").strip()[:200]):
            found[tag] = None
    return list(found)


def _set_tags(conn: Connection, team_id: str, eid: str, experiment: dict[str, Any]) -> None:
    t = m.experiment_tags
    conn.execute(delete(t).where(t.c.experiment_id == eid))
    rows = [{"experiment_id": eid, "tag": tag, "team_id": team_id} for tag in tags_of(experiment)]
    if rows:
        conn.execute(insert(t), rows)


def _experiment(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "team_id": row.team_id,
        "title": row.title,
        "experiment": loads(row.body),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def chaosiq_extension(experiment: dict[str, Any]) -> dict[str, Any]:
    exts = experiment.get("extensions")
    if isinstance(exts, list):
        for ext in exts:
            if isinstance(ext, dict) and ext.get("name") == "chaosiq":
                return ext
    return {}


def canonical_experiment(experiment: dict[str, Any]) -> str:
    """Canonical JSON of an experiment, ignoring the client's run-time ids."""
    exp = copy.copy(experiment)
    exts = exp.get("extensions")
    if isinstance(exts, list):
        kept = []
        for ext in exts:
            if isinstance(ext, dict) and ext.get("name") == "chaosiq":
                ext = {k: v for k, v in ext.items() if k not in VOLATILE_EXTENSION_KEYS}
                if isinstance(ext.get("verification"), dict):
                    ext["verification"] = {k: v for k, v in ext["verification"].items() if k != "run_id"}
                if set(ext) == {"name"}:
                    continue
            kept.append(ext)
        if kept:
            exp["extensions"] = kept
        else:
            exp.pop("extensions")
    return json.dumps(exp, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
