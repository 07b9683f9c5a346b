from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from threadline.kit.db import Base, JSONType, UTCDateTime


class ConsentTopic(Base):
    """A marketing topic a contact can subscribe to (newsletter, offers, ...)."""

    __tablename__ = "consent_topics"
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConsentEvent(Base):
    """One line of the append-only consent ledger. Rows are never updated or deleted
    (except when the contact is erased, which leaves a Suppression behind)."""

    __tablename__ = "consent_events"
    __table_args__ = (Index("ix_consent_events_contact_time", "contact_id", "occurred_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(400), nullable=True)
    disclosure_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    disclosure_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    disclosure_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    actor: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Suppression(Base):
    """What survives an erasure: enough to never message that address again by mistake."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("workspace_id", "address_sha256"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    address_sha256: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
