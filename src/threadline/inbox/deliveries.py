"""What the platform says about messages we sent: per-message statuses (WhatsApp), read and
delivery watermarks (Messenger, Instagram), echoes, and messages a person unsent."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from threadline import pricing
from threadline.channels import events as ev
from threadline.channels import registry
from threadline.channels.kinds import Channel
from threadline.channels.models import ChannelAccount
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope
from threadline.messages import service as messages
from threadline.messages import states
from threadline.messages.failures import apply_failure_effects
from threadline.messages.models import Message
from threadline.messages.states import HistoryMark, MessageState
from threadline.policy.service import stored_urn

log = logging.getLogger("threadline.inbox")


async def status(
    session: AsyncSession, channel: ChannelAccount, update: ev.StatusUpdate, now: datetime
) -> None:
    await statuses(session, channel, [update], now)


async def statuses(
    session: AsyncSession,
    channel: ChannelAccount,
    updates: Sequence[ev.StatusUpdate],
    now: datetime,
) -> None:
    """A round's status updates of one channel: their messages loaded together, each update
    applied in order, written in one flush (statuses are most of what a broadcast returns)."""
    found = await messages.find_many_for_status(session, channel, updates)
    history: list[dict[str, Any]] = []
    for update in updates:
        message = found.get(update.external_id)
        if message is None:
            log.info("status %s for unknown message %s", update.status, update.external_id)
            continue
        history.append(await _apply_status(session, channel, message, update, now))
    await session.flush()
    await messages.add_history_many(session, history)


async def _apply_status(
    session: AsyncSession,
    channel: ChannelAccount,
    message: Message,
    update: ev.StatusUpdate,
    now: datetime,
) -> dict[str, Any]:
    """Apply one update to its message; returns the history line to write for it."""
    error = update.errors[0] if update.errors else None
    line = messages.history_row(
        message,
        update.status,
        update.timestamp,
        error_code=error.code if error else None,
        detail=error.title if error else None,
        now=now,
    )
    if update.pricing is not None:
        message.pricing = {
            "model": update.pricing.model,
            "category": update.pricing.category,
            "type": update.pricing.type,
            "billable": update.pricing.billable,
        }
        message.cost_actual = _actual_cost(message, update.pricing, update.timestamp)
    error_class = (
        registry.declaration(channel.kind).errors.classify(error.code, error.subcode)
        if error is not None
        else None
    )
    after = states.moved(message.status, update.status)
    if after is not None:
        message.status = after
        message.updated_at = now
        if error is not None and error_class is not None:
            message.error_code = error.code
            message.error_class = error_class.value
            message.error_detail = error.title
    if update.status == MessageState.FAILED and error is not None and error_class is not None:
        await apply_failure_effects(
            session, message, Channel(channel.kind), error_class, error.code, update.timestamp, now
        )
    return line


def _actual_cost(message: Message, block: ev.Pricing, at: datetime) -> Decimal | None:
    """What the platform says it charges, priced with the rate card (None: cannot be priced)."""
    phone = stored_urn(message.address).phone_e164
    try:
        charge = pricing.actual(
            block,
            market=pricing.market_for(phone) if phone else None,
            at=at,
            card=pricing.current_card(),
        )
    except pricing.MissingRate:
        log.warning("no rate for message %s (%s)", message.id, block)
        return None
    return charge.amount


async def watermark(
    session: AsyncSession, channel: ChannelAccount, mark: ev.StatusWatermark, now: datetime
) -> int:
    """Every message to the person sent up to the watermark has reached the status; returns
    how many moved."""
    address = f"{registry.declaration(channel.kind).urn_scheme}:{mark.recipient}"
    sent = await session.scalars(
        Scope(session, channel.workspace_id)
        .select(Message)
        .where(
            Message.channel_id == channel.id,
            Message.direction == "out",
            Message.address == address,
            Message.provider_id.is_not(None),
            Message.status.in_((MessageState.ACCEPTED, MessageState.SENT, MessageState.DELIVERED)),
            or_(Message.created_at <= mark.watermark, Message.provider_id.in_(mark.mids)),
        )
    )
    moved = 0
    for message in sent:
        after = states.moved(message.status, mark.status)
        if after is not None:
            message.status, message.updated_at = after, now
            await messages.add_history(
                session, message, mark.status, mark.watermark, now=now, flush=False
            )
            moved += 1
    await session.flush()
    return moved


async def echo(
    session: AsyncSession, channel: ChannelAccount, event: ev.Echo, contact_id: str, now: datetime
) -> Message | None:
    """Our own sends come back as echoes and are already recorded; a message written in the
    platform's own inbox (or another app) is recorded so the conversation shows it."""
    known = await session.scalar(
        select(Message.id).where(
            Message.channel_id == channel.id, Message.provider_id == event.external_id
        )
    )
    if known is not None:
        return None
    message = Message(
        id=new_id("msg"),
        workspace_id=channel.workspace_id,
        contact_id=contact_id,
        channel_id=channel.id,
        direction="out",
        address=f"{registry.declaration(channel.kind).urn_scheme}:{event.recipient}",
        kind=event.kind,
        content={"text": event.text, "app_id": event.app_id, "sent_elsewhere": True},
        text=event.text,
        purpose="service",
        status=MessageState.SENT,
        provider_id=event.external_id,
        attempts=0,
        platform_timestamp=event.timestamp,
        created_at=now,
        updated_at=now,
    )
    session.add(message)
    await session.flush()
    return message


async def unsent(
    session: AsyncSession, channel: ChannelAccount, event: ev.MessageDeleted, now: datetime
) -> bool:
    """The person unsent a message: the row stays (the conversation shows something was
    withdrawn) but what it said is removed, as the platform does."""
    message = await session.scalar(
        select(Message).where(
            Message.channel_id == channel.id,
            Message.provider_id == event.external_id,
            Message.direction == "in",
        )
    )
    if message is None:
        return False
    message.content = {"deleted": True, "deleted_at": event.timestamp.isoformat()}
    message.text = None
    message.updated_at = now
    await messages.add_history(session, message, HistoryMark.DELETED, event.timestamp, now=now)
    return True
