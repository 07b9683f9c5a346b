"""The fan-out: a broadcast's audience, a batch at a time, becomes outbox rows.

Streaming and idempotent: members are read in id order after the broadcast's cursor, a
batch's rows and the cursor move are one transaction, and every row carries the key
`bc:<broadcast>:<occurrence>:<contact>` under the outbox's unique index — so a worker killed
at any point resumes where the last commit left it and no one gets the message twice.

Every member is written down, sent or not: the allowed are queued (or deferred to their
local time or the throttle's pace), the refused are kept with the policy's reason — the
held-out among them are the ghost exposures measurement compares against — and those no
channel reaches are counted on the broadcast."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.broadcasts.models import Broadcast
from threadline.broadcasts.plan import Planner, Route, Target
from threadline.broadcasts.spec import BroadcastSpec
from threadline.channels.service import sender_state
from threadline.contacts.models import ContactURN
from threadline.kit.scoped import Scope
from threadline.messages.models import Message
from threadline.messages.service import add_history_many, apply_decision, history_row, outbox_row
from threadline.messages.states import MessageState
from threadline.policy.types import Outcome
from threadline.segments import service as segments
from threadline.workspaces.models import Workspace

BATCH = 1000
# Not sent yet: what a restarted fan-out counts as already committed to its budget.
UNSENT = (MessageState.QUEUED, MessageState.DEFERRED, MessageState.HELD, MessageState.SENDING)


def key_for(broadcast_id: str, occurrence: int, contact_id: str) -> str:
    return f"bc:{broadcast_id}:{occurrence}:{contact_id}"


async def next_members(
    session: AsyncSession, workspace: Workspace, audience: Any, after: str | None, size: int
) -> list[str]:
    """The next `size` members after `after` who have an address at all (the others are
    counted once, when the occurrence starts), in id order: never the whole audience."""
    ids = audience.subquery()
    statement = (
        Scope(session, workspace.id)
        .columns(ContactURN, ContactURN.contact_id)
        .where(ContactURN.contact_id.in_(select(ids.c.id)))
        .group_by(ContactURN.contact_id)
        .order_by(ContactURN.contact_id)
        .limit(size)
    )
    if after is not None:
        statement = statement.where(ContactURN.contact_id > after)
    return list(await session.scalars(statement))


async def without_address(session: AsyncSession, workspace: Workspace, audience: Any) -> int:
    """Members with no address at all. NOT EXISTS, not NOT IN: PostgreSQL cannot hash a
    NOT IN over a million ids and ran it as a nested loop (over 18 min on 1 M contacts)."""
    ids = audience.subquery()
    has_one = (
        Scope(session, workspace.id)
        .columns(ContactURN, ContactURN.id)
        .where(ContactURN.contact_id == ids.c.id)
        .exists()
    )
    return int(await session.scalar(select(func.count()).select_from(ids).where(~has_one)) or 0)


async def restore_pending(session: AsyncSession, planner: Planner, broadcast: Broadcast) -> None:
    """A fan-out picked up again (another process, a restart) counts what its earlier
    batches queued and have not sent yet against the budgets and messaging limits."""
    scope = Scope(session, broadcast.workspace_id)
    unsent = (Message.campaign_id == broadcast.id, Message.status.in_(UNSENT))
    spent = await session.scalar(
        scope.columns(Message, func.coalesce(func.sum(Message.cost_estimate), 0)).where(*unsent)
    )
    planner.pending.spent = Decimal(str(spent or 0))
    planner.pending.campaign_spent[broadcast.id] = planner.pending.spent
    for route in planner.routes:
        if route.account.address is None or not _limited(route):
            continue
        rows = await session.execute(
            scope.columns(Message, Message.contact_id, Message.created_at).where(
                *unsent, Message.channel_id == route.account.id
            )
        )
        planner.pending.recipients[route.account.address] = {c: at for c, at in rows.all()}


def _limited(route: Route) -> bool:
    return sender_state(route.account)[1] is not None


async def write_batch(
    session: AsyncSession,
    broadcast: Broadcast,
    spec: BroadcastSpec,
    targets: Sequence[Target],
    now: datetime,
    queued_before: int,
) -> Counter[str]:
    """The batch's outbox rows and their first history lines, in two statements; the
    members no channel reaches are tallied. Returns the batch's tally."""
    tally: Counter[str] = Counter()
    rows: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    pace = _pace(spec, broadcast, queued_before)
    for target in targets:
        tally[target.tally_key] += 1
        if target.decision is None:
            continue
        message = _row(broadcast, spec, target, now)
        if target.decision.outcome is Outcome.ALLOWED:
            message.next_attempt_at = max(target.due, next(pace))
        apply_decision(message, target.decision, now)
        waits = message.next_attempt_at is not None and message.next_attempt_at > now
        if message.status == MessageState.QUEUED and waits:
            # Waiting for its time, it holds back none of the person's other messages.
            message.status = MessageState.DEFERRED
        rows.append(_values(message))
        history.append(history_row(message, message.status, now, detail=_note(broadcast, target)))
    if rows:
        await session.execute(insert(Message), rows)
        await add_history_many(session, history)
    return tally


def _pace(spec: BroadcastSpec, broadcast: Broadcast, queued_before: int) -> Any:
    """The throttle: the n-th allowed message of the occurrence waits n / rate."""
    start = broadcast.started_at or broadcast.created_at
    position = queued_before
    while True:
        if spec.throttle_per_minute is None:
            yield start
        else:
            yield start + timedelta(minutes=position / spec.throttle_per_minute)
        position += 1


def _note(broadcast: Broadcast, target: Target) -> str:
    assert target.route is not None and target.decision is not None
    what = "session message" if target.route.session else "message"
    parts = [f"broadcast {broadcast.name!r} ({broadcast.id}): {what} on {target.route.kind}"]
    if target.decision.detail and target.decision.outcome is not Outcome.ALLOWED:
        parts.append(target.decision.detail)
    return " — ".join(parts)


def _row(broadcast: Broadcast, spec: BroadcastSpec, target: Target, now: datetime) -> Message:
    route, content = target.route, target.content
    assert route is not None and content is not None and target.address is not None
    return outbox_row(
        workspace_id=broadcast.workspace_id,
        contact_id=target.contact_id,
        channel_id=route.account.id,
        address=target.address,
        content=content,
        purpose=spec.purpose,
        topic=spec.topic,
        facts=None if route.session else route.template,
        campaign_id=broadcast.id,
        idempotency_key=key_for(broadcast.id, broadcast.occurrence, target.contact_id),
        now=now,
    )


_COLUMNS = tuple(column.key for column in Message.__table__.columns)


def _values(message: Message) -> dict[str, Any]:
    values = {key: getattr(message, key, None) for key in _COLUMNS}
    values["attempts"] = values["attempts"] or 0
    values["human_agent"] = bool(values["human_agent"])
    return values


async def audience(
    session: AsyncSession, workspace: Workspace, spec: BroadcastSpec, started: datetime
) -> Any:
    """The audience query, evaluated as of the occurrence's start so that every batch of
    it reads the same membership ("bought in the last 30 days" of that moment)."""
    return await segments.members(session, workspace.id, spec.audience, started)
