"""The fan-out: a broadcast's audience, a batch at a time, becomes outbox rows.

Streaming and idempotent: the audience is written down once when the occurrence starts
(`broadcast_members`), members are read from that list in id order after the broadcast's
cursor, a batch's rows, the cursor move and the deletion of the planned members are one
transaction, and every row carries the key
`bc:<broadcast>:<occurrence>:<contact>` under the outbox's unique index — so a worker killed
at any point resumes where the last commit left it and no one gets the message twice.

Every member is written down, sent or not: the allowed are queued (or deferred to their
local time or the throttle's pace), the refused are kept with the policy's reason — the
held-out among them are the ghost exposures measurement compares against — and those no
channel reaches are counted on the broadcast."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, String, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.broadcasts.models import Broadcast, BroadcastMember
from threadline.broadcasts.plan import Planner, Route, Target
from threadline.broadcasts.spec import BroadcastSpec
from threadline.channels.service import sender_state
from threadline.kit.scoped import Scope
from threadline.messages.models import Message
from threadline.messages.service import (
    add_history_many,
    decided_values,
    history_values,
    outbox_values,
)
from threadline.messages.states import MessageState
from threadline.policy.types import Outcome
from threadline.segments import service as segments
from threadline.workspaces.models import Workspace

BATCH = 1000
# Not sent yet: what a restarted fan-out counts as already committed to its budget.
UNSENT = (MessageState.QUEUED, MessageState.DEFERRED, MessageState.HELD, MessageState.SENDING)


def key_for(broadcast_id: str, occurrence: int, contact_id: str) -> str:
    return f"bc:{broadcast_id}:{occurrence}:{contact_id}"


async def materialise(session: AsyncSession, broadcast: Broadcast, audience: Any) -> int:
    """The occurrence's audience written down, with one INSERT … SELECT: the segment is
    evaluated once, in the database, and the batches page through the rows by primary key.
    Returns how many members it has."""
    ids = audience.subquery()
    rows = select(
        literal(broadcast.id, String()),
        literal(broadcast.occurrence, Integer()),
        ids.c.id,
        literal(broadcast.workspace_id, String()),
    ).select_from(ids)
    columns = ["broadcast_id", "occurrence", "contact_id", "workspace_id"]
    await session.execute(insert(BroadcastMember).from_select(columns, rows))
    return await _members_left(session, broadcast)


async def _members_left(session: AsyncSession, broadcast: Broadcast) -> int:
    counted = _of_occurrence(
        Scope(session, broadcast.workspace_id).columns(BroadcastMember, func.count()), broadcast
    )
    return int(await session.scalar(counted) or 0)


def _of_occurrence(statement: Any, broadcast: Broadcast) -> Any:
    return statement.where(
        BroadcastMember.broadcast_id == broadcast.id,
        BroadcastMember.occurrence == broadcast.occurrence,
    )


async def next_members(session: AsyncSession, broadcast: Broadcast, size: int) -> list[str]:
    """The next `size` members after the cursor, in id order, from the materialised list:
    a range of its primary key, whatever the segment and however large the audience."""
    statement = _of_occurrence(
        Scope(session, broadcast.workspace_id).columns(BroadcastMember, BroadcastMember.contact_id),
        broadcast,
    )
    if broadcast.cursor is not None:
        statement = statement.where(BroadcastMember.contact_id > broadcast.cursor)
    ordered = statement.order_by(BroadcastMember.contact_id).limit(size)
    return list(await session.scalars(ordered))


async def planned(session: AsyncSession, broadcast: Broadcast, last: str) -> None:
    """The members up to `last` are planned: their rows go, in the transaction that moves
    the cursor past them (a rollback keeps both), so a finished occurrence leaves none and
    no one big delete holds the database at the end."""
    await session.execute(
        _of_occurrence(Scope(session, broadcast.workspace_id).delete(BroadcastMember), broadcast)
        .where(BroadcastMember.contact_id <= last)
        .execution_options(synchronize_session=False)
    )


async def forget(session: AsyncSession, broadcast: Broadcast) -> None:
    """Every materialised member of the broadcast, gone: it is cancelled (the rest of its
    list), or its fan-out is over (the batches deleted theirs; this makes sure, and takes
    any earlier occurrence's with it)."""
    await session.execute(
        Scope(session, broadcast.workspace_id)
        .delete(BroadcastMember)
        .where(BroadcastMember.broadcast_id == broadcast.id)
        .execution_options(synchronize_session=False)
    )


async def streamed(session: AsyncSession, audience: Any, size: int) -> AsyncIterator[list[str]]:
    """The audience in id order, `size` members at a time, from one evaluation of its query
    through a server-side cursor: for the estimate, which writes nothing. The planner's
    queries run on the same connection between fetches; only a batch is ever in memory."""
    ordered = audience.order_by(None).order_by(audience.selected_columns[0])
    result = await session.stream_scalars(ordered.execution_options(yield_per=size))
    try:
        async for batch in result.partitions(size):
            yield list(batch)
    finally:
        await result.close()


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
        row = _row(broadcast, spec, target, now)
        if target.decision.outcome is Outcome.ALLOWED:
            row["next_attempt_at"] = max(target.due, next(pace))
        row.update(decided_values(target.decision, now, row["next_attempt_at"]))
        waits = row["next_attempt_at"] is not None and row["next_attempt_at"] > now
        if row["status"] == MessageState.QUEUED and waits:
            # Waiting for its time, it holds back none of the person's other messages.
            row["status"] = MessageState.DEFERRED
        rows.append(row)
        history.append(
            history_values(
                broadcast.workspace_id, row["id"], row["status"], now,
                detail=_note(broadcast, target),
            )
        )  # fmt: skip
    if rows:
        # Plain column values and Core inserts: ORM objects built only to be read back, and
        # the ORM's bulk-insert bookkeeping, cost more per row than the database's work.
        await session.execute(insert(Message.__table__), rows)  # type: ignore[arg-type]
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


def _row(
    broadcast: Broadcast, spec: BroadcastSpec, target: Target, now: datetime
) -> dict[str, Any]:
    """The message's every column (a multi-row insert needs the same keys in each row)."""
    route, content = target.route, target.content
    assert route is not None and content is not None and target.address is not None
    values = outbox_values(
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
    return {**_UNSET, **values}


# Columns outbox_values leaves out are NULL, as an ORM object's unset attributes were.
_UNSET: dict[str, Any] = {column.key: None for column in Message.__table__.columns}


async def audience(
    session: AsyncSession, workspace: Workspace, spec: BroadcastSpec, started: datetime
) -> Any:
    """The audience query, evaluated as of the occurrence's start so that every batch of
    it reads the same membership ("bought in the last 30 days" of that moment)."""
    return await segments.members(session, workspace.id, spec.audience, started)
