"""broadcasts, messages by campaign for their progress, addresses by workspace and contact

Revision ID: 20261208_0008
Revises: 20261207_0007
Create Date: 2026-12-08 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import threadline.kit.db

revision: str = "20261208_0008"
down_revision: str | None = "20261207_0007"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    when = threadline.kit.db.UTCDateTime(timezone=True)
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("spec", threadline.kit.db.JSONType, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("pause_reason", sa.Text(), nullable=True),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("next_run_at", when, nullable=True),
        sa.Column("cursor", sa.String(length=40), nullable=True),
        sa.Column("fanned_out_at", when, nullable=True),
        sa.Column("claimed_until", when, nullable=True),
        sa.Column("tally", threadline.kit.db.JSONType, nullable=False),
        sa.Column("audience_total", sa.Integer(), nullable=True),
        sa.Column("started_at", when, nullable=True),
        sa.Column("completed_at", when, nullable=True),
        sa.Column("created_at", when, nullable=False),
        sa.Column("updated_at", when, nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_broadcasts_due", "broadcasts", ["status", "next_run_at"])
    op.create_index("ix_messages_campaign", "messages", ["workspace_id", "campaign_id", "status"])
    op.create_index(
        "ix_contact_urns_workspace_contact", "contact_urns", ["workspace_id", "contact_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_contact_urns_workspace_contact", table_name="contact_urns")
    op.drop_index("ix_messages_campaign", table_name="messages")
    op.drop_index("ix_broadcasts_due", table_name="broadcasts")
    op.drop_table("broadcasts")
