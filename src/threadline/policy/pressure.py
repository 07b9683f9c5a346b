"""The pressure ledger: every business message that left, for caps, limits and budgets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.kit.clock import as_utc
from threadline.kit.ids import new_id
from threadline.policy.models import PressureEvent
from threadline.policy.types import Channel, Purpose, RecentSend

LIMIT_WINDOW = timedelta(hours=24)


def send_row(
    workspace_id: str,
    contact_id: str,
    *,
    channel: Channel,
    purpose: Purpose,
    sent_at: datetime,
    business_initiated: bool,
    topic: str | None = None,
    sender: str | None = None,
    campaign_id: str | None = None,
    cost: Decimal | None = None,
) -> dict[str, Any]:
    """One pressure-ledger line as column values (the dispatcher inserts many at once)."""
    return {
        "id": new_id("prs"),
        "workspace_id": workspace_id,
        "contact_id": contact_id,
        "channel": channel.value,
        "sender": sender,
        "purpose": purpose.value,
        "topic": topic,
        "business_initiated": business_initiated,
        "campaign_id": campaign_id,
        "cost": cost,
        "sent_at": sent_at,
    }


async def record_send(
    session: AsyncSession,
    workspace_id: str,
    contact_id: str,
    *,
    channel: Channel,
    purpose: Purpose,
    sent_at: datetime,
    business_initiated: bool,
    topic: str | None = None,
    sender: str | None = None,
    campaign_id: str | None = None,
    cost: Decimal | None = None,
) -> PressureEvent:
    event = PressureEvent(
        **send_row(
            workspace_id,
            contact_id,
            channel=channel,
            purpose=purpose,
            sent_at=sent_at,
            business_initiated=business_initiated,
            topic=topic,
            sender=sender,
            campaign_id=campaign_id,
            cost=cost,
        )
    )
    session.add(event)
    await session.flush()
    return event


async def recent_marketing(
    session: AsyncSession, workspace_id: str, contact_id: str, since: datetime
) -> tuple[RecentSend, ...]:
    rows = await session.execute(
        select(PressureEvent.sent_at, PressureEvent.channel).where(
            PressureEvent.workspace_id == workspace_id,
            PressureEvent.contact_id == contact_id,
            PressureEvent.purpose == Purpose.MARKETING.value,
            PressureEvent.sent_at > since,
        )
    )
    return tuple(RecentSend(sent_at=at, channel=Channel(ch)) for at, ch in rows.all())


@dataclass(frozen=True)
class LimitUsage:
    recipients: int
    includes_contact: bool
    frees_at: datetime | None


async def limit_usage(
    session: AsyncSession, workspace_id: str, sender: str, contact_id: str, now: datetime
) -> LimitUsage:
    """Unique business-initiated recipients of `sender` in the rolling 24 h."""
    since = now - LIMIT_WINDOW
    # A recipient stops counting 24 h after their *latest* business-initiated message.
    last_seen = (
        select(PressureEvent.contact_id, func.max(PressureEvent.sent_at).label("last_at"))
        .where(
            PressureEvent.workspace_id == workspace_id,
            PressureEvent.sender == sender,
            PressureEvent.business_initiated.is_(True),
            PressureEvent.sent_at > since,
        )
        .group_by(PressureEvent.contact_id)
    )
    rows = (await session.execute(last_seen)).all()
    oldest = min((as_utc(last_at) for _, last_at in rows), default=None)
    return LimitUsage(
        recipients=len(rows),
        includes_contact=any(cid == contact_id for cid, _ in rows),
        frees_at=oldest + LIMIT_WINDOW if oldest is not None else None,
    )


async def spent_since(session: AsyncSession, workspace_id: str, since: datetime) -> Decimal:
    total = await session.scalar(
        select(func.coalesce(func.sum(PressureEvent.cost), 0)).where(
            PressureEvent.workspace_id == workspace_id, PressureEvent.sent_at >= since
        )
    )
    return Decimal(str(total or 0))
