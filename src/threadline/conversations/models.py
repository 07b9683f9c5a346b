from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from threadline.kit.db import Base, JSONType, UTCDateTime


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("workspace_id", "contact_id", "channel"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    # Platform timestamps, not our receive time: the platform enforces windows by its own clock.
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    entry_point_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Set when the platform tells us the window is gone (e.g. WhatsApp error 131047).
    window_closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_referral: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    # Messenger Marketing Messages: the person's subscription token lets marketing go outside
    # the window until it expires (None: not subscribed, or stopped).
    subscription_token: Mapped[str | None] = mapped_column(String(400), nullable=True)
    subscription_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
