"""growth: opt-in pages, pending double opt-ins

Revision ID: 20261209_0009
Revises: 20261208_0008
Create Date: 2026-12-09 09:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import threadline.kit.db

revision: str = "20261209_0009"
down_revision: str | None = "20261208_0008"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def _id_and_workspace(table: str) -> list[Any]:
    return [
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f(f"fk_{table}_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def _page_key(table: str) -> list[Any]:
    return [
        sa.Column("page_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["page_id"],
            ["optin_pages.id"],
            name=op.f(f"fk_{table}_page_id_optin_pages"),
            ondelete="CASCADE",
        ),
    ]


def upgrade() -> None:
    when = threadline.kit.db.UTCDateTime(timezone=True)
    op.create_table(
        "growth_slugs",
        *_id_and_workspace("growth_slugs"),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.UniqueConstraint("slug", name=op.f("uq_growth_slugs_slug")),
        sa.UniqueConstraint("workspace_id", name=op.f("uq_growth_slugs_workspace_id")),
    )
    op.create_table(
        "optin_pages",
        *_id_and_workspace("optin_pages"),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("keyword", sa.String(length=32), nullable=False),
        sa.Column("channels", threadline.kit.db.JSONType, nullable=False),
        sa.Column("confirmation_text", sa.Text(), nullable=False),
        sa.Column("confirmation_template", sa.String(length=200), nullable=True),
        sa.Column("confirm_within_hours", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("updated_at", when, nullable=False),
        sa.UniqueConstraint(
            "workspace_id", "keyword", name=op.f("uq_optin_pages_workspace_id_keyword")
        ),
        sa.UniqueConstraint(
            "workspace_id", "topic", name=op.f("uq_optin_pages_workspace_id_topic")
        ),
    )
    op.create_table(
        "optin_page_versions",
        *_id_and_workspace("optin_page_versions"),
        *_page_key("optin_page_versions"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("disclosure_text", sa.Text(), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.UniqueConstraint(
            "page_id", "version", name=op.f("uq_optin_page_versions_page_id_version")
        ),
    )
    op.create_table(
        "growth_links",
        *_id_and_workspace("growth_links"),
        *_page_key("growth_links"),
        sa.Column("ref", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.UniqueConstraint("workspace_id", "ref", name=op.f("uq_growth_links_workspace_id_ref")),
    )
    op.create_table(
        "pending_optins",
        *_id_and_workspace("pending_optins"),
        *_page_key("pending_optins"),
        sa.Column("contact_id", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("prompt_text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=32), nullable=True),
        sa.Column("address", sa.String(length=400), nullable=True),
        sa.Column("request", threadline.kit.db.JSONType, nullable=False),
        sa.Column("asked_at", when, nullable=False),
        sa.Column("expires_at", when, nullable=False),
        sa.Column("resolved_at", when, nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_pending_optins_contact_id_contacts"),
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_pending_optins_contact", "pending_optins", ["contact_id", "channel"])


def downgrade() -> None:
    op.drop_index("ix_pending_optins_contact", table_name="pending_optins")
    for table in (
        "pending_optins",
        "growth_links",
        "optin_page_versions",
        "optin_pages",
        "growth_slugs",
    ):
        op.drop_table(table)
