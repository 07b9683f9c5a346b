"""The broadcast lifecycle, pair by pair: every (state, action) either leads where the
lifecycle says or is refused with a 409 that names what was tried and on what.

The expected table is written out here from the lifecycle's description, not read from the
module, so a move added or dropped by mistake shows up as a failing pair."""

from __future__ import annotations

import itertools

import pytest

from threadline.broadcasts.states import Action, BroadcastState, move
from threadline.kit.errors import Conflict

S = BroadcastState
A = Action

# draft → scheduled → sending → completed; paused beside sending (and before it starts);
# a recurring broadcast's occurrence ends back in scheduled; unschedule returns to draft.
ALLOWED: dict[tuple[BroadcastState, Action], BroadcastState] = {
    (S.DRAFT, A.SCHEDULE): S.SCHEDULED,
    (S.SCHEDULED, A.START): S.SENDING,
    (S.SCHEDULED, A.UNSCHEDULE): S.DRAFT,
    (S.SCHEDULED, A.PAUSE): S.PAUSED,
    (S.SENDING, A.PAUSE): S.PAUSED,
    (S.PAUSED, A.RESUME): S.SENDING,
    (S.SENDING, A.FINISH): S.COMPLETED,
    (S.SENDING, A.REPEAT): S.SCHEDULED,
}
UNFINISHED = (S.DRAFT, S.SCHEDULED, S.SENDING, S.PAUSED)
FINISHED = (S.COMPLETED, S.CANCELLED)

# Everything else, cancel excepted (it has rules of its own, below).
REFUSED = [
    (state, action)
    for state, action in itertools.product(BroadcastState, Action)
    if action is not A.CANCEL and (state, action) not in ALLOWED
]


@pytest.mark.parametrize(("state", "action", "after"), [(*k, v) for k, v in ALLOWED.items()])
def test_an_allowed_move_leads_to_its_state(
    state: BroadcastState, action: Action, after: BroadcastState
) -> None:
    assert move(state, action) is after


@pytest.mark.parametrize("state", UNFINISHED)
def test_anything_unfinished_can_be_cancelled(state: BroadcastState) -> None:
    assert move(state, A.CANCEL) is S.CANCELLED


@pytest.mark.parametrize("state", FINISHED)
def test_a_finished_broadcast_cannot_be_cancelled(state: BroadcastState) -> None:
    with pytest.raises(Conflict) as caught:
        move(state, A.CANCEL)
    assert caught.value.status_code == 409
    assert caught.value.where == "status"
    assert caught.value.message == f"a {state.value} broadcast cannot be cancelled"


@pytest.mark.parametrize(("state", "action"), REFUSED)
def test_any_other_move_is_a_conflict_naming_action_and_state(
    state: BroadcastState, action: Action
) -> None:
    with pytest.raises(Conflict) as caught:
        move(state, action)
    # The API shows this message as is: the user must see what they tried and why not.
    assert caught.value.status_code == 409
    assert caught.value.where == "status"
    assert caught.value.message == f"cannot {action.value} a {state.value} broadcast"
    assert caught.value.as_dict()["error"] == "conflict"


def test_a_recurring_broadcast_runs_occurrence_after_occurrence_until_it_finishes() -> None:
    # The whole life of a broadcast that repeats twice and is paused once on the way.
    state = S.DRAFT
    for action in (A.SCHEDULE, A.START, A.REPEAT, A.START, A.PAUSE, A.RESUME, A.FINISH):
        state = move(state, action)
    assert state is S.COMPLETED
