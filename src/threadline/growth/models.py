"""Opt-in pages (with every disclosure text they ever showed), tracked links and pending
keyword opt-ins. The consent itself lives in the consent ledger; these rows say where it
came from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from threadline.kit.db import Base, JSONType, UTCDateTime


class GrowthSlug(Base):
    """The public name of a workspace in its opt-in page addresses (/join/<slug>). A table
    of its own so that a slug is unique across workspaces, whatever pages each one has."""

    __tablename__ = "growth_slugs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), unique=True
    )
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OptInPage(Base):
    """A hosted sign-up page for one topic, and the JOIN keyword that opts in to the same
    topic by message. `version` is the current disclosure version (see OptInPageVersion)."""

    __tablename__ = "optin_pages"
    __table_args__ = (
        UniqueConstraint("workspace_id", "topic"),
        UniqueConstraint("workspace_id", "keyword"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    keyword: Mapped[str] = mapped_column(String(32))
    channels: Mapped[list[str]] = mapped_column(JSONType, default=list)
    confirmation_text: Mapped[str] = mapped_column(Text)
    confirmation_template: Mapped[str | None] = mapped_column(String(200), nullable=True)
    confirm_within_hours: Mapped[int] = mapped_column(Integer, default=24)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OptInPageVersion(Base):
    """One disclosure text a page showed. Kept for ever: a form opened before an edit and
    sent after it records the words the person actually saw."""

    __tablename__ = "optin_page_versions"
    __table_args__ = (UniqueConstraint("page_id", "version"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    page_id: Mapped[str] = mapped_column(ForeignKey("optin_pages.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    disclosure_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class GrowthLink(Base):
    """A tracked way in to a page (a poster's QR code, a wa.me link in a bio, an ad): its
    `ref` travels in the link and is written on the grant with its `source`."""

    __tablename__ = "growth_links"
    __table_args__ = (UniqueConstraint("workspace_id", "ref"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    page_id: Mapped[str] = mapped_column(ForeignKey("optin_pages.id", ondelete="CASCADE"))
    ref: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PendingOptIn(Base):
    """A keyword opt-in waiting for its YES. Not a ledger line: an unanswered or refused
    question must leave no consent behind, and the ledger never forgets a line."""

    __tablename__ = "pending_optins"
    __table_args__ = (Index("ix_pending_optins_contact", "contact_id", "channel"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    page_id: Mapped[str] = mapped_column(ForeignKey("optin_pages.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    prompt_text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str | None] = mapped_column(String(32), nullable=True)
    address: Mapped[str | None] = mapped_column(String(400), nullable=True)
    # What the person sent to ask (the JOIN message, or the link they opened).
    request: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
