"""The delivery lifecycle of a message, in one place: the states a message can be in and how
the platform's reports move it. Pure: no database, no transport.

Outbound: `queued` (or `deferred` to a later time, or `refused` by the policy, or `held`
while its broadcast is paused) → `sending`
while the request is on the wire → `accepted` once the platform took it → the platform's
`sent`, `delivered`, `read` and `played` (a voice message). `failed` comes from the platform
or from a send that cannot be retried. Inbound messages are `received`.

Stored as plain strings (a `MessageState` is a `str`), so rows read back compare equal."""

from __future__ import annotations

from enum import StrEnum


class MessageState(StrEnum):
    QUEUED = "queued"
    DEFERRED = "deferred"  # the policy said later (quiet hours, pacing): `next_attempt_at`
    HELD = "held"  # its broadcast is paused: not sent until it is resumed (or cancelled)
    REFUSED = "refused"  # the policy said no, with its reason
    SENDING = "sending"  # claimed by the dispatcher; the request may be on the wire
    ACCEPTED = "accepted"  # the platform answered the send with its message id
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"
    FAILED = "failed"
    RECEIVED = "received"  # from the contact


class HistoryMark(StrEnum):
    """Status-history lines that name no state a message is left in."""

    RETRYING = "retrying"  # a send the platform refused for now; it is queued again
    DELETED = "deleted"  # the person unsent their message


# Settled: nothing is left to send or retry. Reports may still refine a delivered message
# (read, then played), so final is not the same as unchangeable.
FINAL = frozenset(
    {
        MessageState.DELIVERED,
        MessageState.READ,
        MessageState.PLAYED,
        MessageState.FAILED,
        MessageState.REFUSED,
        MessageState.RECEIVED,
    }
)
# Where a message may be on its way; a state only moves forward along this order, so a late
# "delivered" never overwrites "read". States without a rank take part only through `advance`.
RANK = {
    MessageState.QUEUED: 0,
    MessageState.DEFERRED: 0,
    MessageState.HELD: 0,
    MessageState.SENDING: 1,
    MessageState.ACCEPTED: 2,
    MessageState.SENT: 3,
    MessageState.DELIVERED: 4,
    MessageState.READ: 5,
    MessageState.PLAYED: 6,
}
# A failure reported for these is too late to matter: the person has the message.
BEYOND_FAILURE = frozenset(
    {MessageState.DELIVERED, MessageState.READ, MessageState.PLAYED, MessageState.FAILED}
)
# Nothing but a failure moves these.
STOPPED = frozenset({MessageState.FAILED, MessageState.REFUSED})


def is_final(state: MessageState) -> bool:
    return state in FINAL


def advance(current: MessageState, reported: MessageState) -> MessageState:
    """The state a message in `current` is in once `reported` arrives: forward only, and a
    failure replaces anything short of delivered."""
    if reported is MessageState.FAILED:
        return current if current in BEYOND_FAILURE else reported
    if current in STOPPED:
        return current
    return reported if RANK.get(reported, -1) > RANK.get(current, -1) else current


def parse(name: str) -> MessageState | None:
    """The state a stored or reported name stands for; None for one this lifecycle does not
    know (the platform may report statuses it does not follow)."""
    try:
        return MessageState(name)
    except ValueError:
        return None


def moved(current: str, reported: str) -> MessageState | None:
    """The state a stored message moves to when the platform (or the dispatcher) reports
    `reported`; None when it stays where it is, also when either name is unknown."""
    known, news = parse(current), parse(reported)
    if known is None or news is None:
        return None
    after = advance(known, news)
    return None if after is known else after
