"""Where a broadcast's sending is: its messages counted by state and by the policy's
reason, in one grouped query, beside the members no channel reached."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.broadcasts.models import Broadcast
from threadline.broadcasts.plan import MISSING_VALUE, NO_ADDRESS
from threadline.kit.scoped import Scope
from threadline.messages.models import Message
from threadline.messages.states import MessageState as S

WAITING = frozenset({S.QUEUED, S.DEFERRED, S.HELD, S.SENDING})
# A state counts for every stage of the funnel it has passed.
_REACHED = {
    "sent": frozenset({S.ACCEPTED, S.SENT, S.DELIVERED, S.READ, S.PLAYED}),
    "delivered": frozenset({S.DELIVERED, S.READ, S.PLAYED}),
    "read": frozenset({S.READ, S.PLAYED}),
}


@dataclass
class Progress:
    audience: int | None
    planned: int  # members the fan-out has decided so far
    states: Counter[str] = field(default_factory=Counter)
    suppressed: Counter[str] = field(default_factory=Counter)  # refused, by reason
    deferred: Counter[str] = field(default_factory=Counter)  # waiting on a rule, by reason
    unreached: Counter[str] = field(default_factory=Counter)

    def funnel(self) -> dict[str, int]:
        counts = {"queued": sum(self.states[s] for s in WAITING)}
        for stage, states in _REACHED.items():
            counts[stage] = sum(self.states[s] for s in states)
        counts["failed"] = self.states[S.FAILED]
        counts["suppressed"] = sum(self.suppressed.values()) + sum(self.unreached.values())
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {
            "audience": self.audience,
            "planned": self.planned,
            **self.funnel(),
            "by_state": dict(self.states),
            "suppressed_by_reason": dict((self.suppressed + self.unreached).most_common()),
            "deferred_by_reason": dict(self.deferred.most_common()),
        }


async def progress_of(session: AsyncSession, broadcast: Broadcast) -> Progress:
    """Counts over every occurrence's messages; `planned` and `unreached` are the current
    occurrence's."""
    rows = await session.execute(
        Scope(session, broadcast.workspace_id)
        .columns(Message, Message.status, Message.reason, func.count())
        .where(Message.campaign_id == broadcast.id)
        .group_by(Message.status, Message.reason)
    )
    tally = broadcast.tally or {}
    found = Progress(audience=broadcast.audience_total, planned=sum(tally.values()))
    for status, reason, count in rows.all():
        found.states[status] += count
        if status == S.REFUSED:
            found.suppressed[reason or "refused"] += count
        elif status == S.DEFERRED and reason:
            found.deferred[reason] += count
    for key in (NO_ADDRESS, MISSING_VALUE):
        if tally.get(key):
            found.unreached[key] = tally[key]
    return found
