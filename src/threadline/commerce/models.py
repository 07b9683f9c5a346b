"""Commerce tables: the workspace's product catalog, its payment provider, the payment links
sent to contacts and the provider callbacks already taken in."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from threadline.kit.db import Base, JSONType, UTCDateTime


class Product(Base):
    """One product of the workspace's catalog, known by the shop's own id (SKU), which is
    also the `retailer_id` of the same product in a platform catalog (Meta Commerce)."""

    __tablename__ = "commerce_products"
    __table_args__ = (UniqueConstraint("workspace_id", "retailer_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    retailer_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    price: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    currency: Mapped[str] = mapped_column(String(3))
    image_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    # in_stock, out_of_stock, preorder, discontinued: only what can be bought is offered.
    availability: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PaymentProvider(Base):
    """Where the workspace's payment links are made, and the credentials: the API key and
    the secret that signs the provider's callbacks, sealed together."""

    __tablename__ = "commerce_payment_providers"
    __table_args__ = (UniqueConstraint("workspace_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    api_url: Mapped[str] = mapped_column(String(500))
    sealed: Mapped[str] = mapped_column(String(8000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PaymentLink(Base):
    """A link a contact pays an order by: open until the provider says paid (or expired)."""

    __tablename__ = "commerce_payment_links"
    __table_args__ = (
        UniqueConstraint("workspace_id", "provider_link_id"),
        UniqueConstraint("workspace_id", "idempotency_key"),
        Index("ix_commerce_payment_links_contact", "workspace_id", "contact_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    order_ref: Mapped[str] = mapped_column(String(100))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    currency: Mapped[str] = mapped_column(String(3))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(20))  # open, paid, expired
    url: Mapped[str] = mapped_column(String(2000))
    provider_link_id: Mapped[str] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PaymentEvent(Base):
    """A provider callback taken in, by the provider's event id: a redelivery is answered
    without doing anything twice."""

    __tablename__ = "commerce_payment_events"
    __table_args__ = (UniqueConstraint("workspace_id", "provider_event_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    provider_event_id: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(60))
    link_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
