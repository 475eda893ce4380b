"""executions.last_seen_at: when the run last showed life (a safeguard check or new events)

A concurrency limit counts only running executions seen lately, so a ``chaos run``
killed without a word stops holding a place.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN: no table copy (the events' foreign key forbids SQLite's batch copy)
    op.add_column("executions", sa.Column("last_seen_at", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("last_seen_at")
