"""team safeguard policies (deny, time windows, concurrency; tag scope) and execution pauses

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "team_policies",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("team_id", sa.String(64), sa.ForeignKey("teams.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("tag", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("start_day", sa.Integer(), nullable=True),
        sa.Column("start_time", sa.String(8), nullable=True),
        sa.Column("end_day", sa.Integer(), nullable=True),
        sa.Column("end_time", sa.String(8), nullable=True),
        sa.Column("time_zone", sa.String(64), nullable=True),
        sa.Column("max_runs", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=True),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("team_id", "name", name="uq_team_policies_team_name"),
    )
    op.create_table(
        "execution_pauses",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("execution_id", sa.String(64), sa.ForeignKey("executions.id"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("timeout", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("resumed_by", sa.String(200), nullable=True),
        sa.Column("resumed_at", sa.String(32), nullable=True),
    )
    op.create_index("ix_execution_pauses_execution", "execution_pauses", ["execution_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_execution_pauses_execution", table_name="execution_pauses")
    op.drop_table("execution_pauses")
    op.drop_table("team_policies")
