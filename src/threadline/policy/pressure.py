"""The pressure ledger: every business message that left, for caps, limits and budgets."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels.kinds import Channel
from threadline.kit.clock import as_utc
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope
from threadline.policy.models import PressureEvent
from threadline.policy.types import Purpose

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


async def limit_recipients(
    session: AsyncSession, workspace_id: str, sender: str, now: datetime
) -> dict[str, datetime]:
    """Recipients counted against `sender`'s messaging limit → their latest business-initiated
    message. A recipient stops counting 24 h after that message."""
    scope = Scope(session, workspace_id)
    rows = await session.execute(
        scope.columns(PressureEvent, PressureEvent.contact_id, func.max(PressureEvent.sent_at))
        .where(
            PressureEvent.sender == sender,
            PressureEvent.business_initiated.is_(True),
            PressureEvent.sent_at > now - LIMIT_WINDOW,
        )
        .group_by(PressureEvent.contact_id)
    )
    return {contact_id: as_utc(last) for contact_id, last in rows.all()}


async def spent_since(session: AsyncSession, workspace_id: str, since: datetime) -> Decimal:
    scope = Scope(session, workspace_id)
    total = await session.scalar(
        scope.columns(PressureEvent, func.coalesce(func.sum(PressureEvent.cost), 0)).where(
            PressureEvent.sent_at >= since
        )
    )
    return Decimal(str(total or 0))


async def spent_by_campaign(
    session: AsyncSession, workspace_id: str, campaign_ids: set[str]
) -> dict[str, Decimal]:
    if not campaign_ids:
        return {}
    scope = Scope(session, workspace_id)
    rows = await session.execute(
        scope.columns(
            PressureEvent,
            PressureEvent.campaign_id,
            func.coalesce(func.sum(PressureEvent.cost), 0),
        )
        .where(PressureEvent.campaign_id.in_(campaign_ids))
        .group_by(PressureEvent.campaign_id)
    )
    return {str(campaign): Decimal(str(total or 0)) for campaign, total in rows.all()}
