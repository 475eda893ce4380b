"""executions.outcome (+ reasons, start, duration) kept in columns, experiment tags, indexes

The outcome of each existing execution is derived by the same function the
server uses when it stores a journal (``derived_columns``, which calls
``chaosiq_server.outcome``), so old and new rows cannot disagree.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from chaosiq_server.jsonutil import loads
from chaosiq_server.store.executions import derived_columns
from chaosiq_server.store.experiments import tags_of

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH = 500


def _journal(text: str | None) -> object:
    try:
        return loads(text) if text else {}
    except ValueError:
        return None  # unreadable: the outcome says "unknown", not "passed"


def upgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("outcome", sa.String(16), nullable=False, server_default="running"))
        batch.add_column(sa.Column("outcome_reasons", sa.Text(), nullable=True))
        batch.add_column(sa.Column("started_at", sa.String(64), nullable=True))
        batch.add_column(sa.Column("duration", sa.Float(), nullable=True))
        batch.drop_index("ix_executions_experiment")
        batch.create_index("ix_executions_team_outcome", ["team_id", "outcome", "created_at", "id"])
        batch.create_index("ix_executions_experiment_created", ["experiment_id", "created_at", "id"])
        batch.create_index(
            "ix_executions_experiment_outcome", ["experiment_id", "outcome", "created_at", "id", "duration"]
        )
        batch.create_index(
            "ix_executions_experiment_duration", ["experiment_id", "duration", "created_at", "outcome"]
        )
    op.create_table(
        "experiment_tags",
        sa.Column("experiment_id", sa.String(64), sa.ForeignKey("experiments.id"), primary_key=True),
        sa.Column("tag", sa.String(200), primary_key=True),
        sa.Column("team_id", sa.String(64), sa.ForeignKey("teams.id"), nullable=False),
    )
    op.create_index("ix_experiment_tags_team_tag", "experiment_tags", ["team_id", "tag"])

    conn = op.get_bind()
    executions = sa.table(
        "executions",
        sa.column("id", sa.String),
        sa.column("status", sa.String),
        sa.column("journal", sa.Text),
        sa.column("outcome", sa.String),
        sa.column("outcome_reasons", sa.Text),
        sa.column("started_at", sa.String),
        sa.column("duration", sa.Float),
    )
    last = ""
    while True:  # in batches by id: any number of rows, bounded memory
        rows = conn.execute(
            sa.select(executions.c.id, executions.c.status, executions.c.journal)
            .where(executions.c.id > last)
            .order_by(executions.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            conn.execute(
                executions.update()
                .where(executions.c.id == row.id)
                .values(derived_columns(row.status, _journal(row.journal)))
            )
        last = rows[-1].id

    experiments = sa.table(
        "experiments", sa.column("id", sa.String), sa.column("team_id", sa.String), sa.column("body", sa.Text)
    )
    tags = sa.table(
        "experiment_tags", sa.column("experiment_id", sa.String), sa.column("tag", sa.String),
        sa.column("team_id", sa.String),
    )  # fmt: skip
    for row in conn.execute(sa.select(experiments.c.id, experiments.c.team_id, experiments.c.body)):
        found = [{"experiment_id": row.id, "tag": t, "team_id": row.team_id} for t in tags_of(_journal(row.body))]
        if found:
            conn.execute(tags.insert(), found)


def downgrade() -> None:
    op.drop_index("ix_experiment_tags_team_tag", table_name="experiment_tags")
    op.drop_table("experiment_tags")
    with op.batch_alter_table("executions") as batch:
        batch.drop_index("ix_executions_experiment_duration")
        batch.drop_index("ix_executions_experiment_outcome")
        batch.drop_index("ix_executions_experiment_created")
        batch.drop_index("ix_executions_team_outcome")
        batch.create_index("ix_executions_experiment", ["experiment_id"])
        for column in ("duration", "started_at", "outcome_reasons", "outcome"):
            batch.drop_column(column)
