"""The content calendar of a workspace over a range of days: every broadcast occurrence on
its day with its recipients by channel (counted once its messages exist, estimated before),
the automations' messages per day and channel (counted for past days, projected for the
days to come), and the frequency pressure on each segment the broadcasts address."""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.broadcasts.models import Broadcast
from threadline.broadcasts.service import spec_of
from threadline.broadcasts.states import BroadcastState
from threadline.calendar import audiences, volume
from threadline.calendar.occurrences import UPCOMING, Occurrence, occurrences
from threadline.calendar.pressure import CapPressure, Send, pressure
from threadline.calendar.span import Span
from threadline.channels.kinds import Channel
from threadline.kit.scoped import Scope
from threadline.policy.types import FrequencyCap
from threadline.workspaces.models import Workspace
from threadline.workspaces.service import settings_of

BASES = {
    "estimate": "members with an address on a channel the broadcast travels by, each on the "
    "first such channel of its order, as of now; consent, caps and quiet hours are not "
    "applied (POST /api/v1/broadcasts/{id}/estimate does, member by member)",
    "sent": "its messages, on their way or delivered (refused and failed ones excluded)",
    "sending": "its messages so far: the fan-out is under way or paused",
}
AUTOMATION_BASES = {
    "actual": "messages of flows that started on their own (event, schedule, API)",
    "actual_so_far": "today's messages of such flows until now",
    "projected": f"the average of the same weekday over the last {volume.HISTORY_DAYS} days",
}


@dataclass
class Entry:
    """A broadcast occurrence on its day, with its recipients by channel type."""

    occurrence: Occurrence
    channels: list[str]
    recipients: dict[str, int]
    basis: str
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        o = self.occurrence
        return {
            "id": o.broadcast.id,
            "name": o.broadcast.name,
            "status": o.broadcast.status,
            "purpose": o.spec.purpose.value,
            "audience": o.spec.audience,
            "occurrence": o.number,
            "time": o.time,
            "local_time": o.local_time,
            "at": o.moment,
            "channels": self.channels,
            "recipients": self.recipients,
            "recipients_basis": self.basis,
            "problem": self.problem,
        }


@dataclass
class Day:
    day: date
    broadcasts: list[Entry] = field(default_factory=list)
    automations: dict[str, float] = field(default_factory=dict)
    automations_basis: str = "actual"

    def broadcast_totals(self) -> Counter[str]:
        found: Counter[str] = Counter()
        for entry in self.broadcasts:
            found.update(entry.recipients)
        return found

    def totals(self) -> dict[str, float]:
        found: dict[str, float] = dict(self.broadcast_totals())
        for kind, n in self.automations.items():
            found[kind] = found.get(kind, 0) + n
        return {kind: _number(n) for kind, n in sorted(found.items()) if n}

    def as_dict(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "weekday": f"{self.day:%a}",
            "broadcasts": [entry.as_dict() for entry in self.broadcasts],
            "automations": self.automations,
            "automations_basis": self.automations_basis,
            "totals": self.totals(),
        }


@dataclass
class SegmentPressure:
    audience: str
    members: int
    broadcasts: list[dict[str, str]]
    also_reached_by: list[dict[str, Any]]
    caps: list[CapPressure]

    @property
    def over_cap(self) -> bool:
        return any(cap.over for cap in self.caps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "audience": self.audience,
            "members": self.members,
            "broadcasts": self.broadcasts,
            "also_reached_by": self.also_reached_by,
            "over_cap": self.over_cap,
            "at_risk": any(cap.at_risk for cap in self.caps),
            "warnings": [m for cap in self.caps if (m := cap.message())],
            "pressure": [cap.as_dict() for cap in self.caps],
        }


@dataclass
class Calendar:
    span: Span
    days: list[Day]
    segments: list[SegmentPressure]

    def totals(self) -> dict[str, float]:
        found: dict[str, float] = {}
        for day in self.days:
            for kind, n in day.totals().items():
                found[kind] = found.get(kind, 0) + n
        return {kind: _number(n) for kind, n in sorted(found.items())}

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.span.first.isoformat(),
            "to": self.span.last.isoformat(),
            "zone": self.span.zone,
            "today": self.span.today.isoformat(),
            "recipients_bases": BASES,
            "automations_bases": AUTOMATION_BASES,
            "days": [day.as_dict() for day in self.days],
            "totals": self.totals(),
            "segments": [s.as_dict() for s in self.segments],
        }


async def calendar(
    session: AsyncSession, workspace: Workspace, span: Span, now: datetime
) -> Calendar:
    caps = settings_of(workspace).caps()
    # Occurrences up to the longest cap's window before the range fill the first windows.
    before = math.ceil(max((c.window for c in caps), default=timedelta(0)) / timedelta(days=1))
    found = await _occurrences(session, workspace.id, span, span.first - timedelta(before), now)
    shown = [o for o in found if o.day >= span.first]
    routes = _Routes(session, workspace)
    entries = await _entries(session, workspace.id, shown, routes, now)
    days = await _days(session, workspace.id, span, entries)
    segments = await _pressures(session, workspace, span, found, shown, caps, routes, now)
    return Calendar(span, days, segments)


async def _occurrences(
    session: AsyncSession, workspace_id: str, span: Span, first: date, now: datetime
) -> list[Occurrence]:
    """Every occurrence from `first` to the range's end, of the broadcasts that are live or
    changed since (a broadcast that finished before then has nothing on these days)."""
    rows = await session.scalars(
        Scope(session, workspace_id)
        .select(Broadcast)
        .where(
            Broadcast.status != BroadcastState.DRAFT,
            or_(Broadcast.status.in_(UPCOMING), Broadcast.updated_at >= span.start_of(first)),
        )
        .order_by(Broadcast.created_at, Broadcast.id)
    )
    found: list[Occurrence] = []
    for broadcast in rows:
        found += occurrences(broadcast, spec_of(broadcast), span, first, now)
    return sorted(found, key=lambda o: (o.moment, o.broadcast.id))


class _Routes:
    """Each broadcast's channels and estimate, worked out once per request."""

    def __init__(self, session: AsyncSession, workspace: Workspace) -> None:
        self.session, self.workspace = session, workspace
        self._channels: dict[str, list[Channel] | str] = {}
        self._reach: dict[str, volume.Reach] = {}

    async def channels(self, o: Occurrence) -> list[Channel] | str:
        key = o.broadcast.id
        if key not in self._channels:
            self._channels[key] = await volume.channels_of(self.session, self.workspace, o.spec)
        return self._channels[key]

    async def reach(self, o: Occurrence, now: datetime) -> volume.Reach:
        key = o.broadcast.id
        if key not in self._reach:
            channels = await self.channels(o)
            self._reach[key] = (
                volume.Reach(problem=channels)
                if isinstance(channels, str)
                else await volume.reach(self.session, self.workspace, o.spec, channels, now)
            )
        return self._reach[key]


async def _entries(
    session: AsyncSession,
    workspace_id: str,
    shown: Sequence[Occurrence],
    routes: _Routes,
    now: datetime,
) -> list[Entry]:
    """Started occurrences with their messages (one query per broadcast for all of them),
    the others with the broadcast's estimate (one per broadcast)."""
    started: dict[str, list[int]] = {}
    for o in shown:
        if o.started:
            started.setdefault(o.broadcast.id, []).append(o.number)
    sent = {
        broadcast_id: await volume.broadcast_sent(session, workspace_id, broadcast_id, numbers)
        for broadcast_id, numbers in started.items()
    }
    entries = []
    for o in shown:
        channels = await routes.channels(o)
        kinds = [] if isinstance(channels, str) else [k.value for k in channels]
        if o.started:
            counts = sent[o.broadcast.id].get(o.number, Counter())
            entries.append(Entry(o, kinds, dict(sorted(counts.items())), _started_basis(o)))
            continue
        found = await routes.reach(o, now)
        entries.append(Entry(o, kinds, found.by_channel, "estimate", found.problem))
    return entries


def _started_basis(o: Occurrence) -> str:
    live = BroadcastState(o.broadcast.status) in (BroadcastState.SENDING, BroadcastState.PAUSED)
    return "sending" if live and o.number == o.broadcast.occurrence else "sent"


async def _days(
    session: AsyncSession, workspace_id: str, span: Span, entries: list[Entry]
) -> list[Day]:
    days = {d: Day(d) for d in span.days}
    for entry in entries:
        days[entry.occurrence.day].broadcasts.append(entry)
    past = [d for d in span.days if d <= span.today]
    for d, counts in (await volume.automation_counts(session, workspace_id, span, past)).items():
        days[d].automations = dict(sorted(counts.items()))
        days[d].automations_basis = "actual_so_far" if d == span.today else "actual"
    future = [d for d in span.days if d > span.today]
    if future:
        history = await volume.automation_counts(
            session, workspace_id, span, volume.history_days(span)
        )
        for d in future:
            days[d].automations = volume.projection(history, d)
            days[d].automations_basis = "projected"
    return list(days.values())


async def _pressures(
    session: AsyncSession,
    workspace: Workspace,
    span: Span,
    found: Sequence[Occurrence],
    shown: Sequence[Occurrence],
    caps: Sequence[FrequencyCap],
    routes: _Routes,
    now: datetime,
) -> list[SegmentPressure]:
    """Per segment a marketing broadcast of the range addresses: its members' busiest
    window per cap, from its own broadcasts, those whose audience holds all of its members,
    and (for some members) those that share only part of them."""
    marketing = [o for o in found if volume.is_marketing(o.spec)]
    by_audience: dict[str, list[Occurrence]] = {}
    for o in marketing:
        by_audience.setdefault(o.spec.audience, []).append(o)
    addressed = sorted({o.spec.audience for o in shown if volume.is_marketing(o.spec)})
    queries = await audiences.compiled(session, workspace.id, set(by_audience), now)
    sends = {text: [await _send(o, routes) for o in occs] for text, occs in by_audience.items()}
    result = []
    for text in addressed:
        if text not in queries:
            continue
        result.append(
            await _segment(session, workspace, span, text, queries, sends, by_audience, caps, now)
        )
    return sorted(result, key=lambda s: (not s.over_cap, s.audience))


async def _segment(
    session: AsyncSession,
    workspace: Workspace,
    span: Span,
    text: str,
    queries: dict[str, Any],
    sends: dict[str, list[Send]],
    by_audience: dict[str, list[Occurrence]],
    caps: Sequence[FrequencyCap],
    now: datetime,
) -> SegmentPressure:
    members = await audiences.size(session, queries[text])
    every, some = list(sends[text]), list[Send]()
    others: list[dict[str, Any]] = []
    for other, query in queries.items():
        if other == text or not members:
            continue
        shared = await audiences.overlap(session, queries[text], query)
        if shared == 0:
            continue
        (every if shared == members else some).extend(sends[other])
        for b in {o.broadcast.id: o.broadcast for o in by_audience[other]}.values():
            others.append({"id": b.id, "name": b.name, "audience": other, "shared_members": shared})
    rate = await audiences.automation_per_member_day(
        session, workspace.id, queries[text], members, now
    )
    own = {o.broadcast.id: o.broadcast.name for o in by_audience[text]}
    return SegmentPressure(
        audience=text,
        members=members,
        broadcasts=[{"id": k, "name": v} for k, v in own.items()],
        also_reached_by=others,
        caps=pressure(text, caps, every, some, rate, since=span.start_of(span.first)),
    )


async def _send(o: Occurrence, routes: _Routes) -> Send:
    channels = await routes.channels(o)
    kinds = frozenset(k.value for k in channels) if not isinstance(channels, str) else frozenset()
    return Send(o.moment, o.broadcast.id, o.broadcast.name, kinds)


def _number(n: float) -> float:
    return int(n) if float(n).is_integer() else round(n, 1)


def to_csv(found: Calendar) -> str:
    """One row per day and channel type: broadcast recipients, automation messages, total."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", "channel", "broadcasts", "automations", "automations_basis", "total"])
    for day in found.days:
        sent = day.broadcast_totals()
        for kind, total in day.totals().items():
            writer.writerow([
                day.day.isoformat(), kind, sent.get(kind, 0), _number(day.automations.get(kind, 0)),
                day.automations_basis, total,
            ])  # fmt: skip
    return out.getvalue()
