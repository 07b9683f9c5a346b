from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from threadline.kit.db import Base, JSONType, UTCDateTime


class Broadcast(Base):
    """A broadcast: its definition (`spec`, a `BroadcastSpec`) and where its sending is.

    Its messages are outbox rows whose `campaign_id` is the broadcast's id, keyed
    `bc:<id>:<occurrence>:<contact>`, so a fan-out that restarts never writes one twice."""

    __tablename__ = "broadcasts"
    __table_args__ = (Index("ix_broadcasts_due", "status", "next_run_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # A `broadcasts.states.BroadcastState`, stored as its name.
    status: Mapped[str] = mapped_column(String(16))
    # Why it is paused, in words (a guardrail's reading, or "paused by <who>").
    pause_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Which occurrence is being sent (recurring broadcasts count up from 1).
    occurrence: Mapped[int] = mapped_column(Integer, default=1)
    # When the next fan-out may start (the schedule's moment; for local time, the moment
    # the date reaches that time in the earliest zone).
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The fan-out's place in the audience: members are taken in id order after this one.
    cursor: Mapped[str | None] = mapped_column(String(40), nullable=True)
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # A fan-out in progress is leased, so two workers never fan out the same broadcast.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # This occurrence's planning so far, by outcome ("allowed", a policy reason,
    # "deferred:<reason>", "no_address"...): the throttle's position, and the members no
    # channel reaches, whom no message row records.
    tally: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    audience_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BroadcastMember(Base):
    """One member of an occurrence's audience, written when the occurrence starts.

    The segment is evaluated once (one INSERT … SELECT) and the fan-out pages through these
    rows by primary key: re-running the segment for every batch costs more per batch as the
    audience grows. Started and written in one transaction, a restarted fan-out reads the
    same list. Each batch deletes the rows it planned, in the transaction that moves the
    cursor, so a finished occurrence leaves none; a cancel deletes the rest."""

    __tablename__ = "broadcast_members"

    broadcast_id: Mapped[str] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), primary_key=True
    )
    occurrence: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No foreign key: a snapshot, checked per row it would slow the million-row insert, and
    # a contact erased since the start is skipped by the planner.
    contact_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # For the scope only; the row goes with its broadcast, which goes with its workspace.
    workspace_id: Mapped[str] = mapped_column(String(40))
