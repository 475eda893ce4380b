"""Data access: every query the API and the CLI run, in one place."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from . import models as m
from .auth import generate_token, hash_token
from .db import Database, new_id, utcnow
from .errors import BadInput, NotFound
from .ingest import EventWriter, prepare_events
from .jsonutil import decode_cursor, dumps, encode_cursor, loads, sha256

MAX_PAGE = 1000
# Keys the ChaosIQ client writes into the experiment's chaosiq extension at
# run time: they do not make an experiment "different".
VOLATILE_EXTENSION_KEYS = {"experiment_id", "execution_id", "experiment_path", "run_id"}


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None
    total: int


def _clamp(limit: int | None, default: int = 100) -> int:
    if limit is None:
        return default
    return max(1, min(int(limit), MAX_PAGE))


EXECUTION_CACHE_MAX = 100_000


class Store:
    def __init__(self, db: Database) -> None:
        self.db = db
        # execution id -> (team id, experiment id). Both never change once an
        # execution exists, so the hot event path can skip that lookup. Bounded.
        self._executions: dict[str, tuple[str, str]] = {}
        self.writer = EventWriter(db)

    # ------------------------------------------------------------------ admin
    def create_org(self, name: str) -> dict[str, str]:
        with self.db.write() as conn:
            row = {"id": new_id(), "name": name, "created_at": utcnow()}
            conn.execute(insert(m.organizations).values(row))
        return {"id": row["id"], "name": name}

    def find_org(self, ref: str) -> dict[str, str] | None:
        with self.db.read() as conn:
            row = conn.execute(
                select(m.organizations.c.id, m.organizations.c.name).where(
                    or_(m.organizations.c.id == ref, m.organizations.c.name == ref)
                )
            ).first()
        return {"id": row.id, "name": row.name} if row else None

    def list_orgs(self) -> list[dict[str, str]]:
        with self.db.read() as conn:
            rows = conn.execute(
                select(m.organizations.c.id, m.organizations.c.name).order_by(
                    m.organizations.c.created_at, m.organizations.c.id
                )
            ).all()
        return [{"id": r.id, "name": r.name} for r in rows]

    def create_team(self, org_id: str, name: str) -> dict[str, str]:
        with self.db.write() as conn:
            row = {"id": new_id(), "org_id": org_id, "name": name, "created_at": utcnow()}
            conn.execute(insert(m.teams).values(row))
        return {"id": row["id"], "name": name, "org_id": org_id}

    def find_team(self, ref: str, org_id: str | None = None) -> dict[str, str] | None:
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

    def list_teams(self, org_id: str | None = None) -> list[dict[str, str]]:
        q = select(m.teams.c.id, m.teams.c.name, m.teams.c.org_id).order_by(
            m.teams.c.created_at, m.teams.c.id
        )
        if org_id is not None:
            q = q.where(m.teams.c.org_id == org_id)
        with self.db.read() as conn:
            return [{"id": r.id, "name": r.name, "org_id": r.org_id} for r in conn.execute(q)]

    def create_token(self, name: str, team_ids: list[str]) -> tuple[str, dict[str, Any]]:
        secret = generate_token()
        token_id = new_id()
        with self.db.write() as conn:
            conn.execute(
                insert(m.tokens).values(
                    id=token_id, name=name, token_hash=hash_token(secret), created_at=utcnow()
                )
            )
            for team_id in dict.fromkeys(team_ids):
                conn.execute(insert(m.token_teams).values(token_id=token_id, team_id=team_id))
        return secret, {"id": token_id, "name": name, "teams": list(dict.fromkeys(team_ids))}

    def revoke_token(self, token_id: str) -> bool:
        with self.db.write() as conn:
            res = conn.execute(
                update(m.tokens)
                .where(m.tokens.c.id == token_id, m.tokens.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        return res.rowcount > 0

    def list_tokens(self) -> list[dict[str, Any]]:
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

    # ------------------------------------------------------------ experiments
    def upsert_experiment(self, team_id: str, experiment: dict[str, Any]) -> tuple[str, str]:
        """Store an experiment; returns (outcome, id), outcome in created/unchanged/updated."""
        body = dumps(experiment)
        digest = sha256(canonical_experiment(experiment))
        title = experiment.get("title")
        title = title[:1000] if isinstance(title, str) else None
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
            return "created", eid

    def get_experiment(self, team_id: str, eid: str) -> dict[str, Any]:
        with self.db.read() as conn:
            row = conn.execute(
                select(m.experiments).where(m.experiments.c.id == eid, m.experiments.c.team_id == team_id)
            ).first()
        if row is None:
            raise NotFound("experiment")
        return _experiment(row)

    def list_experiments(self, team_id: str, limit: int | None, cursor: str | None) -> Page:
        t = m.experiments
        return self._page_desc(t, t.c.team_id == team_id, limit, cursor, _experiment)

    # ------------------------------------------------------------- executions
    def create_execution(self, team_id: str, eid: str, journal: dict[str, Any]) -> str:
        body = dumps(journal)
        status = _status(journal.get("status"), "running")
        xid = new_id()
        now = utcnow()
        with self.db.write() as conn:
            self._require_experiment(conn, team_id, eid)
            conn.execute(
                insert(m.executions).values(
                    id=xid,
                    team_id=team_id,
                    experiment_id=eid,
                    status=status,
                    journal=body,
                    created_at=now,
                    updated_at=now,
                )
            )
        # committed: known from now on, so the run's first batch of events (often its
        # only one) takes the ingestion fast path instead of a lookup through the app
        self._remember_execution(xid, team_id, eid)
        return xid

    def update_execution(
        self, team_id: str, eid: str, xid: str, journal: dict[str, Any], text: str | None = None
    ) -> None:
        """Store the journal; ``text``, when given, is its JSON as received (checked by the caller)."""
        body = dumps(journal) if text is None else text
        with self.db.write() as conn:
            self._execution_row(conn, team_id, xid, eid)
            values: dict[str, Any] = {"journal": body, "updated_at": utcnow()}
            status = _status(journal.get("status"), None)
            if status is not None:
                values["status"] = status
            conn.execute(update(m.executions).where(m.executions.c.id == xid).values(values))

    def get_execution(self, team_id: str, xid: str, eid: str | None = None) -> dict[str, Any]:
        with self.db.read() as conn:
            row = self._execution_row(conn, team_id, xid, eid, full=True)
        return {
            "id": row.id,
            "experiment_id": row.experiment_id,
            "status": row.status,
            "journal": loads(row.journal),
            "created_at": row.created_at,
            "updated_at": row.updated_at,
            "events_count": row.events_count,
        }

    def check_execution(self, team_id: str, xid: str, eid: str | None = None) -> None:
        with self.db.read() as conn:
            self._execution_row(conn, team_id, xid, eid)

    def list_executions(self, team_id: str, limit: int | None, cursor: str | None) -> Page:
        t = m.executions
        cols = [t.c.id, t.c.experiment_id, t.c.status, t.c.created_at, t.c.updated_at]
        return self._page_desc(
            t, t.c.team_id == team_id, limit, cursor, lambda r: dict(r._mapping), columns=cols
        )

    def _require_experiment(self, conn: Connection, team_id: str, eid: str) -> None:
        found = conn.execute(
            select(m.experiments.c.id).where(m.experiments.c.id == eid, m.experiments.c.team_id == team_id)
        ).first()
        if found is None:
            raise NotFound("experiment")

    def _execution_row(
        self, conn: Connection, team_id: str, xid: str, eid: str | None, full: bool = False
    ) -> Any:
        t = m.executions
        if not full:
            hit = self._executions.get(xid)
            if hit is not None and hit[0] == team_id and eid in (None, hit[1]):
                return hit
        cols = [t] if full else [t.c.id, t.c.experiment_id, t.c.team_id]
        q = select(*cols).where(t.c.id == xid, t.c.team_id == team_id)
        if eid is not None:
            q = q.where(t.c.experiment_id == eid)
        row = conn.execute(q).first()
        if row is None:
            raise NotFound("execution")
        self._remember_execution(xid, team_id, row.experiment_id)
        return row

    def _remember_execution(self, xid: str, team_id: str, eid: str) -> None:
        if len(self._executions) >= EXECUTION_CACHE_MAX:
            self._executions.clear()
        self._executions[xid] = (team_id, eid)

    # ----------------------------------------------------------------- events
    def execution_cached(self, team_id: str, xid: str, eid: str | None) -> bool:
        """True when ``xid`` is known (from the cache, no query) to be the team's
        execution of experiment ``eid`` (any experiment when ``eid`` is None)."""
        hit = self._executions.get(xid)
        return hit is not None and hit[0] == team_id and eid in (None, hit[1])

    def check_events_target(self, team_id: str, eid: str | None, xid: str) -> None:
        """NotFound unless ``xid`` is the team's execution (cached after the first time)."""
        if not self.execution_cached(team_id, xid, eid):
            with self.db.read() as conn:
                self._execution_row(conn, team_id, xid, eid)

    def add_events(self, team_id: str, eid: str | None, xid: str, events: list[dict[str, Any]]) -> int:
        """Store CloudEvents (already validated) in one transaction; returns how many were new."""
        self.check_events_target(team_id, eid, xid)
        return self.writer.write_now(xid, prepare_events(xid, events))

    def list_events(
        self, team_id: str, eid: str | None, xid: str, limit: int | None, cursor: str | None
    ) -> Page:
        n = _clamp(limit)
        t = m.events
        with self.db.read() as conn:
            self._execution_row(conn, team_id, xid, eid)
            q = select(t.c.seq, t.c.event_id, t.c.type, t.c.source, t.c.time, t.c.time_key, t.c.data)
            q = q.where(t.c.execution_id == xid)
            if cursor:
                key, seq = decode_cursor(cursor, 2)
                q = q.where(or_(t.c.time_key > str(key), and_(t.c.time_key == str(key), t.c.seq > int(seq))))
            rows = conn.execute(q.order_by(t.c.time_key, t.c.seq).limit(n + 1)).all()
            total = conn.execute(
                select(m.executions.c.events_count).where(m.executions.c.id == xid)
            ).scalar_one()
        more = len(rows) > n
        rows = rows[:n]
        items = [
            {"id": r.event_id, "type": r.type, "source": r.source, "time": r.time, "data": loads(r.data)}
            for r in rows
        ]
        nxt = encode_cursor(rows[-1].time_key, rows[-1].seq) if more and rows else None
        return Page(items, nxt, total)

    # --------------------------------------------------------------- policies
    def list_policies(self, team_id: str, xid: str, eid: str | None = None) -> list[dict[str, Any]]:
        t = m.policies
        with self.db.read() as conn:
            self._execution_row(conn, team_id, xid, eid)
            rows = conn.execute(
                select(t).where(t.c.execution_id == xid).order_by(t.c.created_at, t.c.id)
            ).all()
        return [_policy(r) for r in rows]

    def add_policy(
        self,
        team_id: str,
        xid: str,
        eid: str | None,
        name: str,
        allowed: bool,
        reason: str | None,
        created_by: str,
    ) -> dict[str, Any]:
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
            self._execution_row(conn, team_id, xid, eid)
            conn.execute(insert(m.policies).values(row))
        return {k: v for k, v in row.items() if k != "execution_id"}

    # ---------------------------------------------------------- verifications
    def start_run(
        self, team_id: str, vid: str, body: dict[str, Any], rid: str | None = None
    ) -> tuple[bool, dict[str, Any]]:
        """Start a run; ``rid`` chosen by the client (``PUT``) makes it idempotent.

        Returns ``(created, run)``: ``created`` is ``False`` when ``rid`` already
        names a run of this verification (nothing changes). A ``rid`` used by
        another verification or team is not found (404), as foreign ids are.
        """
        journal = body.get("journal")
        journal_text = dumps(journal) if journal is not None else None
        now = utcnow()
        rid = rid or new_id()
        with self.db.write() as conn:
            if body.get("experiment_id"):
                self._require_experiment(conn, team_id, body["experiment_id"])
            if body.get("execution_id"):
                self._execution_row(conn, team_id, body["execution_id"], None)
            vpk = conn.execute(
                select(m.verifications.c.pk).where(
                    m.verifications.c.team_id == team_id, m.verifications.c.id == vid
                )
            ).scalar()
            if vpk is None:
                vpk = new_id()
                conn.execute(insert(m.verifications).values(pk=vpk, id=vid, team_id=team_id, created_at=now))
            # one statement decides, even for two replays of the same PUT at once
            result = conn.execute(
                self._insert_ignore(m.verification_runs, ["id"])
                .values(
                    id=rid,
                    verification_pk=vpk,
                    experiment_id=body.get("experiment_id"),
                    execution_id=body.get("execution_id"),
                    state="running",
                    status=body.get("status"),
                    journal=journal_text,
                    created_at=now,
                    updated_at=now,
                )
                .returning(m.verification_runs.c.id)  # a row only when inserted (rowcount is -1 on psycopg)
            )
            created = result.first() is not None
            if not created:
                owner = conn.execute(
                    select(m.verification_runs.c.verification_pk).where(m.verification_runs.c.id == rid)
                ).scalar()
                if owner != vpk:  # rolls back the verification row this call may have added
                    raise NotFound("verification run")
        return created, self.get_run(team_id, vid, rid)

    def _verification_pk(self, conn: Connection, team_id: str, vid: str) -> str:
        vpk = conn.execute(
            select(m.verifications.c.pk).where(
                m.verifications.c.team_id == team_id, m.verifications.c.id == vid
            )
        ).scalar()
        if vpk is None:
            raise NotFound("verification")
        return vpk

    def _run_row(self, conn: Connection, team_id: str, vid: str, rid: str) -> Any:
        vpk = self._verification_pk(conn, team_id, vid)
        row = conn.execute(
            select(m.verification_runs).where(
                m.verification_runs.c.id == rid, m.verification_runs.c.verification_pk == vpk
            )
        ).first()
        if row is None:
            raise NotFound("verification run")
        return row

    def get_run(self, team_id: str, vid: str, rid: str) -> dict[str, Any]:
        with self.db.read() as conn:
            row = self._run_row(conn, team_id, vid, rid)
        return _run(row, vid)

    def add_run_event(self, team_id: str, vid: str, rid: str, category: str, payload: Any) -> dict[str, Any]:
        row = {
            "id": new_id(),
            "run_id": rid,
            "category": category,
            "payload": dumps(payload) if payload is not None else None,
            "created_at": utcnow(),
        }
        with self.db.write() as conn:
            self._run_row(conn, team_id, vid, rid)
            conn.execute(insert(m.verification_run_events).values(row))
        return {**row, "payload": payload}

    def finish_run(self, team_id: str, vid: str, rid: str, body: dict[str, Any]) -> None:
        journal = body.get("journal")
        results = body.get("results")
        now = utcnow()
        values: dict[str, Any] = {"state": "finished", "updated_at": now, "finished_at": now}
        if journal is not None:
            values["journal"] = dumps(journal)
        if results is not None:
            values["results"] = dumps(results)
        if body.get("status") is not None:
            values["status"] = body["status"]
        with self.db.write() as conn:
            row = self._run_row(conn, team_id, vid, rid)
            # ids not known when the run started (its server was down then) are filled in now
            if body.get("experiment_id") and not row.experiment_id:
                self._require_experiment(conn, team_id, body["experiment_id"])
                values["experiment_id"] = body["experiment_id"]
            if body.get("execution_id") and not row.execution_id:
                self._execution_row(conn, team_id, body["execution_id"], None)
                values["execution_id"] = body["execution_id"]
            conn.execute(update(m.verification_runs).where(m.verification_runs.c.id == rid).values(values))

    def list_verifications(self, team_id: str, org_id: str, limit: int | None, cursor: str | None) -> Page:
        t = m.verifications
        runs = (
            select(func.count())
            .select_from(m.verification_runs)
            .where(m.verification_runs.c.verification_pk == t.c.pk)
            .scalar_subquery()
            .label("runs_count")
        )
        cols = [t.c.id, t.c.team_id, t.c.created_at, runs]

        def conv(r: Any) -> dict[str, Any]:
            return {
                "id": r.id,
                "org_id": org_id,
                "team_id": r.team_id,
                "created_at": r.created_at,
                "runs_count": r.runs_count,
            }

        return self._page_desc(t, t.c.team_id == team_id, limit, cursor, conv, columns=cols)

    def get_verification(self, team_id: str, org_id: str, vid: str) -> dict[str, Any]:
        with self.db.read() as conn:
            vpk = self._verification_pk(conn, team_id, vid)
            row = conn.execute(select(m.verifications).where(m.verifications.c.pk == vpk)).one()
            count = conn.execute(
                select(func.count())
                .select_from(m.verification_runs)
                .where(m.verification_runs.c.verification_pk == vpk)
            ).scalar_one()
        return {
            "id": row.id,
            "org_id": org_id,
            "team_id": row.team_id,
            "created_at": row.created_at,
            "runs_count": count,
        }

    def list_runs(self, team_id: str, vid: str, limit: int | None, cursor: str | None) -> Page:
        with self.db.read() as conn:
            vpk = self._verification_pk(conn, team_id, vid)
        t = m.verification_runs
        return self._page_desc(t, t.c.verification_pk == vpk, limit, cursor, lambda r: _run(r, vid))

    def list_run_events(
        self, team_id: str, vid: str, rid: str, limit: int | None, cursor: str | None
    ) -> Page:
        n = _clamp(limit)
        t = m.verification_run_events
        with self.db.read() as conn:
            self._run_row(conn, team_id, vid, rid)
            q = select(t).where(t.c.run_id == rid)
            if cursor:
                (seq,) = decode_cursor(cursor, 1)
                q = q.where(t.c.seq > int(seq))
            rows = conn.execute(q.order_by(t.c.seq).limit(n + 1)).all()
            total = conn.execute(select(func.count()).select_from(t).where(t.c.run_id == rid)).scalar_one()
        more = len(rows) > n
        rows = rows[:n]
        items = [
            {
                "id": r.id,
                "run_id": r.run_id,
                "category": r.category,
                "payload": loads(r.payload),
                "created_at": r.created_at,
            }
            for r in rows
        ]
        return Page(items, encode_cursor(rows[-1].seq) if more and rows else None, total)

    # ---------------------------------------------------------------- helpers
    def _insert_ignore(self, table: Any, keys: list[str]) -> Any:
        if self.db.is_sqlite:
            return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
        if self.db.engine.dialect.name == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
        raise NotImplementedError(self.db.engine.dialect.name)  # pragma: no cover

    def _page_desc(
        self,
        table: Any,
        where: Any,
        limit: int | None,
        cursor: str | None,
        conv: Any,
        columns: list[Any] | None = None,
    ) -> Page:
        """Newest first, keyset-paged on (created_at, id)."""
        n = _clamp(limit)
        q = select(*(columns or [table])).where(where)
        if cursor:
            created, ident = decode_cursor(cursor, 2)
            q = q.where(
                or_(
                    table.c.created_at < str(created),
                    and_(table.c.created_at == str(created), table.c.id < str(ident)),
                )
            )
        q = q.order_by(table.c.created_at.desc(), table.c.id.desc()).limit(n + 1)
        with self.db.read() as conn:
            rows = conn.execute(q).all()
            total = conn.execute(select(func.count()).select_from(table).where(where)).scalar_one()
        more = len(rows) > n
        rows = rows[:n]
        nxt = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
        return Page([conv(r) for r in rows], nxt, total)


# --------------------------------------------------------------------- helpers
def _status(value: Any, default: str | None) -> str | None:
    return value[:64] if isinstance(value, str) and value else default


def _experiment(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "team_id": row.team_id,
        "title": row.title,
        "experiment": loads(row.body),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _policy(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "allowed": bool(row.allowed),
        "reason": row.reason,
        "created_by": row.created_by,
        "created_at": row.created_at,
    }


def _run(row: Any, vid: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "org_id": "",
        "team_id": "",
        "verification_id": vid,
        "experiment_id": row.experiment_id,
        "execution_id": row.execution_id,
        "state": row.state,
        "status": row.status,
        "journal": loads(row.journal),
        "results": loads(row.results),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "finished_at": row.finished_at,
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


__all__ = ["BadInput", "NotFound", "Page", "Store"]
