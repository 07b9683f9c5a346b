from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from threadline.kit.db import Base, JSONType, UTCDateTime


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel_id", "provider_id"),
        UniqueConstraint("workspace_id", "idempotency_key"),
        Index("ix_messages_outbox", "channel_id", "status", "next_attempt_at"),
        Index("ix_messages_contact_order", "channel_id", "contact_id", "status"),
        Index("ix_messages_contact_time", "workspace_id", "contact_id", "created_at"),
        Index("ix_messages_logical_id", "logical_id"),
        Index("ix_messages_fallback_at", "fallback_at"),
        Index("ix_messages_campaign", "workspace_id", "campaign_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(8))  # in | out
    address: Mapped[str] = mapped_column(String(400))  # the contact's URN used
    kind: Mapped[str] = mapped_column(String(40))
    content: Mapped[dict[str, Any]] = mapped_column(JSONType)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    purpose: Mapped[str | None] = mapped_column(String(16), nullable=True)
    topic: Mapped[str | None] = mapped_column(String(64), nullable=True)
    template_name: Mapped[str | None] = mapped_column(String(512), nullable=True)
    template_category: Mapped[str | None] = mapped_column(String(16), nullable=True)
    campaign_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # A `messages.states.MessageState`, stored as its name.
    status: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    error_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error_class: Mapped[str | None] = mapped_column(String(40), nullable=True)
    error_detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    cost_estimate: Mapped[Decimal | None] = mapped_column(Numeric(12, 6), nullable=True)
    cost_actual: Mapped[Decimal | None] = mapped_column(Numeric(12, 6), nullable=True)
    pricing: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    reply_to: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Written by a person (an agent), not a bot: Messenger/Instagram let such a reply go up
    # to 7 days after the contact's message (HUMAN_AGENT), so the re-check must know it.
    human_agent: Mapped[bool] = mapped_column(Boolean, default=False)
    # Messages a flow sent, by session and node: flow analytics can be checked against them.
    flow_session_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    flow_node: Mapped[str | None] = mapped_column(String(200), nullable=True)
    platform_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # One logical message sent over several channels (fallback): the first attempt's id,
    # shared by every attempt. None: a message on one channel only.
    logical_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # Fall back to the strategy's next channel if this attempt is not delivered within so
    # many seconds (or fails as undeliverable); `fallback_at` is when that check is due.
    fallback_after: Mapped[int | None] = mapped_column(Integer, nullable=True)
    fallback_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MessageStatus(Base):
    """Every status a message went through, in the platform's order and time."""

    __tablename__ = "message_statuses"
    __table_args__ = (Index("ix_message_statuses_message", "message_id", "occurred_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    error_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
