"""The segments on the calendar as the database sees them: how many members each has, how
many of one's members another broadcast's audience also reaches, and how much marketing
the automations sent them lately. A segment is a broadcast's audience query (the same text
is the same segment)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.calendar.volume import HISTORY_DAYS, WENT, automated_sessions
from threadline.contacts.models import Contact
from threadline.kit.errors import InvalidInput
from threadline.kit.scoped import Scope
from threadline.messages.models import Message
from threadline.policy.types import Purpose
from threadline.segments import service as segments


def label(audience: str) -> str:
    return " ".join(audience.split())


async def compiled(
    session: AsyncSession, workspace_id: str, audiences: set[str], now: datetime
) -> dict[str, Any]:
    """Each audience that still runs, as its members query (as of now: a plan for the
    weeks ahead has no better moment to read "bought in the last 30 days" at)."""
    found = {}
    for text in sorted(audiences):
        try:
            found[text] = await segments.members(session, workspace_id, text, now)
        except InvalidInput:
            continue  # an audience whose field was removed: its broadcast says so
    return found


async def size(session: AsyncSession, query: Any) -> int:
    return await segments.count(session, query)


async def overlap(session: AsyncSession, query: Any, other: Any) -> int:
    """Members of `query` who are also in `other`."""
    both = query.where(Contact.id.in_(select(other.subquery().c.id)))
    return await segments.count(session, both)


async def automation_per_member_day(
    session: AsyncSession, workspace_id: str, query: Any, members: int, now: datetime
) -> float:
    """Marketing messages the automations sent the segment's members over the history, per
    member and day: what they will likely get again on top of the broadcasts."""
    if members == 0:
        return 0.0
    sent = await session.scalar(
        Scope(session, workspace_id)
        .columns(Message, func.count())
        .where(
            Message.direction == "out",
            Message.purpose == Purpose.MARKETING.value,
            Message.status.in_(WENT),
            Message.flow_session_id.in_(automated_sessions(session, workspace_id)),
            Message.contact_id.in_(select(query.subquery().c.id)),
            Message.created_at >= now - timedelta(days=HISTORY_DAYS),
            Message.created_at < now,
        )
    )
    return int(sent or 0) / members / HISTORY_DAYS
