from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from threadline.kit.db import Base, JSONType, UTCDateTime


class Ticket(Base):
    """A conversation handed to people; while it is open the bot stays silent."""

    __tablename__ = "tickets"
    __table_args__ = (
        # One open ticket per contact: a second handoff joins the open one.
        UniqueConstraint("open_contact_id"),
        Index("ix_tickets_queue", "workspace_id", "status", "team", "opened_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    open_contact_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    session_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    channel_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    team: Mapped[str] = mapped_column(String(60))
    assignee: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # open | pending | resolved
    summary: Mapped[str] = mapped_column(Text)
    resolution: Mapped[str | None] = mapped_column(String(16), nullable=True)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
