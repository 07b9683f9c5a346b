"""Recording inbound activity per contact and channel, and reading the windows it opens."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels.kinds import Channel
from threadline.conversations.models import Conversation
from threadline.conversations.windows import window_facts
from threadline.kit.errors import InvalidInput
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope
from threadline.policy.types import WindowFacts

# Platforms stamp messages with their own clock; one that is far ahead of ours is suspect.
MAX_CLOCK_SKEW = timedelta(minutes=5)


async def get_conversation(
    session: AsyncSession, workspace_id: str, contact_id: str, channel: Channel
) -> Conversation | None:
    return await session.scalar(
        Scope(session, workspace_id)
        .select(Conversation)
        .where(
            Conversation.contact_id == contact_id,
            Conversation.channel == channel.value,
        )
    )


async def _get_or_create(
    session: AsyncSession,
    workspace_id: str,
    contact_id: str,
    channel: Channel,
    now: datetime,
    **initial: Any,
) -> tuple[Conversation, bool]:
    """The conversation, and whether it was created (with `initial` values) just now."""
    existing = await get_conversation(session, workspace_id, contact_id, channel)
    if existing is not None:
        return existing, False
    conversation = Conversation(
        id=new_id("cnv"),
        workspace_id=workspace_id,
        contact_id=contact_id,
        channel=channel.value,
        created_at=now,
        updated_at=now,
        **initial,
    )
    try:
        async with session.begin_nested():
            session.add(conversation)
    except IntegrityError:
        # Another worker created it first; per-contact ordering makes this rare.
        found = await get_conversation(session, workspace_id, contact_id, channel)
        assert found is not None
        return found, False
    return conversation, True


async def record_inbound(
    session: AsyncSession,
    workspace_id: str,
    contact_id: str,
    channel: Channel,
    *,
    platform_timestamp: datetime,
    now: datetime,
    referral: dict[str, Any] | None = None,
) -> Conversation:
    """A message from the contact: opens (or extends) the service window from the platform's
    timestamp; a click-to-message ad referral also opens the free entry-point window."""
    if platform_timestamp > now + MAX_CLOCK_SKEW:
        raise InvalidInput("message timestamp is in the future", where="timestamp")
    entry = {"last_referral": referral, "entry_point_at": platform_timestamp} if referral else {}
    conversation, created = await _get_or_create(
        session,
        workspace_id,
        contact_id,
        channel,
        now,
        last_inbound_at=platform_timestamp,
        **entry,
    )
    if created:
        return conversation
    latest = conversation.last_inbound_at
    if latest is None or platform_timestamp > latest:
        conversation.last_inbound_at = platform_timestamp
    if referral is not None:
        conversation.last_referral = referral
        if conversation.entry_point_at is None or platform_timestamp > conversation.entry_point_at:
            conversation.entry_point_at = platform_timestamp
    conversation.updated_at = now
    await session.flush()
    return conversation


async def mark_window_closed(
    session: AsyncSession, workspace_id: str, contact_id: str, channel: Channel, at: datetime
) -> None:
    """The platform refused a free-form message (e.g. WhatsApp 131047): trust it over our
    arithmetic until the contact writes again."""
    conversation, _ = await _get_or_create(session, workspace_id, contact_id, channel, at)
    conversation.window_closed_at = at
    conversation.updated_at = at
    await session.flush()


async def set_subscription(
    session: AsyncSession,
    workspace_id: str,
    contact_id: str,
    channel: Channel,
    *,
    token: str | None,
    expires_at: datetime | None,
    at: datetime,
) -> None:
    """The person's marketing subscription on this channel (token None: stopped)."""
    conversation, _ = await _get_or_create(session, workspace_id, contact_id, channel, at)
    conversation.subscription_token = token
    conversation.subscription_expires_at = expires_at
    conversation.updated_at = at
    await session.flush()


def facts_of(conversation: Conversation | None, channel: Channel) -> WindowFacts:
    if conversation is None:
        return WindowFacts()
    return window_facts(
        channel,
        conversation.last_inbound_at,
        conversation.entry_point_at,
        conversation.window_closed_at,
    )


async def list_for_contact(
    session: AsyncSession, workspace_id: str, contact_id: str
) -> list[Conversation]:
    return list(
        await session.scalars(
            Scope(session, workspace_id)
            .select(Conversation)
            .where(Conversation.contact_id == contact_id)
            .order_by(Conversation.channel)
        )
    )
