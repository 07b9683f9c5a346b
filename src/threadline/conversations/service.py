"""Recording inbound activity per contact and channel, and reading the windows it opens."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels.kinds import Channel
from threadline.conversations.models import Conversation
from threadline.conversations.windows import window_facts
from threadline.kit.errors import InvalidInput
from threadline.kit.held import Held
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope
from threadline.policy.types import WindowFacts

# Platforms stamp messages with their own clock; one that is far ahead of ours is suspect.
MAX_CLOCK_SKEW = timedelta(minutes=5)

# Conversations a batch has just touched, by (contact id, channel).
_HELD: Held[tuple[str, str], Conversation] = Held("conversations.touched")


@contextmanager
def holding(
    session: AsyncSession, workspace_id: str, touched: Iterable[Conversation]
) -> Iterator[None]:
    """Keep the conversations a batch touched at hand: its replies read each one's window
    again, one statement per reply otherwise. They are the session's own objects, so what
    changes on them later in the block is seen."""
    with _HELD.holding(session, workspace_id, {(c.contact_id, c.channel): c for c in touched}):
        yield


async def get_conversation(
    session: AsyncSession, workspace_id: str, contact_id: str, channel: Channel
) -> Conversation | None:
    held = _HELD.get(session, workspace_id, (contact_id, channel.value))
    if held is not None:
        return held
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


@dataclass(frozen=True, slots=True)
class Touch:
    """A message (or a thread opened from a link or an ad) from the contact on a channel."""

    contact_id: str
    platform_timestamp: datetime
    referral: dict[str, Any] | None = None


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
    touch = Touch(contact_id, platform_timestamp, referral)
    return (await record_inbound_many(session, workspace_id, channel, [touch], now))[0]


async def record_inbound_many(
    session: AsyncSession,
    workspace_id: str,
    channel: Channel,
    touches: Sequence[Touch],
    now: datetime,
) -> list[Conversation]:
    """`record_inbound` for many touches on one channel: one query for the conversations,
    one insert for those that are new, the rest updated in place (in order, so a contact's
    later touch lands on the conversation its earlier one made)."""
    for touch in touches:
        if touch.platform_timestamp > now + MAX_CLOCK_SKEW:
            raise InvalidInput("message timestamp is in the future", where="timestamp")
    contact_ids = {touch.contact_id for touch in touches}
    existing = await _conversations_of(session, workspace_id, channel, contact_ids)
    created = {
        touch.contact_id: _new_conversation(workspace_id, channel, touch, now)
        for touch in reversed(touches)  # the first touch of a contact makes its conversation
        if touch.contact_id not in existing
    }
    try:
        async with session.begin_nested():
            session.add_all(created.values())
    except IntegrityError:
        # Another worker created one first; per-contact ordering makes this rare.
        existing = await _conversations_of(session, workspace_id, channel, contact_ids)
        created = {}
    result: list[Conversation] = []
    for touch in touches:
        made = created.pop(touch.contact_id, None)
        if made is None:
            made = existing[touch.contact_id]
            _touched(made, touch, now)
        existing[touch.contact_id] = made
        result.append(made)
    await session.flush()
    return result


async def _conversations_of(
    session: AsyncSession, workspace_id: str, channel: Channel, contact_ids: set[str]
) -> dict[str, Conversation]:
    found = await session.scalars(
        Scope(session, workspace_id)
        .select(Conversation)
        .where(Conversation.channel == channel.value, Conversation.contact_id.in_(contact_ids))
    )
    return {conversation.contact_id: conversation for conversation in found}


def _new_conversation(
    workspace_id: str, channel: Channel, touch: Touch, now: datetime
) -> Conversation:
    at = touch.platform_timestamp
    entry = {"last_referral": touch.referral, "entry_point_at": at} if touch.referral else {}
    return Conversation(
        id=new_id("cnv"),
        workspace_id=workspace_id,
        contact_id=touch.contact_id,
        channel=channel.value,
        created_at=now,
        updated_at=now,
        last_inbound_at=at,
        **entry,
    )


def _touched(conversation: Conversation, touch: Touch, now: datetime) -> None:
    at = touch.platform_timestamp
    if conversation.last_inbound_at is None or at > conversation.last_inbound_at:
        conversation.last_inbound_at = at
    if touch.referral is not None:
        conversation.last_referral = touch.referral
        if conversation.entry_point_at is None or at > conversation.entry_point_at:
            conversation.entry_point_at = at
    conversation.updated_at = now


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
