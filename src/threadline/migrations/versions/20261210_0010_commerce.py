"""commerce: catalog products, payment links

Revision ID: 20261210_0010
Revises: 20261209_0009
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import threadline.kit.db

revision: str = "20261210_0010"
down_revision: str | None = "20261209_0009"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def _workspace_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["workspace_id"],
        ["workspaces.id"],
        name=op.f(f"fk_{table}_workspace_id_workspaces"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    when = threadline.kit.db.UTCDateTime(timezone=True)
    money = sa.Numeric(precision=14, scale=4)
    op.create_table(
        "commerce_products",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("retailer_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("price", money, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("image_url", sa.String(length=2000), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("availability", sa.String(length=20), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("updated_at", when, nullable=False),
        _workspace_fk("commerce_products"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commerce_products")),
        sa.UniqueConstraint(
            "workspace_id",
            "retailer_id",
            name=op.f("uq_commerce_products_workspace_id_retailer_id"),
        ),
    )
    op.create_table(
        "commerce_payment_providers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("api_url", sa.String(length=500), nullable=False),
        sa.Column("sealed", sa.String(length=8000), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("updated_at", when, nullable=False),
        _workspace_fk("commerce_payment_providers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commerce_payment_providers")),
        sa.UniqueConstraint(
            "workspace_id", name=op.f("uq_commerce_payment_providers_workspace_id")
        ),
    )
    op.create_table(
        "commerce_payment_links",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("contact_id", sa.String(length=40), nullable=False),
        sa.Column("order_ref", sa.String(length=100), nullable=False),
        sa.Column("amount", money, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("items", threadline.kit.db.JSONType, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("provider_link_id", sa.String(length=200), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("paid_at", when, nullable=True),
        sa.Column("created_at", when, nullable=False),
        sa.Column("updated_at", when, nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_commerce_payment_links_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        _workspace_fk("commerce_payment_links"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commerce_payment_links")),
        sa.UniqueConstraint(
            "workspace_id",
            "provider_link_id",
            name=op.f("uq_commerce_payment_links_workspace_id_provider_link_id"),
        ),
        sa.UniqueConstraint(
            "workspace_id",
            "idempotency_key",
            name=op.f("uq_commerce_payment_links_workspace_id_idempotency_key"),
        ),
    )
    op.create_index(
        "ix_commerce_payment_links_contact",
        "commerce_payment_links",
        ["workspace_id", "contact_id"],
    )
    op.create_table(
        "commerce_payment_events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("provider_event_id", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=60), nullable=False),
        sa.Column("link_id", sa.String(length=40), nullable=True),
        sa.Column("received_at", when, nullable=False),
        _workspace_fk("commerce_payment_events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commerce_payment_events")),
        sa.UniqueConstraint(
            "workspace_id",
            "provider_event_id",
            name=op.f("uq_commerce_payment_events_workspace_id_provider_event_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("commerce_payment_events")
    op.drop_index("ix_commerce_payment_links_contact", table_name="commerce_payment_links")
    op.drop_table("commerce_payment_links")
    op.drop_table("commerce_payment_providers")
    op.drop_table("commerce_products")
