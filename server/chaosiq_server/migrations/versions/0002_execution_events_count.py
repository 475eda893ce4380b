"""executions.events_count: a counter maintained on insert (no COUNT(*) per page)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("events_count", sa.BigInteger(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE executions SET events_count = "
        "(SELECT COUNT(*) FROM events WHERE events.execution_id = executions.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("events_count")
