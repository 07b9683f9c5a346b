"""Guardrails: a broadcast that is hurting the sender pauses itself and says why.

Read over its messages that moved in the last `window` (a sliding window), once enough of
them went out to mean something: failures (bounces, undeliverable), opt-outs by people who
got it, blocks and spam reports (a complaint, a block, a closed chat: a revocation of every
topic; the platform's spam-rate limit), a RED quality rating on a number it sends from, and
its budget spent. The pause holds its unsent messages; only a person resumes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.broadcasts.models import Broadcast
from threadline.broadcasts.plan import Route
from threadline.broadcasts.spec import BroadcastSpec
from threadline.channels.errors import ErrorClass
from threadline.channels.service import sender_state
from threadline.consent.models import ConsentEvent
from threadline.consent.projection import ANY, Action
from threadline.kit.scoped import Scope
from threadline.messages.models import Message
from threadline.messages.states import MessageState as S
from threadline.policy import pressure
from threadline.policy.types import Quality

_OUT = (S.ACCEPTED, S.SENT, S.DELIVERED, S.READ, S.PLAYED, S.FAILED)
_BLOCKING = (ErrorClass.SPAM_LIMIT.value, ErrorClass.POLICY_BLOCK.value)


@dataclass(frozen=True, slots=True)
class Reading:
    sent: int  # messages that went out (or failed) in the window
    failed: int
    opted_out: int
    blocked: int

    def rate(self, count: int) -> float:
        return count / self.sent if self.sent else 0.0


async def read(
    session: AsyncSession, broadcast: Broadcast, spec: BroadcastSpec, now: datetime
) -> Reading:
    scope = Scope(session, broadcast.workspace_id)
    since = now - timedelta(minutes=spec.guardrails.window_minutes)
    ours = (Message.campaign_id == broadcast.id, Message.updated_at >= since)
    rows = await session.execute(
        scope.columns(Message, Message.status, Message.error_class, func.count())
        .where(*ours, Message.status.in_(_OUT))
        .where((Message.error_class.is_(None)) | (Message.error_class != ErrorClass.NOT_SENT))
        .group_by(Message.status, Message.error_class)
    )
    sent = failed = blocked = 0
    for status, error_class, count in rows.all():
        sent += count
        if status == S.FAILED:
            failed += count
            blocked += count if error_class in _BLOCKING else 0
    recipients = scope.columns(Message, Message.contact_id).where(
        Message.campaign_id == broadcast.id, Message.status.in_(_OUT)
    )
    start = max(since, broadcast.started_at or since)
    revoked = await session.execute(
        scope.columns(
            ConsentEvent, ConsentEvent.topic, func.count(func.distinct(ConsentEvent.contact_id))
        )
        .where(
            ConsentEvent.action == Action.REVOKE,
            ConsentEvent.occurred_at >= start,
            ConsentEvent.contact_id.in_(recipients),
        )
        .group_by(ConsentEvent.topic)
    )
    opted_out = 0
    for topic, count in revoked.all():
        opted_out += count
        blocked += count if topic == ANY else 0
    return Reading(sent=sent, failed=failed, opted_out=opted_out, blocked=blocked)


def _over(what: str, count: int, reading: Reading, limit: float, window: int) -> str | None:
    rate = reading.rate(count)
    if rate <= limit:
        return None
    return (
        f"{what} {rate:.1%} over the last {window} min ({count} of {reading.sent} sent) "
        f"is above the {limit:.1%} threshold"
    )


async def why_pause(
    session: AsyncSession,
    broadcast: Broadcast,
    spec: BroadcastSpec,
    routes: list[Route],
    now: datetime,
) -> str | None:
    """The guardrail the broadcast has crossed, in words; None while it is within bounds."""
    rails = spec.guardrails
    for route in routes:
        quality, _limit = sender_state(route.account)
        if rails.pause_on_red_quality and Quality(quality) is Quality.RED:
            return f"quality of {route.kind} sender {route.account.address} is RED"
    if spec.budget is not None:
        spent = await pressure.spent_by_campaign(session, broadcast.workspace_id, {broadcast.id})
        used = spent.get(broadcast.id, Decimal(0))
        if used >= spec.budget:
            return f"budget spent: {used} of {spec.budget}"
    reading = await read(session, broadcast, spec, now)
    if reading.sent < rails.min_sample:
        return None
    window = rails.window_minutes
    return (
        _over("failure rate", reading.failed, reading, rails.max_failure_rate, window)
        or _over("block/report rate", reading.blocked, reading, rails.max_block_rate, window)
        or _over("opt-out rate", reading.opted_out, reading, rails.max_opt_out_rate, window)
    )
