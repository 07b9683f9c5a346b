"""How many messages go out per day and channel: broadcasts (counted where their messages
exist, estimated where they do not yet) and automations (counted for past days, projected
for the days to come).

Every count groups by a day index computed in SQL from the days' UTC boundaries (one CASE
branch per day), so one query covers the whole range on SQLite and PostgreSQL alike, with
days that are 23 or 25 hours long across a DST change."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.broadcasts.plan import routes_for
from threadline.broadcasts.spec import BroadcastSpec
from threadline.calendar.span import Span
from threadline.channels import registry
from threadline.channels.kinds import Channel
from threadline.channels.service import for_workspace
from threadline.contacts.models import ContactURN
from threadline.flows.models import FlowSession
from threadline.flows.runner import REPLY_TRIGGERS
from threadline.kit.errors import InvalidInput
from threadline.kit.scoped import Scope
from threadline.messages.models import Message
from threadline.messages.states import MessageState
from threadline.policy.types import Purpose
from threadline.segments import service as segments
from threadline.workspaces.models import Workspace

# Messages that left or are on their way. Refused ones (ghost exposures included) and
# failed ones never reach anyone, so they are no volume and no pressure.
WENT = (
    MessageState.QUEUED, MessageState.DEFERRED, MessageState.HELD, MessageState.SENDING,
    MessageState.ACCEPTED, MessageState.SENT, MessageState.DELIVERED, MessageState.READ,
    MessageState.PLAYED,
)  # fmt: skip
HISTORY_DAYS = 28  # four of each weekday: the basis of a projection


@dataclass
class Reach:
    """A broadcast's estimated recipients: its members with an address on a channel it
    travels by, each counted once, on the first such channel of its order."""

    channels: list[Channel] = field(default_factory=list)
    by_channel: dict[str, int] = field(default_factory=dict)
    problem: str | None = None  # why it cannot be estimated (an audience that no longer runs)


def day_index(column: Any, boundaries: Sequence[datetime]) -> ColumnElement[int]:
    """0 for a moment on the first day, 1 on the second..., -1 outside the days."""
    branches = [(column < end, i) for i, end in enumerate(boundaries[1:])]
    return case(*branches, else_=-1)


async def kinds_by_channel_id(session: AsyncSession, workspace_id: str) -> dict[str, str]:
    return {c.id: c.kind for c in await for_workspace(session, workspace_id)}


def automated_sessions(session: AsyncSession, workspace_id: str) -> Any:
    """Flow sessions that started on their own (an event, a schedule, an API call), not as a
    reply to a person: their messages are the automations' volume."""
    return (
        Scope(session, workspace_id)
        .columns(FlowSession, FlowSession.id)
        .where(FlowSession.trigger.not_in(REPLY_TRIGGERS))
    )


async def automation_counts(
    session: AsyncSession, workspace_id: str, span: Span, days: list[date]
) -> dict[date, Counter[str]]:
    """Automation messages per day (of `days`, consecutive) and channel type."""
    if not days:
        return {}
    bounds = span.boundaries(days)
    index = day_index(Message.created_at, bounds)
    rows = await session.execute(
        Scope(session, workspace_id)
        .columns(Message, index, Message.channel_id, func.count())
        .where(
            Message.direction == "out",
            Message.status.in_(WENT),
            Message.flow_session_id.in_(automated_sessions(session, workspace_id)),
            Message.created_at >= bounds[0],
            Message.created_at < bounds[-1],
        )
        .group_by(index, Message.channel_id)
    )
    kinds = await kinds_by_channel_id(session, workspace_id)
    found: dict[date, Counter[str]] = {d: Counter() for d in days}
    for i, channel_id, n in rows.all():
        if i >= 0:
            found[days[i]][kinds.get(channel_id, "unknown")] += int(n)
    return found


def history_days(span: Span) -> list[date]:
    return [span.today - timedelta(days=HISTORY_DAYS - i) for i in range(HISTORY_DAYS)]


def projection(history: dict[date, Counter[str]], day: date) -> dict[str, float]:
    """The average of the same weekday in the history, per channel (weekly rhythms are
    strong: a Monday is not a Sunday)."""
    same = [counts for d, counts in history.items() if d.weekday() == day.weekday()]
    if not same:
        return {}
    total: Counter[str] = Counter()
    for counts in same:
        total.update(counts)
    return {kind: round(n / len(same), 1) for kind, n in sorted(total.items()) if n}


async def broadcast_sent(
    session: AsyncSession, workspace_id: str, broadcast_id: str, numbers: Sequence[int]
) -> dict[int, Counter[str]]:
    """The messages of these occurrences of a broadcast, per occurrence and channel type,
    told apart by their idempotency key `bc:<id>:<occurrence>:<contact>`."""
    if not numbers:
        return {}
    which = case(
        *((Message.idempotency_key.like(f"bc:{broadcast_id}:{n}:%"), n) for n in numbers),
        else_=0,
    )
    rows = await session.execute(
        Scope(session, workspace_id)
        .columns(Message, which, Message.channel_id, func.count())
        .where(Message.campaign_id == broadcast_id, Message.status.in_(WENT))
        .group_by(which, Message.channel_id)
    )
    kinds = await kinds_by_channel_id(session, workspace_id)
    found: dict[int, Counter[str]] = defaultdict(Counter)
    for number, channel_id, n in rows.all():
        if number:
            found[int(number)][kinds.get(channel_id, "unknown")] += int(n)
    return found


async def channels_of(
    session: AsyncSession, workspace: Workspace, spec: BroadcastSpec
) -> list[Channel] | str:
    """The channel types the broadcast travels by, in its order (the fan-out's own routes:
    channels without an account or unable to carry the content are left out), or why it
    has none."""
    try:
        routes = await routes_for(session, workspace, spec)
    except InvalidInput as exc:
        return exc.message
    return list(dict.fromkeys(route.kind for route in routes))


async def reach(
    session: AsyncSession,
    workspace: Workspace,
    spec: BroadcastSpec,
    channels: list[Channel],
    now: datetime,
) -> Reach:
    """Cheap on purpose: one grouped count over the audience, with no policy decision per
    member (the broadcast's estimate does that, member by member, for one broadcast)."""
    try:
        query = await segments.members(session, workspace.id, spec.audience, now)
    except InvalidInput as exc:
        return Reach(channels, problem=exc.message)
    rank = {registry.urn_scheme_for(kind): i for i, kind in enumerate(channels)}
    first = (
        Scope(session, workspace.id)
        .columns(ContactURN, ContactURN.contact_id, func.min(case(rank, value=ContactURN.scheme))
                 .label("rank"))
        .where(ContactURN.contact_id.in_(select(query.subquery().c.id)),
               ContactURN.scheme.in_(list(rank)))
        .group_by(ContactURN.contact_id)
        .subquery()
    )  # fmt: skip
    rows = await session.execute(select(first.c.rank, func.count()).group_by(first.c.rank))
    counts = {channels[int(i)].value: int(n) for i, n in rows.all()}
    return Reach(channels, {kind.value: counts.get(kind.value, 0) for kind in channels})


def is_marketing(spec: BroadcastSpec) -> bool:
    return spec.purpose is Purpose.MARKETING
