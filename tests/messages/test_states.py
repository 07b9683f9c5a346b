"""The delivery lifecycle: how reported statuses move a message, and which states are final."""

from __future__ import annotations

import itertools

import pytest

from threadline.messages.states import (
    FINAL,
    MessageState,
    advance,
    is_final,
    moved,
    parse,
)

Q, D, X = MessageState.QUEUED, MessageState.DEFERRED, MessageState.REFUSED
SENDING, ACC, SENT = MessageState.SENDING, MessageState.ACCEPTED, MessageState.SENT
DLV, READ, PLAYED = MessageState.DELIVERED, MessageState.READ, MessageState.PLAYED
FAILED, RECV = MessageState.FAILED, MessageState.RECEIVED


@pytest.mark.parametrize(
    ("current", "reported", "after"),
    [
        # Forward along the platform's order, one step or several at once.
        (SENDING, ACC, ACC),
        (ACC, SENT, SENT),
        (SENT, DLV, DLV),
        (DLV, READ, READ),
        (READ, PLAYED, PLAYED),
        (ACC, READ, READ),
        (SENDING, DLV, DLV),  # the webhook beat the send's answer
        (Q, SENT, SENT),
        # Late reports never move a message back.
        (DLV, SENT, DLV),
        (READ, SENT, READ),
        (READ, DLV, READ),
        (PLAYED, READ, PLAYED),
        (SENT, ACC, SENT),  # the send's answer after the platform's first status
        (DLV, ACC, DLV),
        # The same report twice changes nothing.
        (SENT, SENT, SENT),
        (DLV, DLV, DLV),
        (READ, READ, READ),
        # A failure replaces anything short of delivered...
        (Q, FAILED, FAILED),
        (SENDING, FAILED, FAILED),
        (ACC, FAILED, FAILED),
        (SENT, FAILED, FAILED),
        (X, FAILED, FAILED),
        # ...but not what the person already has, nor itself.
        (DLV, FAILED, DLV),
        (READ, FAILED, READ),
        (PLAYED, FAILED, PLAYED),
        (FAILED, FAILED, FAILED),
        # Failed and refused stay so, whatever comes after.
        (FAILED, SENT, FAILED),
        (FAILED, DLV, FAILED),
        (FAILED, READ, FAILED),
        (FAILED, ACC, FAILED),
        (X, SENT, X),
        (X, ACC, X),
        # Queued and deferred rank the same.
        (Q, D, Q),
        (D, Q, D),
        (D, SENDING, SENDING),
    ],
)
def test_advance(current: MessageState, reported: MessageState, after: MessageState) -> None:
    assert advance(current, reported) is after


def _rule_before_states(current: str, new_status: str) -> bool:
    """messages.service.advance_status as it was before the lifecycle moved to
    messages.states, verbatim but for `held` (added since, ranked with queued): the oracle
    the new functions must agree with."""
    rank = {
        "queued": 0,
        "deferred": 0,
        "held": 0,
        "sending": 1,
        "accepted": 2,
        "sent": 3,
        "delivered": 4,
        "read": 5,
        "played": 6,
    }
    if new_status == "failed":
        return current not in ("delivered", "read", "played", "failed")
    if current in ("failed", "refused"):
        return False
    return rank.get(new_status, -1) > rank.get(current, -1)


KNOWN = [state.value for state in MessageState]


@pytest.mark.parametrize(
    ("current", "reported"),
    list(itertools.product(KNOWN, [*KNOWN, "deleted", "retrying", "pending", ""])),
)
def test_moved_agrees_with_the_rule_it_replaced(current: str, reported: str) -> None:
    after = moved(current, reported)
    assert (after is not None) is _rule_before_states(current, reported)
    if after is not None:
        assert after == reported  # a move is always to what was reported


@pytest.mark.parametrize("reported", ["deleted", "retrying", "enqueued", "DELIVERED", ""])
def test_a_status_the_lifecycle_does_not_know_moves_nothing(reported: str) -> None:
    assert parse(reported) is None
    assert all(moved(state, reported) is None for state in MessageState)


def test_moved_reads_stored_names() -> None:
    assert moved("sending", "accepted") is MessageState.ACCEPTED
    assert moved("delivered", "sent") is None
    assert moved("accepted", "failed") is MessageState.FAILED


@pytest.mark.parametrize(
    ("state", "final"),
    [
        (Q, False),
        (D, False),
        (SENDING, False),
        (ACC, False),
        (SENT, False),
        (DLV, True),
        (READ, True),
        (PLAYED, True),
        (FAILED, True),
        (X, True),
        (RECV, True),
    ],
)
def test_final_states(state: MessageState, final: bool) -> None:
    assert is_final(state) is final


def test_every_state_is_classified() -> None:
    held = MessageState.HELD
    assert set(MessageState) == {Q, D, held, X, SENDING, ACC, SENT, DLV, READ, PLAYED, FAILED, RECV}


@pytest.mark.parametrize(
    ("state", "reported"),
    list(itertools.product(sorted(FINAL - {RECV}), list(MessageState))),
)
def test_an_outbound_final_state_stays_final(state: MessageState, reported: MessageState) -> None:
    """Once settled, no report makes an outbound message sendable again."""
    assert is_final(advance(state, reported))


@pytest.mark.parametrize("reported", list(MessageState))
def test_read_is_final_for_the_platforms_statuses_but_a_voice_note_is_then_played(
    reported: MessageState,
) -> None:
    expected = PLAYED if reported is PLAYED else READ
    assert advance(READ, reported) is expected


@pytest.mark.parametrize("reported", list(MessageState))
def test_failed_and_played_never_move(reported: MessageState) -> None:
    assert advance(FAILED, reported) is FAILED
    assert advance(PLAYED, reported) is PLAYED


def test_states_are_stored_and_compared_as_their_names() -> None:
    stored: str = MessageState.DELIVERED  # what a row holds, and what it reads back as
    assert stored == "delivered" and str(stored) == "delivered"
    assert "delivered" in (MessageState.SENT, MessageState.DELIVERED)
    assert f"{MessageState.READ}" == "read"
    assert parse("queued") is MessageState.QUEUED
