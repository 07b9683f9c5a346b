"""messages: one logical message over several channels (fallback)

Revision ID: 20261207_0007
Revises: 20261206_0006
Create Date: 2026-12-07 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import threadline.kit.db

revision: str = "20261207_0007"
down_revision: str | None = "20261206_0006"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("logical_id", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("fallback_after", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("fallback_at", threadline.kit.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_index("ix_messages_logical_id", "messages", ["logical_id"])
    op.create_index("ix_messages_fallback_at", "messages", ["fallback_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_fallback_at", table_name="messages")
    op.drop_index("ix_messages_logical_id", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("fallback_at")
        batch.drop_column("fallback_after")
        batch.drop_column("logical_id")
