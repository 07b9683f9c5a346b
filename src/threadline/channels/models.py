from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from threadline.kit.db import Base, JSONType, UTCDateTime


class ChannelAccount(Base):
    """A sending identity on a platform: a WhatsApp number, a Messenger page, an Instagram
    account. What only one type has lives in `config`, typed by the type's declaration."""

    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("kind", "address"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    # The platform's id for this sender (WhatsApp phone_number_id, page id, Instagram
    # account id); unique per platform.
    address: Mapped[str] = mapped_column(String(100))
    # The account it belongs to: the WhatsApp Business Account (templates live there), the
    # Page (Messenger: itself; Instagram: the linked Page).
    account_id: Mapped[str] = mapped_column(String(100))
    base_url: Mapped[str] = mapped_column(String(400))
    api_version: Mapped[str] = mapped_column(String(16))
    # Secrets (access token, app secret, verify token) as one SecretBox ciphertext.
    secrets: Mapped[str] = mapped_column(String(4000))
    throughput_mps: Mapped[int] = mapped_column(Integer, default=80)
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChannelLease(Base):
    """Which dispatcher owns a channel's sending right now (rate limits live in one place)."""

    __tablename__ = "channel_leases"

    channel_id: Mapped[str] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
