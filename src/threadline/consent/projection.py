"""Current consent state as a fold over the append-only ledger.

Scopes: a ledger line names a channel (or "*" for every channel) and a topic: a marketing
topic key, "transactional", "marketing:*" (every marketing topic) or "*" (everything).
Grants are always specific; revokes and restores may be wide. A restore (START after STOP)
undoes the revoke before it, so it gives back exactly what the person had, never more.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from threadline.policy.types import ConsentStatus

ANY = "*"
ALL_MARKETING = "marketing:*"
TRANSACTIONAL = "transactional"
DOUBLE_OPT_IN_EXPIRY_DAYS = 30


class Action(StrEnum):
    GRANT = "grant"  # opt-in with evidence
    REQUEST = "request"  # double opt-in: opt-in captured, confirmation pending
    CONFIRM = "confirm"  # double opt-in confirmed
    REVOKE = "revoke"
    RESTORE = "restore"  # re-subscribe by exact keyword: undo the last revoke


@dataclass(frozen=True, slots=True)
class LedgerLine:
    action: Action
    channel: str
    topic: str
    occurred_at: datetime
    expires_at: datetime | None = None


def applies(line: LedgerLine, channel: str, topic: str) -> bool:
    if line.channel not in (channel, ANY):
        return False
    if line.topic in (topic, ANY):
        return True
    return line.topic == ALL_MARKETING and topic != TRANSACTIONAL


def in_effect_order(lines: Iterable[LedgerLine]) -> list[LedgerLine]:
    """Lines come in recording order. They take effect in the order they happened, but
    platforms stamp messages to the whole second, so within one second the order in which
    we learnt of them decides (a STOP stamped 12:00:00 that arrives after a grant made at
    12:00:00.7 is the later word)."""
    return sorted(lines, key=lambda line: line.occurred_at.replace(microsecond=0))


def status(lines: Iterable[LedgerLine], channel: str, topic: str, now: datetime) -> ConsentStatus:
    """Lines must be in recording order (oldest first)."""
    state = ConsentStatus.NONE
    before_revoke: list[ConsentStatus] = []
    for line in in_effect_order(lines):
        if line.occurred_at > now or not applies(line, channel, topic):
            continue
        if line.action in (Action.GRANT, Action.CONFIRM):
            state = ConsentStatus.GRANTED
            before_revoke.clear()
        elif line.action is Action.REQUEST:
            expired = line.expires_at is not None and line.expires_at <= now
            if state is not ConsentStatus.GRANTED:
                state = ConsentStatus.NONE if expired else ConsentStatus.PENDING
        elif line.action is Action.REVOKE:
            if state is not ConsentStatus.REVOKED:
                before_revoke.append(state)
            state = ConsentStatus.REVOKED
        elif line.action is Action.RESTORE and state is ConsentStatus.REVOKED:
            state = before_revoke.pop() if before_revoke else ConsentStatus.NONE
    return state
