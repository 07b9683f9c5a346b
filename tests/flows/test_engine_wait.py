"""The wait node and the exits: an automation pauses for a while or until a moment, lets go
of the conversation meanwhile, and ends early when one of its exits happens."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.flows.test_engine_nodes import T0, Chat, compile_flow, only, said
from threadline.flows.loader import FlowError
from threadline.flows.state import Ended, Exit, Reply

CART = """
purpose: marketing
expires_after: 3d
start: pause
nodes:
  - id: pause
    type: wait
    for: 1h
    next: remind
  - id: remind
    type: say
    text: "You left {{params.items}} in your cart."
    next: done
  - id: done
    type: end
"""

REMINDER = """
expires_after: 30d
start: until_day_before
nodes:
  - id: until_day_before
    type: wait
    until: "{{params.starts_at}}"
    before: 24h
    if_past: IF_PAST
    next: remind
  - id: remind
    type: say
    text: "See you tomorrow at {{params.starts_at}}."
    next: done
  - id: done
    type: end
"""


def test_a_wait_for_a_while_sleeps_silently_then_goes_on() -> None:
    chat = Chat(compile_flow(CART))
    assert said(chat.start(items="2 shoes")) == []
    assert chat.state.sleeping and chat.waiting_at == "pause"
    assert chat.state.wait is not None and chat.state.wait.deadline == T0 + timedelta(hours=1)
    assert said(chat.time_out()) == ["You left 2 shoes in your cart."]
    assert chat.state.status == "ended" and not chat.state.sleeping


def test_a_reply_during_a_pause_is_not_the_bots_to_answer() -> None:
    chat = Chat(compile_flow(CART))
    chat.start(items="a bag")
    assert chat.reply("hello?") == []
    assert chat.state.sleeping and chat.waiting_at == "pause"


def test_an_exit_ends_a_sleeping_run_with_its_outcome_and_reason() -> None:
    chat = Chat(compile_flow(CART))
    chat.start(items="a bag")
    actions = chat.event(Exit("purchased", "purchase"))
    assert said(actions) == []
    assert only(actions, Ended).outcome == "purchased"
    assert chat.state.end_reason == "exit: purchase" and chat.state.status == "ended"
    # the timer that was set fires on an ended session: nothing happens
    assert chat.event(Reply(text="hi")) == []


def test_until_a_moment_minus_before_waits_for_the_day_before() -> None:
    chat = Chat(compile_flow(REMINDER.replace("IF_PAST", "continue")))
    appointment = T0 + timedelta(days=3, hours=2)
    chat.start(starts_at=appointment.isoformat())
    assert chat.state.wait is not None
    assert chat.state.wait.deadline == appointment - timedelta(hours=24)
    assert said(chat.time_out()) == [f"See you tomorrow at {appointment.isoformat()}."]


def test_a_moment_already_gone_is_due_at_once_or_ends_the_run() -> None:
    soon = (T0 + timedelta(hours=3)).isoformat()  # 24 h before it is 21 h ago
    going_on = Chat(compile_flow(REMINDER.replace("IF_PAST", "continue")))
    assert said(going_on.start(starts_at=soon)) == []  # through the timer, not in the start
    assert going_on.state.wait is not None and going_on.state.wait.deadline == T0
    assert said(going_on.time_out()) == [f"See you tomorrow at {soon}."]

    ending = Chat(compile_flow(REMINDER.replace("IF_PAST", "end")))
    actions = ending.start(starts_at=soon)
    assert said(actions) == [] and only(actions, Ended).outcome == "abandoned"
    assert ending.state.end_reason == "until_day_before: the moment had passed"


def test_a_moment_that_is_no_date_ends_the_run_and_says_what_it_got() -> None:
    chat = Chat(compile_flow(REMINDER.replace("IF_PAST", "continue")))
    chat.start(starts_at="next tuesday")
    assert chat.state.status == "ended"
    assert chat.state.end_reason == "until_day_before: 'next tuesday' is no date-time"


def test_a_wait_past_the_sessions_expiry_ends_it_at_the_expiry() -> None:
    chat = Chat(compile_flow(REMINDER.replace("IF_PAST", "continue")))
    chat.start(starts_at=(T0 + timedelta(days=45)).isoformat())
    assert chat.state.wait is not None
    assert chat.state.wait.deadline == T0 + timedelta(days=30)
    actions = chat.time_out()
    assert said(actions) == [] and chat.state.end_reason == "expired"


@pytest.mark.parametrize(
    ("node", "problem"),
    [
        ("{id: w, type: wait, next: done}", "exactly one of for or until"),
        ("{id: w, type: wait, for: 1h, until: '2026-01-01T00:00:00Z', next: done}", "exactly one"),
        ("{id: w, type: wait, for: 1h, before: 1h, next: done}", "before only goes with until"),
        ("{id: w, type: wait, for: 1h}", "a wait needs a next"),
    ],
)
def test_a_wait_written_wrong_is_refused_with_the_reason(node: str, problem: str) -> None:
    body = f"start: w\nnodes:\n  - {node}\n  - {{id: done, type: end}}\n"
    with pytest.raises(FlowError) as caught:
        compile_flow(body)
    assert problem in str(caught.value)


def test_a_loop_through_a_wait_is_a_loop_with_a_wait() -> None:
    body = """
    start: w
    nodes:
      - {id: w, type: wait, for: 1h, next: nudge}
      - {id: nudge, type: say, text: Still there?, next: w}
    """
    chat = Chat(compile_flow(body))
    chat.start()
    assert said(chat.time_out()) == ["Still there?"]
    assert chat.state.sleeping
