from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from threadline.kit.db import Base, JSONType, UTCDateTime


class FlowVersion(Base):
    """One uploaded version of a flow: its sources as written, compiled when used."""

    __tablename__ = "flows"
    __table_args__ = (
        UniqueConstraint("workspace_id", "key", "version"),
        Index("ix_flows_workspace_active", "workspace_id", "active"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(60))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    bundle: Mapped[dict[str, Any]] = mapped_column(JSONType)
    checksum: Mapped[str] = mapped_column(String(64))
    triggers: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    # Only the newest version of a key is active: triggers start it; older sessions finish.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FlowSession(Base):
    """A person's run through a flow version; the engine's state is `state`."""

    __tablename__ = "flow_sessions"
    __table_args__ = (
        # One active session per contact: NULL once ended, and NULLs never collide.
        UniqueConstraint("active_contact_id"),
        Index("ix_flow_sessions_due", "status", "deadline"),
        Index("ix_flow_sessions_flow", "workspace_id", "flow_id", "started_at"),
        Index("ix_flow_sessions_contact", "workspace_id", "contact_id", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    active_contact_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    flow_id: Mapped[str] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"))
    flow_key: Mapped[str] = mapped_column(String(60))
    channel_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # waiting | webhook | calling (a worker is making the webhook call) | handoff | ended
    status: Mapped[str] = mapped_column(String(16))
    node: Mapped[str | None] = mapped_column(String(200), nullable=True)
    trigger: Mapped[str] = mapped_column(String(32))
    state: Mapped[dict[str, Any]] = mapped_column(JSONType)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    end_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    steps: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
