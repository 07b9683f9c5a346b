from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from threadline.kit.db import Base, JSONType, UTCDateTime


class Template(Base):
    __tablename__ = "templates"
    __table_args__ = (UniqueConstraint("workspace_id", "account_id", "name", "language"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(String(100))  # WhatsApp Business Account id
    provider_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    name: Mapped[str] = mapped_column(String(512))
    language: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(16))  # marketing | utility | authentication
    status: Mapped[str] = mapped_column(String(32))  # approved, pending, rejected, paused, ...
    quality: Mapped[str | None] = mapped_column(String(16), nullable=True)
    components: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    status_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    parameter_format: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # As the business wrote it (created here) — None for templates made elsewhere and synced.
    definition: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TemplateEvent(Base):
    """What happened to a template, in order: submitted, edited, each status (with its
    reason), each category Meta gave it, each quality rating."""

    __tablename__ = "template_events"
    __table_args__ = (Index("ix_template_events_template", "template_id", "occurred_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    template_id: Mapped[str] = mapped_column(ForeignKey("templates.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(
        String(16)
    )  # submitted | edited | status | category | quality
    previous: Mapped[str | None] = mapped_column(String(32), nullable=True)
    value: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
