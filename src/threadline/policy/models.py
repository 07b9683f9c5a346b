from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from threadline.kit.db import Base, UTCDateTime


class PressureEvent(Base):
    """One business message that went out: the pressure ledger that caps and messaging
    limits count from. Written by every send path when a message leaves."""

    __tablename__ = "pressure_events"
    __table_args__ = (
        Index("ix_pressure_events_contact_time", "workspace_id", "contact_id", "sent_at"),
        Index("ix_pressure_events_sender_time", "workspace_id", "sender", "sent_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    # The sending identity (e.g. a WhatsApp phone number id) whose messaging limit this uses.
    sender: Mapped[str | None] = mapped_column(String(100), nullable=True)
    purpose: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str | None] = mapped_column(String(64), nullable=True)
    business_initiated: Mapped[bool] = mapped_column(Boolean)
    campaign_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 6), nullable=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
