"""The lifecycle of a broadcast, in one place. Pure: no database.

draft → scheduled → sending → completed, with paused beside sending (by the user or by a
guardrail; resumed only by a person) and cancelled from anything not finished. A recurring
broadcast goes back to scheduled after each occurrence."""

from __future__ import annotations

from enum import StrEnum

from threadline.kit.errors import Conflict


class BroadcastState(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Action(StrEnum):
    SCHEDULE = "schedule"  # send now or at its schedule
    START = "start"  # the schedule's moment came: fan-out begins
    PAUSE = "pause"
    RESUME = "resume"
    FINISH = "finish"  # every recipient settled
    REPEAT = "repeat"  # a recurring broadcast's occurrence ended: the next is scheduled
    CANCEL = "cancel"
    UNSCHEDULE = "unschedule"  # back to draft, to be edited


_MOVES: dict[tuple[BroadcastState, Action], BroadcastState] = {
    (BroadcastState.DRAFT, Action.SCHEDULE): BroadcastState.SCHEDULED,
    (BroadcastState.SCHEDULED, Action.START): BroadcastState.SENDING,
    (BroadcastState.SCHEDULED, Action.UNSCHEDULE): BroadcastState.DRAFT,
    (BroadcastState.SCHEDULED, Action.PAUSE): BroadcastState.PAUSED,
    (BroadcastState.SENDING, Action.PAUSE): BroadcastState.PAUSED,
    (BroadcastState.PAUSED, Action.RESUME): BroadcastState.SENDING,
    (BroadcastState.SENDING, Action.FINISH): BroadcastState.COMPLETED,
    (BroadcastState.SENDING, Action.REPEAT): BroadcastState.SCHEDULED,
}
# What may be changed: only a broadcast nobody is sending yet.
EDITABLE = frozenset({BroadcastState.DRAFT})
FINISHED = frozenset({BroadcastState.COMPLETED, BroadcastState.CANCELLED})


def move(current: BroadcastState, action: Action) -> BroadcastState:
    """The state `action` leads to, or a Conflict saying why it cannot be taken now."""
    if action is Action.CANCEL:
        if current in FINISHED:
            raise Conflict(f"a {current.value} broadcast cannot be cancelled", where="status")
        return BroadcastState.CANCELLED
    after = _MOVES.get((current, action))
    if after is None:
        raise Conflict(f"cannot {action.value} a {current.value} broadcast", where="status")
    return after
