"""What messaging cost: estimated before each send (rate card) and actual (the platform's
pricing block), grouped by category, market, template, campaign or day."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels.models import ChannelAccount
from threadline.kit.scoped import Scope
from threadline.messages.models import Message
from threadline.messages.states import MessageState
from threadline.policy.service import stored_urn
from threadline.pricing import market_for

GroupBy = Literal["category", "market", "template", "campaign", "day", "channel"]
GROUPS: tuple[GroupBy, ...] = ("category", "market", "template", "campaign", "day", "channel")
# Messages that may cost something: left (or about to), not refused or never sent.
COUNTED = tuple(
    state.value
    for state in (
        MessageState.QUEUED,
        MessageState.SENDING,
        MessageState.ACCEPTED,
        MessageState.SENT,
        MessageState.DELIVERED,
        MessageState.READ,
        MessageState.PLAYED,
        MessageState.FAILED,
    )
)


@dataclass
class Line:
    key: str
    messages: int = 0
    billable: int = 0
    estimated: Decimal = Decimal(0)
    actual: Decimal = Decimal(0)
    priced: int = 0  # messages with an actual cost from the platform

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "messages": self.messages,
            "billable": self.billable,
            "estimated": str(self.estimated),
            "actual": str(self.actual),
            "priced": self.priced,
        }


@dataclass
class CostReport:
    group_by: GroupBy
    since: datetime
    until: datetime
    lines: list[Line] = field(default_factory=list)
    total: Line = field(default_factory=lambda: Line(key="total"))

    def as_dict(self) -> dict[str, object]:
        return {
            "group_by": self.group_by,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "currency": "USD",
            "lines": [line.as_dict() for line in self.lines],
            "total": self.total.as_dict(),
        }


def _key(group_by: GroupBy, message: Message, kinds: dict[str, str]) -> str:
    if group_by == "channel":
        return kinds.get(message.channel_id, "unknown")
    if group_by == "category":
        return message.template_category or message.purpose or "service"
    if group_by == "market":
        phone = stored_urn(message.address).phone_e164
        return (market_for(phone) if phone else None) or "unknown"
    if group_by == "template":
        return message.template_name or "(free-form)"
    if group_by == "campaign":
        return message.campaign_id or "(none)"
    return message.created_at.date().isoformat()


async def cost_report(
    session: AsyncSession,
    workspace_id: str,
    *,
    group_by: GroupBy,
    since: datetime,
    until: datetime,
) -> CostReport:
    scope = Scope(session, workspace_id)
    kinds: dict[str, str] = dict(
        (
            await session.execute(
                scope.columns(ChannelAccount, ChannelAccount.id, ChannelAccount.kind)
            )
        ).all()
    )
    rows = await session.scalars(
        scope.select(Message).where(
            Message.direction == "out",
            Message.status.in_(COUNTED),
            Message.created_at >= since,
            Message.created_at < until,
        )
    )
    lines: dict[str, Line] = defaultdict(lambda: Line(key=""))
    report = CostReport(group_by=group_by, since=since, until=until)
    for message in rows:
        key = _key(group_by, message, kinds)
        line = lines[key]
        line.key = key
        for target in (line, report.total):
            target.messages += 1
            estimated = message.cost_estimate or Decimal(0)
            target.estimated += estimated
            target.billable += estimated > 0
            if message.cost_actual is not None:
                target.actual += message.cost_actual
                target.priced += 1
    report.lines = sorted(lines.values(), key=lambda line: (-line.estimated, line.key))
    return report


def to_csv(report: CostReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([report.group_by, "messages", "billable", "estimated", "actual", "priced"])
    for line in [*report.lines, report.total]:
        writer.writerow(
            [line.key, line.messages, line.billable, line.estimated, line.actual, line.priced]
        )
    return out.getvalue()
