"""executions.run_id: the client's id of the run, unique per team (one run is one execution)

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN and a unique index: no table copy (SQLite's batch mode would
    # recreate the table, which the events' foreign key forbids)
    op.add_column("executions", sa.Column("run_id", sa.String(length=200), nullable=True))
    op.create_index("uq_executions_team_run", "executions", ["team_id", "run_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_executions_team_run", table_name="executions")
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("run_id")
