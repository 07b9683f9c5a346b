from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
