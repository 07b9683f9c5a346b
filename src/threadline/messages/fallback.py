"""Fallback: a message sent by the contact strategy that is not delivered on its channel in
time, or fails as undeliverable there, goes out once on the strategy's next channel that may
take it. All attempts share one logical id, so the message is one thing with several tries.

Delivering twice is the failure to avoid. A failed attempt cannot arrive late, so a failure
always falls back. A timed fallback is only armed when the first channel is known to stop
trying by then: the send sets its own validity (SMS's ValidityPeriod = the horizon), or the
platform's delivery TTL (a WhatsApp template's, or its category default) is no longer than the
horizon. Otherwise the first attempt's history says that only a failure will fall back."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from threadline.channels import messages as content_types
from threadline.channels import registry
from threadline.channels.errors import ErrorClass
from threadline.channels.kinds import Channel
from threadline.channels.models import ChannelAccount
from threadline.channels.service import for_workspace
from threadline.kit.clock import Clock
from threadline.kit.db import transaction
from threadline.kit.errors import InvalidInput
from threadline.kit.scoped import Scope
from threadline.messages import service as messages
from threadline.messages import strategy
from threadline.messages.models import Message
from threadline.messages.states import MessageState
from threadline.policy.types import Purpose, TemplateFacts
from threadline.workspaces.models import Workspace

log = logging.getLogger("threadline.fallback")

# Failures that mean "not on this channel": the next one is tried at once.
FALLBACK_CLASSES = frozenset({ErrorClass.UNDELIVERABLE, ErrorClass.WINDOW_CLOSED})
# Not delivered yet: a timed fallback still applies.
UNDELIVERED = frozenset(
    {
        MessageState.QUEUED,
        MessageState.DEFERRED,
        MessageState.HELD,
        MessageState.SENDING,
        MessageState.ACCEPTED,
        MessageState.SENT,
    }
)
# Never sent: falling back, the attempt is withdrawn so it cannot go out later.
NOT_YET_SENT = frozenset({MessageState.QUEUED, MessageState.DEFERRED, MessageState.HELD})
MAX_HORIZON = timedelta(days=30)


def effective_ttl(
    kind: Channel, purpose: str, facts: TemplateFacts | None, horizon: int
) -> timedelta | None:
    """How long the channel may go on trying this attempt (None: nobody knows)."""
    rules = registry.rules_for(kind)
    if rules.settable_ttl_max is not None and horizon <= rules.settable_ttl_max.total_seconds():
        return timedelta(seconds=horizon)  # the send sets it
    if facts is not None and facts.ttl_seconds is not None:
        return timedelta(seconds=facts.ttl_seconds)
    return rules.ttl_for(purpose)


def ttl_to_set(kind: Channel, message: Message) -> int | None:
    """The validity a send sets itself, on types that can, when a fallback waits for it."""
    limit = registry.rules_for(kind).settable_ttl_max
    if message.fallback_after is None or limit is None:
        return None
    return min(message.fallback_after, int(limit.total_seconds()))


def arm(
    message: Message, kind: Channel, horizon: int, facts: TemplateFacts | None, now: datetime
) -> str | None:
    """Mark a decided attempt for fallback. Returns why only a failure can trigger it, when
    a timed fallback could deliver the message twice."""
    message.logical_id = message.logical_id or message.id
    message.fallback_after = horizon
    if message.status == MessageState.REFUSED:
        return None
    ttl = effective_ttl(kind, message.purpose or Purpose.SERVICE.value, facts, horizon)
    if ttl is not None and ttl.total_seconds() <= horizon:
        start = max(message.next_attempt_at or now, now)
        message.fallback_at = start + timedelta(seconds=horizon)
        return None
    lasts = f"up to {_span(ttl)}" if ttl is not None else "for an unknown time"
    return (
        f"timed fallback off: {kind.value} may deliver this {lasts}, past the {horizon} s "
        "horizon, so a late delivery could double it; only a failure falls back"
    )


def _span(ttl: timedelta) -> str:
    seconds = int(ttl.total_seconds())
    if seconds % 86_400 == 0:
        return f"{seconds // 86_400} days"
    return f"{seconds} s"


async def enqueue(
    session: AsyncSession,
    workspace: Workspace,
    request: messages.SendRequest,
    now: datetime,
    horizon: int,
) -> tuple[Message, list[strategy.Rung]]:
    """Send by the contact strategy, falling back along it after `horizon` seconds or at
    an undeliverable failure."""
    if not 1 <= horizon <= MAX_HORIZON.total_seconds():
        raise InvalidInput(
            f"fallback_after must be 1 to {int(MAX_HORIZON.total_seconds())} seconds",
            where="fallback_after",
        )
    message, rungs = await strategy.enqueue(session, workspace, request, now)
    chosen = strategy.chosen(rungs)
    if message.fallback_after is None and chosen is not None:
        note = arm(message, chosen.kind, horizon, chosen.template, now)
        if note:
            await messages.add_history(session, message, message.status, now, detail=note)
    return message, rungs


async def failed(
    session: AsyncSession, message: Message, error_class: ErrorClass, at: datetime
) -> None:
    """A failed attempt falls back at once if the failure says "not on this channel"; any
    other failure (our request was wrong, the account is blocked) stops the fallback."""
    if message.fallback_after is None:
        return
    due = at if error_class in FALLBACK_CLASSES else None
    await session.execute(
        Scope(session, message.workspace_id)
        .update(Message)
        .where(Message.id == message.id)
        .values(fallback_at=due)
        .execution_options(synchronize_session=False)
    )


async def run_due(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, limit: int = 100
) -> int:
    """One pass of the worker: every attempt whose fallback is due goes to its next channel."""
    now = clock.now()
    async with transaction(sessions) as session:
        due = await _due(session, now, limit)
        for message in due:
            workspace = await session.get(Workspace, message.workspace_id)
            if workspace is not None:
                await fall_back(session, workspace, message, now)
    return len(due)


async def _due(session: AsyncSession, now: datetime, limit: int) -> Sequence[Message]:
    # Across workspaces, like the outbox: each row is then handled in its own workspace.
    statement = (
        select(Message)
        .where(
            Message.fallback_at.is_not(None),
            Message.fallback_at <= now,
            Message.status.in_([*UNDELIVERED, MessageState.FAILED]),
        )
        .order_by(Message.fallback_at)
        .limit(limit)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return list(await session.scalars(statement))


async def fall_back(
    session: AsyncSession, workspace: Workspace, message: Message, now: datetime
) -> Message | None:
    """Send the attempt's message on the next channel, once; None when none may take it
    (the attempt's history then says why each was skipped)."""
    message.fallback_at = None
    logical_id = message.logical_id or message.id
    accounts = {c.id: c for c in await _accounts(session, workspace.id)}
    tried = {
        Channel(accounts[a.channel_id].kind)
        for a in await _attempts(session, workspace.id, logical_id)
        if a.channel_id in accounts
    }
    why = _why(message)
    request = messages.SendRequest(
        contact_id=message.contact_id,
        purpose=Purpose(message.purpose or Purpose.SERVICE.value),
        content=content_types.CONTENT_ADAPTER.validate_python(message.content),
        topic=message.topic or "marketing",
        campaign_id=message.campaign_id,
        human_agent=message.human_agent,
        idempotency_key=f"fallback:{logical_id}:{len(tried)}",
    )
    rungs = await strategy.ladder(session, workspace, request, now, exclude=frozenset(tried))
    target = strategy.chosen(rungs)
    if message.status in NOT_YET_SENT:
        await _withdraw(session, message, why, now)
    if target is None or target.channel is None:
        detail = f"no fallback ({why}): " + strategy.summary(rungs)
        await messages.add_history(session, message, message.status, now, detail=detail)
        return None
    routed = dataclasses.replace(
        request,
        channel_id=target.channel.id,
        note=f"fallback from {', '.join(sorted(k.value for k in tried))} ({why}); "
        + strategy.summary(rungs),
    )
    attempt = await messages.enqueue(session, workspace, routed, now)
    attempt.logical_id = logical_id
    note = arm(attempt, target.kind, message.fallback_after or 0, target.template, now)
    if note:
        await messages.add_history(session, attempt, attempt.status, now, detail=note)
    await messages.add_history(
        session, message, message.status, now, detail=f"fell back to {target.kind.value}: {why}"
    )
    log.info("message %s fell back to %s (%s)", message.id, target.kind.value, why)
    return attempt


def _why(message: Message) -> str:
    if message.status == MessageState.FAILED:
        return f"failed: {message.error_class or 'error'} {message.error_code or ''}".strip()
    return f"not delivered within {message.fallback_after} s"


async def _withdraw(session: AsyncSession, message: Message, why: str, now: datetime) -> None:
    """An attempt still waiting in the outbox is taken back, so it never goes out late."""
    message.status = MessageState.FAILED
    message.error_class = ErrorClass.NOT_SENT.value
    message.error_detail = f"withdrawn for a fallback ({why})"
    message.next_attempt_at = None
    message.updated_at = now
    await messages.add_history(
        session, message, MessageState.FAILED, now, detail=message.error_detail
    )


async def _attempts(session: AsyncSession, workspace_id: str, logical_id: str) -> list[Message]:
    scope = Scope(session, workspace_id)
    return list(
        await session.scalars(scope.select(Message).where(Message.logical_id == logical_id))
    )


async def _accounts(session: AsyncSession, workspace_id: str) -> list[ChannelAccount]:
    return await for_workspace(session, workspace_id)
