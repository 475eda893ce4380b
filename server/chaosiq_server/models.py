"""Database schema (SQLAlchemy Core tables). Migrations live in ``migrations/``."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

ID = String(64)
TS = String(32)  # ISO 8601 UTC, e.g. 2024-01-01T00:00:00.000000Z (sorts lexically)

# SQLite only gives AUTOINCREMENT semantics to INTEGER PRIMARY KEY.
Seq = BigInteger().with_variant(Integer(), "sqlite")

organizations = Table(
    "organizations",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", TS, nullable=False),
)

teams = Table(
    "teams",
    metadata,
    Column("id", ID, primary_key=True),
    Column("org_id", ID, ForeignKey("organizations.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("org_id", "name", name="uq_teams_org_name"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", TS, nullable=False),
    Column("revoked_at", TS, nullable=True),
    # viewer | member | owner (chaosiq_server.roles); tokens made before roles are owners
    Column("role", String(16), nullable=False, server_default="owner"),
    # written at most once a minute per token (store/tokens.py ``touch``)
    Column("last_used_at", TS, nullable=True),
)

token_teams = Table(
    "token_teams",
    metadata,
    Column("token_id", ID, ForeignKey("tokens.id"), primary_key=True),
    Column("team_id", ID, ForeignKey("teams.id"), primary_key=True),
)

# Console sessions: the cookie holds a random id signed with the server's secret
# key; only the SHA-256 of the id is stored. Deleted on sign-out and when the
# token is revoked.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("token_id", ID, ForeignKey("tokens.id"), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Index("ix_console_sessions_token", "token_id"),
    Index("ix_console_sessions_expires", "expires_at"),
)

# Failed console sign-ins per client address (the sign-in rate limit, shared by
# every server process on the database). ``at`` is a Unix time in seconds.
signin_failures = Table(
    "signin_failures",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("address", String(64), nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_signin_failures_address_at", "address", "at"),
    Index("ix_signin_failures_at", "at"),
    sqlite_autoincrement=True,
)

experiments = Table(
    "experiments",
    metadata,
    Column("id", ID, primary_key=True),
    Column("team_id", ID, ForeignKey("teams.id"), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("title", Text, nullable=True),
    Column("body", Text, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Index("ix_experiments_team_hash", "team_id", "content_hash"),
    Index("ix_experiments_team_created", "team_id", "created_at", "id"),
)

executions = Table(
    "executions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("team_id", ID, ForeignKey("teams.id"), nullable=False),
    Column("experiment_id", ID, ForeignKey("experiments.id"), nullable=False),
    Column("status", String(64), nullable=True),
    Column("journal", Text, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    # Maintained by the event writer in the inserting transaction (no COUNT(*) on reads).
    Column("events_count", BigInteger, nullable=False, server_default="0"),
    # The client's id of the run (``run_id``): one run is one execution of its team.
    Column("run_id", String(200), nullable=True),
    Index("uq_executions_team_run", "team_id", "run_id", unique=True),
    # Derived from (status, journal) by chaosiq_server.outcome each time either is
    # stored (store/executions.py ``derived_columns``), so lists need not parse journals.
    Column("outcome", String(16), nullable=False, server_default="running"),
    Column("outcome_reasons", Text, nullable=True),  # JSON list of strings
    Column("started_at", String(64), nullable=True),  # the journal's ``start``
    Column("duration", Float, nullable=True),  # the journal's ``duration`` (seconds)
    # the run's last sign of life: a safeguard check or new events (store/liveness.py)
    Column("last_seen_at", TS, nullable=True),
    Index("ix_executions_team_created", "team_id", "created_at", "id"),
    Index("ix_executions_team_outcome", "team_id", "outcome", "created_at", "id"),
    Index("ix_executions_experiment_created", "experiment_id", "created_at", "id"),
    # duration last: an experiment's counts of the last 30 days read this index alone
    Index("ix_executions_experiment_outcome", "experiment_id", "outcome", "created_at", "id", "duration"),
    # an experiment's median duration (store/history.py) walks this to the middle
    Index("ix_executions_experiment_duration", "experiment_id", "duration", "created_at", "outcome"),
)

# The ``tags`` of each experiment (a copy of its body's list, for the tag filter).
experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column("experiment_id", ID, ForeignKey("experiments.id"), primary_key=True),
    Column("tag", String(200), primary_key=True),
    Column("team_id", ID, ForeignKey("teams.id"), nullable=False),
    Index("ix_experiment_tags_team_tag", "team_id", "tag"),
)

events = Table(
    "events",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("execution_id", ID, ForeignKey("executions.id"), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("type", String(200), nullable=False),
    Column("source", String(500), nullable=False),
    Column("time", String(64), nullable=True),
    Column("time_key", TS, nullable=False),
    Column("data", Text, nullable=True),
    Column("received_at", TS, nullable=False),
    UniqueConstraint("execution_id", "event_id", name="uq_events_execution_event"),
    Index("ix_events_timeline", "execution_id", "time_key", "seq"),
    sqlite_autoincrement=True,
)

policies = Table(
    "policies",
    metadata,
    Column("id", ID, primary_key=True),
    Column("execution_id", ID, ForeignKey("executions.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("allowed", Boolean, nullable=False),
    Column("reason", Text, nullable=True),
    Column("created_by", String(200), nullable=True),
    Column("created_at", TS, nullable=False),
    Index("ix_policies_execution", "execution_id", "created_at"),
)

# A team's safeguard policies, folded into every execution's verdict (store/team_policies.py).
team_policies = Table(
    "team_policies",
    metadata,
    Column("id", ID, primary_key=True),
    Column("team_id", ID, ForeignKey("teams.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # deny | window | concurrency
    Column("tag", String(200), nullable=True),  # scope: experiments with this tag (NULL: every one)
    Column("reason", Text, nullable=True),
    # window: weekly, local wall-clock time in ``time_zone`` (days 0 = Monday)
    Column("start_day", Integer, nullable=True),
    Column("start_time", String(8), nullable=True),  # HH:MM or HH:MM:SS
    Column("end_day", Integer, nullable=True),
    Column("end_time", String(8), nullable=True),
    Column("time_zone", String(64), nullable=True),
    Column("max_runs", Integer, nullable=True),  # concurrency
    Column("created_by", String(200), nullable=True),
    Column("created_at", TS, nullable=False),
    Column("updated_by", String(200), nullable=True),
    Column("updated_at", TS, nullable=False),
    UniqueConstraint("team_id", "name", name="uq_team_policies_team_name"),
)

# Pauses of an execution: one stands while ``resumed_at`` is NULL (store/pauses.py).
execution_pauses = Table(
    "execution_pauses",
    metadata,
    Column("id", ID, primary_key=True),
    Column("execution_id", ID, ForeignKey("executions.id"), nullable=False),
    Column("reason", Text, nullable=True),
    Column("timeout", Float, nullable=False),
    Column("created_by", String(200), nullable=True),
    Column("created_at", TS, nullable=False),
    Column("resumed_by", String(200), nullable=True),
    Column("resumed_at", TS, nullable=True),
    Index("ix_execution_pauses_execution", "execution_id", "created_at"),
)

verifications = Table(
    "verifications",
    metadata,
    Column("pk", ID, primary_key=True),
    Column("id", String(200), nullable=False),
    Column("team_id", ID, ForeignKey("teams.id"), nullable=False),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("team_id", "id", name="uq_verifications_team_id"),
    Index("ix_verifications_team_created", "team_id", "created_at", "id"),
)

verification_runs = Table(
    "verification_runs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("verification_pk", ID, ForeignKey("verifications.pk"), nullable=False),
    Column("experiment_id", ID, nullable=True),
    Column("execution_id", ID, nullable=True),
    Column("state", String(32), nullable=False),
    Column("status", String(64), nullable=True),
    Column("journal", Text, nullable=True),
    Column("results", Text, nullable=True),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("finished_at", TS, nullable=True),
    Index("ix_vruns_verification_created", "verification_pk", "created_at", "id"),
)

verification_run_events = Table(
    "verification_run_events",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("id", ID, nullable=False, unique=True),
    Column("run_id", ID, ForeignKey("verification_runs.id"), nullable=False),
    Column("category", String(200), nullable=False),
    Column("payload", Text, nullable=True),
    Column("created_at", TS, nullable=False),
    Index("ix_vrun_events_run", "run_id", "seq"),
    sqlite_autoincrement=True,
)

# The audit log: append-only (no route updates or deletes a row; on PostgreSQL and
# SQLite a trigger refuses UPDATE and DELETE, see migration 0006). One row per
# action and team, written in the transaction of the action (store/audit.py).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", ID, primary_key=True),
    Column("created_at", TS, nullable=False),
    Column("team_id", ID, nullable=False),
    Column("token_id", ID, nullable=True),  # None: the admin CLI
    Column("token_name", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target_id", String(200), nullable=True),
    Column("details", Text, nullable=True),  # JSON object
    Index("ix_audit_log_team_created", "team_id", "created_at", "id"),
)
