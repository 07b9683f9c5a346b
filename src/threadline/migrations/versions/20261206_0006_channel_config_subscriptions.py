"""channel types: typed per-type config instead of WhatsApp columns; Messenger
subscriptions; messages remember an agent wrote them

Revision ID: 20261206_0006
Revises: 20261121_0005
Create Date: 2026-12-06 14:30:00
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import threadline.kit.db

revision: str = "20261206_0006"
down_revision: str | None = "20261121_0005"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

_MOVED = ("display_number", "quality", "messaging_limit", "settings")


def _config_of(row: Any) -> dict[str, Any]:
    settings = row.settings if isinstance(row.settings, dict) else json.loads(row.settings or "{}")
    config: dict[str, Any] = {
        "display_number": row.display_number or "",
        "quality": row.quality or "green",
        "messaging_limit": row.messaging_limit,
    }
    for key in ("last_platform_errors", "last_platform_errors_at"):
        if key in settings:
            config[key] = settings[key]
    return config


def upgrade() -> None:
    op.add_column(
        "channels",
        sa.Column("config", threadline.kit.db.JSONType, nullable=False, server_default="{}"),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, display_number, quality, messaging_limit, settings FROM channels")
    ).fetchall()
    channels = sa.table("channels", sa.column("id"), sa.column("config", sa.JSON))
    for row in rows:
        bind.execute(
            channels.update().where(channels.c.id == row.id).values(config=_config_of(row))
        )
    with op.batch_alter_table("channels") as batch:
        for column in _MOVED:
            batch.drop_column(column)
    with op.batch_alter_table("messages") as batch:
        batch.add_column(
            sa.Column("human_agent", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("subscription_token", sa.String(length=400), nullable=True))
        batch.add_column(
            sa.Column(
                "subscription_expires_at",
                threadline.kit.db.UTCDateTime(timezone=True),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("human_agent")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("subscription_expires_at")
        batch.drop_column("subscription_token")
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("display_number", sa.String(32), server_default=""))
        batch.add_column(sa.Column("quality", sa.String(16), server_default="green"))
        batch.add_column(sa.Column("messaging_limit", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("settings", threadline.kit.db.JSONType, server_default="{}"))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, config FROM channels")).fetchall()
    channels = sa.table(
        "channels",
        sa.column("id"),
        sa.column("display_number"),
        sa.column("quality"),
        sa.column("messaging_limit"),
    )
    for row in rows:
        config = row.config if isinstance(row.config, dict) else json.loads(row.config or "{}")
        bind.execute(
            channels.update()
            .where(channels.c.id == row.id)
            .values(
                display_number=config.get("display_number", ""),
                quality=config.get("quality", "green"),
                messaging_limit=config.get("messaging_limit"),
            )
        )
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("config")
