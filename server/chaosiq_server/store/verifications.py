"""Verifications (per team, created by their first run), their runs and run events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .. import models as m
from ..db import Database, new_id, utcnow
from ..errors import NotFound
from ..jsonutil import decode_cursor, dumps, encode_cursor, loads
from ..outcome import of_verification_run
from .executions import Executions
from .experiments import Experiments
from .paging import Page, clamp, newest_first


class Verifications:
    def __init__(self, db: Database, executions: Executions) -> None:
        self.db = db
        self.executions = executions

    # ------------------------------------------------------------ verifications
    def list(self, team_id: str, org_id: str, limit: int | None, cursor: str | None) -> Page:
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

        return newest_first(self.db, t, t.c.team_id == team_id, limit, cursor, conv, columns=cols)

    def get(self, team_id: str, org_id: str, vid: str) -> dict[str, Any]:
        with self.db.read() as conn:
            vpk = _verification_pk(conn, team_id, vid)
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

    # --------------------------------------------------------------------- runs
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
                Experiments.require(conn, team_id, body["experiment_id"])
            if body.get("execution_id"):
                self.executions.require(conn, team_id, body["execution_id"], None)
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

    def get_run(self, team_id: str, vid: str, rid: str) -> dict[str, Any]:
        with self.db.read() as conn:
            row = _run_row(conn, team_id, vid, rid)
        return _run(row, vid)

    def list_runs(self, team_id: str, vid: str, limit: int | None, cursor: str | None) -> Page:
        with self.db.read() as conn:
            vpk = _verification_pk(conn, team_id, vid)
        t = m.verification_runs
        return newest_first(self.db, t, t.c.verification_pk == vpk, limit, cursor, lambda r: _run(r, vid))

    def finish_run(self, team_id: str, vid: str, rid: str, body: dict[str, Any]) -> None:
        """Mark the run finished with its journal, status and results (those given)."""
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
            row = _run_row(conn, team_id, vid, rid)
            # ids not known when the run started (its server was down then) are filled in now
            if body.get("experiment_id") and not row.experiment_id:
                Experiments.require(conn, team_id, body["experiment_id"])
                values["experiment_id"] = body["experiment_id"]
            if body.get("execution_id") and not row.execution_id:
                self.executions.require(conn, team_id, body["execution_id"], None)
                values["execution_id"] = body["execution_id"]
            conn.execute(update(m.verification_runs).where(m.verification_runs.c.id == rid).values(values))

    # --------------------------------------------------------------- run events
    def add_run_event(self, team_id: str, vid: str, rid: str, category: str, payload: Any) -> dict[str, Any]:
        row = {
            "id": new_id(),
            "run_id": rid,
            "category": category,
            "payload": dumps(payload) if payload is not None else None,
            "created_at": utcnow(),
        }
        with self.db.write() as conn:
            _run_row(conn, team_id, vid, rid)
            conn.execute(insert(m.verification_run_events).values(row))
        return {**row, "payload": payload}

    def list_run_events(
        self, team_id: str, vid: str, rid: str, limit: int | None, cursor: str | None
    ) -> Page:
        """Events of a run in arrival order."""
        n = clamp(limit)
        t = m.verification_run_events
        with self.db.read() as conn:
            _run_row(conn, team_id, vid, rid)
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

    def _insert_ignore(self, table: Any, keys: list[str]) -> Any:
        """``INSERT … ON CONFLICT (keys) DO NOTHING`` in this database's dialect."""
        if self.db.is_sqlite:
            return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
        if self.db.engine.dialect.name == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
        raise NotImplementedError(self.db.engine.dialect.name)  # pragma: no cover


def _verification_pk(conn: Connection, team_id: str, vid: str) -> str:
    vpk = conn.execute(
        select(m.verifications.c.pk).where(m.verifications.c.team_id == team_id, m.verifications.c.id == vid)
    ).scalar()
    if vpk is None:
        raise NotFound("verification")
    return vpk


def _run_row(conn: Connection, team_id: str, vid: str, rid: str) -> Any:
    vpk = _verification_pk(conn, team_id, vid)
    row = conn.execute(
        select(m.verification_runs).where(
            m.verification_runs.c.id == rid, m.verification_runs.c.verification_pk == vpk
        )
    ).first()
    if row is None:
        raise NotFound("verification run")
    return row


def _run(row: Any, vid: str) -> dict[str, Any]:
    run = {
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
    found = of_verification_run(run)
    return {**run, "outcome": found.word, "outcome_reasons": list(found.reasons)}
