"""Properties of the flow engine over generated flows and conversations: one wait at a time,
every wait can time out, the escapes work at every wait, `step` is pure, sessions survive JSON.

Flows are generated valid by construction: nodes that do not wait only lead forward, nodes
that wait may lead anywhere (a loop through a wait is allowed), and the last node ends."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from threadline.channels.kinds import Channel
from threadline.flows import format as f
from threadline.flows.engine import FALLBACK_NODE, new_state, step
from threadline.flows.loader import Bundle, Flow, compile_bundle
from threadline.flows.state import (
    Action,
    Close,
    ContactView,
    Ended,
    Event,
    FlowState,
    HandBack,
    OpenTicket,
    Reply,
    Send,
    Start,
    Timeout,
    Wait,
    WaitKind,
    WebhookDone,
)
from threadline.kit.clock import FrozenClock

T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
TITLES = ["Red", "Blue", "Green", "Yellow", "Black", "White", "Pink", "Grey", "Navy", "Teal"]
CATALOG: list[dict[str, Any]] = [
    {
        "id": "p1",
        "title": "Trail Runner",
        "price": 120,
        "tags": ["running"],
        "image": "https://i/1",
    },
    {"id": "p2", "title": "Road Racer", "price": 90, "tags": ["running"]},
    {"id": "p3", "title": "City Walker", "price": 60, "tags": ["walking"]},
    {"id": "p4", "title": "Dry Tee", "price": 25, "tags": ["running"], "url": "https://s/4"},
]
REPLIES = [
    "1",
    "2",
    "4",
    "yes",
    "no",
    "Red",
    "blue",
    "ana@example.com",
    "42",
    "1,500",
    "25/12",
    "tomorrow",
    "+44 20 7946 0958",
    "great",
    "road racer",
    "hello",
    "???",
    "",
    "I don't know",
]
KINDS = [
    "choice",
    "open",
    "say",
    "branch",
    "set",
    "webhook",
    "recommend",
    "handoff",
    "csat",
    "goto",
    "choice",
    "open",
    "recommend",
    "webhook",
    "end",
]  # the first nodes are shrunk to first: questions, where the escapes and timers are
WAITS_FOR_PERSON: frozenset[WaitKind] = frozenset({"ask", "csat", "recommend", "fallback"})


# ---------------------------------------------------------------- generated flows


@st.composite
def flow_docs(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(min_value=1, max_value=6))
    ids = [f"n{i}" for i in range(count)] + ["fin"]
    nodes: list[dict[str, Any]] = []
    for i in range(count):
        forward = st.sampled_from(ids[i + 1 :])
        anywhere = st.sampled_from(ids)
        maybe_any = st.none() | anywhere
        kind = draw(st.sampled_from(["choice", "open"] if i == 0 else KINDS))
        node: dict[str, Any] = {"id": ids[i]}
        if kind == "say":
            text = f"Note {i} for {{{{answers.a0}}}}"
            node |= {"type": "say", "text": text, "next": draw(forward)}
        elif kind in ("choice", "open"):
            node |= {
                "type": "ask",
                "text": f"Question {i}?",
                "save_as": f"a{i}",
                "next": draw(anywhere),
            }
            if kind == "choice":
                size = draw(st.integers(min_value=1, max_value=5))
                node["choices"] = [
                    {
                        "id": f"c{j}",
                        "title": TITLES[j] if j < len(TITLES) else f"Option {j}",
                        **({"next": target} if (target := draw(maybe_any)) else {}),
                    }
                    for j in range(size)
                ]
            else:
                node["expect"] = draw(
                    st.sampled_from(["text", "email", "phone", "number", "date", "yes_no"])
                )
                if node["expect"] == "number" and draw(st.booleans()):
                    node |= {"min": 1, "max": 100}
            if (retries := draw(st.none() | st.integers(min_value=0, max_value=2))) is not None:
                node["retries"] = retries
            if on_invalid := draw(maybe_any):
                node["on_invalid"] = on_invalid
            if on_timeout := draw(maybe_any):
                node["on_timeout"] = on_timeout
            if draw(st.booleans()):
                node["timeout"] = draw(st.sampled_from(["30s", "10m", "5h"]))
        elif kind == "branch":
            conditions = st.sampled_from(
                [
                    {"answer": "a0", "exists": True},
                    {"answer": "a1", "equals": "c1"},
                    {"tag": "vip"},
                    {"score_at_least": 5},
                    {"channel": "sms"},
                    {"hours": [9, 17]},
                    {"not": {"interest": "golf"}},
                ]
            )
            cases = draw(st.lists(conditions, min_size=1, max_size=3))
            node |= {
                "type": "branch",
                "cases": [{"when": c, "next": draw(forward)} for c in cases],
                "default": draw(forward),
            }
        elif kind == "set":
            node |= {
                "type": "set",
                "tags": {"add": ["vip"], "remove": ["new"]},
                "score": 5,
                "fields": {"seen": "{{answers.a0}}"},
                "answers": {"a1": "c1"},
                "next": draw(forward),
            }
        elif kind == "webhook":
            node |= {
                "type": "webhook",
                "url": "https://hook.example/{{answers.a0}}",
                "body": {"value": "{{answers.a0}}"},
                "save_as": f"w{i}",
                "next": draw(anywhere),
                "on_failure": draw(anywhere),
            }
        elif kind == "recommend":
            save = draw(st.booleans())
            node |= {
                "type": "recommend",
                "text": "Pick one",
                "tags_any": draw(st.sampled_from([[], ["running"], ["nothing-has-this"]])),
                "limit": draw(st.integers(min_value=1, max_value=4)),
                "style": draw(st.sampled_from(["list", "cards"])),
                "on_empty": draw(forward),
                "next": draw(anywhere if save else forward),
            }
            if save:
                node["save_as"] = f"r{i}"
                if on_timeout := draw(maybe_any):
                    node["on_timeout"] = on_timeout
        elif kind == "handoff":
            node |= {"type": "handoff"}
            if target := draw(maybe_any):
                node["next"] = target
        elif kind == "csat":
            node |= {"type": "csat", "next": draw(anywhere)}
        elif kind == "goto":
            node |= {"type": "goto", "target": draw(forward)}
        else:
            node |= {"type": "end", "outcome": draw(st.sampled_from(f.OUTCOMES))}
        nodes.append(node)
    nodes.append({"id": "fin", "type": "end", "text": "Bye"})
    return {
        "format": 1,
        "flow": "generated",
        "name": "Generated",
        "expires_after": draw(st.sampled_from(["3h", "24h"])),
        "fallback": {"after": draw(st.integers(min_value=1, max_value=3))},
        "start": "n0",
        "nodes": nodes,
    }


def compile_doc(doc: dict[str, Any]) -> Flow:
    # JSON is YAML, and much quicker to write than block YAML
    return compile_bundle(Bundle(main=json.dumps(doc, ensure_ascii=False), catalog=CATALOG))


def payloads(flow: Flow, state: FlowState) -> list[str]:
    """The ids a person could tap at the current wait."""
    wait = state.wait
    if wait is None:
        return []
    if wait.kind == "fallback":
        return ["human", "menu"]
    node = flow.nodes[wait.node]
    if isinstance(node, f.Ask):
        return ["yes", "no"] if node.kind == "yes_no" else [c.id for c in node.choices]
    if isinstance(node, f.Csat):
        return ["1", "2", "3", "4", "5"]
    if isinstance(node, f.Recommend):
        return [p["id"] for p in CATALOG]
    return []


def next_event(data: st.DataObject, flow: Flow, state: FlowState, clock: FrozenClock) -> Event:
    """A plausible next event for the session's state; moves the clock for timers."""
    wait = state.wait
    if state.status == "handoff":
        choices: list[Event] = [HandBack(), Close(), Reply(text="hello?")]
        chosen: Event = data.draw(st.sampled_from(choices))
        return chosen
    assert wait is not None
    if state.status == "webhook":
        choice = data.draw(st.integers(min_value=0, max_value=4))
        if choice == 0:
            clock.set(wait.deadline)
            return Timeout()
        if choice == 1:
            return Reply(text="anyone?")
        return data.draw(
            st.sampled_from(
                [
                    WebhookDone(status=200, body={"ok": True, "items": [1, 2]}),
                    WebhookDone(status=503),
                    WebhookDone(status=None, error="timed out"),
                ]
            )
        )
    choice = data.draw(st.integers(min_value=0, max_value=9))
    if choice == 0:
        clock.set(wait.deadline)
        return Timeout()
    if choice == 1:
        clock.advance(timedelta(seconds=data.draw(st.integers(min_value=0, max_value=600))))
        return Timeout()  # usually early: must be ignored
    taps = payloads(flow, state)
    if choice <= 4 and taps:
        return Reply(text="", payload=data.draw(st.sampled_from(taps)))
    clock.advance(timedelta(seconds=data.draw(st.integers(min_value=1, max_value=120))))
    return Reply(text=data.draw(st.sampled_from(REPLIES)))


@dataclass
class Turn:
    before: FlowState
    event: Event
    after: FlowState
    actions: list[Action]
    now: datetime


def converse(
    doc: dict[str, Any], data: st.DataObject
) -> tuple[Flow, list[Turn], list[tuple[FlowState, datetime]]]:
    """Run a random conversation; returns the flow, its turns and every state it passed."""
    flow = compile_doc(doc)
    clock = FrozenClock(T0)
    contact = ContactView(
        name="Ana",
        fields={"city": "Lisbon"},
        tags=frozenset(data.draw(st.sampled_from([(), ("new",), ("vip", "new")]))),
        timezone=data.draw(st.sampled_from([None, "Europe/Lisbon", "Asia/Tokyo"])),
        region="GB",
        events=(("signup", T0 - timedelta(days=3)),),
    )
    channel = data.draw(st.sampled_from([Channel.WHATSAPP, Channel.SMS]))
    state = new_state(flow, contact, channel, clock.now(), trigger="keyword")
    turns: list[Turn] = []
    event: Event = Start(trigger="keyword", params={"source": "ad"})
    for _ in range(data.draw(st.integers(min_value=4, max_value=12))):
        after, actions = step(flow, state, event, clock)
        turns.append(Turn(state, event, after, actions, clock.now()))
        state = after
        if not state.active:
            break
        event = next_event(data, flow, state, clock)
    states = [(t.after, t.now) for t in turns]
    return flow, turns, states


def waiting_nodes(flow: Flow) -> set[str]:
    found = {FALLBACK_NODE}
    for node_id, node in flow.nodes.items():
        if isinstance(node, f.Ask | f.Csat) or (isinstance(node, f.Recommend) and node.save_as):
            found.add(node_id)
    return found


# ---------------------------------------------------------------- properties


def one_wait_at_a_time(flow: Flow, turn: Turn) -> None:
    """At most one wait, and the status says what kind: waiting ⇒ a wait by the person,
    webhook ⇒ the webhook's wait, handoff/ended ⇒ no wait; never two questions at once."""
    s = turn.after
    if s.status == "waiting":
        assert s.wait is not None and s.wait.kind in WAITS_FOR_PERSON
        assert s.node == s.wait.node
        node = flow.nodes.get(s.wait.node)
        expected = {"ask": f.Ask, "csat": f.Csat, "recommend": f.Recommend}.get(s.wait.kind)
        assert (node is None) if expected is None else isinstance(node, expected)
    elif s.status == "webhook":
        assert s.wait is not None and s.wait.kind == "webhook"
        assert isinstance(flow.nodes[s.wait.node], f.Webhook)
    else:
        assert s.status in ("handoff", "ended") and s.wait is None
    if s.status == "ended":
        assert s.outcome in f.OUTCOMES and s.ended_at is not None
        assert isinstance(turn.actions[-1], Ended) or not turn.before.active
    if s.wait is not None:
        # a reply that arrives after the state expired (before the timer fired) leaves a
        # wait whose deadline is the expiry itself: the next timer ends it
        assert s.wait.deadline <= s.expires_at
        assert turn.now < s.wait.deadline or s.wait.deadline == s.expires_at
    # any question sent in a step is the one the state now waits at
    questions = waiting_nodes(flow)
    asked = {a.node for a in turn.actions if isinstance(a, Send) and a.node in questions}
    assert asked <= ({s.wait.node} if s.wait else set()), (asked, s.wait)
    assert sum(isinstance(a, Ended) for a in turn.actions) <= 1


def every_wait_times_out(flow: Flow, state: FlowState) -> None:
    """A timer at the deadline always moves the state off that wait; an early one is a no-op."""
    wait = state.wait
    if wait is None:
        return
    after, actions = step(flow, state, Timeout(), FrozenClock(wait.deadline))
    assert after.wait != wait, f"still waiting at {wait.node} after its deadline"
    assert after.status != "handoff" or any(isinstance(a, OpenTicket) for a in actions)
    if after.wait is not None:
        assert after.wait.deadline > wait.deadline
    just_before = FrozenClock(wait.deadline - timedelta(seconds=1))
    assert step(flow, state, Timeout(), just_before) == (state, [])


def escapes_work(flow: Flow, state: FlowState, now: datetime) -> None:
    """At every wait by the person: "human" hands off, "menu" starts over, "STOP" ends."""
    if state.status != "waiting":
        return
    clock = FrozenClock(now)

    human, actions = step(flow, state, Reply(text="human"), clock)
    assert human.status == "handoff" and human.wait is None
    assert [a for a in actions if isinstance(a, OpenTicket)], actions
    assert human.resume_at is not None  # a hand back continues the conversation
    back, _ = step(flow, human, HandBack(), clock)
    assert back.status != "handoff"

    menu, actions = step(flow, state, Reply(text="menu"), clock)
    assert menu.path[len(state.path)] == flow.start
    assert not any(isinstance(a, OpenTicket) for a in actions)

    stop, actions = step(flow, state, Reply(text="STOP"), clock)
    assert (stop.status, stop.outcome, stop.end_reason) == ("ended", "abandoned", "opted_out")
    assert actions == [Ended(outcome="abandoned", reason="opted_out")]


def step_is_pure(flow: Flow, turn: Turn) -> None:
    """Same input, same output; the input state is left as it was."""
    snapshot = json.dumps(turn.before.to_json(), sort_keys=True)
    again, actions = step(flow, turn.before, turn.event, FrozenClock(turn.now))
    assert again == turn.after
    assert actions == turn.actions
    assert json.dumps(turn.before.to_json(), sort_keys=True) == snapshot


def survives_json(flow: Flow, turn: Turn) -> None:
    """A state read back from storage is the same state and carries on the same way."""
    for state in (turn.before, turn.after):
        assert FlowState.from_json(json.loads(json.dumps(state.to_json()))) == state
    restored = FlowState.from_json(json.loads(json.dumps(turn.before.to_json())))
    assert step(flow, restored, turn.event, FrozenClock(turn.now)) == (turn.after, turn.actions)


@given(doc=flow_docs(), data=st.data())
@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
def test_generated_conversations_keep_the_engines_promises(
    doc: dict[str, Any], data: st.DataObject
) -> None:
    # one conversation checked for every property: compiling the flow is the costly part
    flow, turns, states = converse(doc, data)
    for turn in turns:
        one_wait_at_a_time(flow, turn)
        step_is_pure(flow, turn)
        survives_json(flow, turn)
    for state, now in states:
        every_wait_times_out(flow, state)
        escapes_work(flow, state, now)


# ---------------------------------------------------------------- sessions as stored data

_text = st.text(max_size=12)
_json_leaf = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | _text
_json = st.recursive(
    _json_leaf | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)
_when = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)


@st.composite
def sessions(draw: st.DrawFn) -> FlowState:
    status = draw(st.sampled_from(["waiting", "webhook", "handoff", "ended"]))
    wait = None
    if status in ("waiting", "webhook"):
        kind: WaitKind = (
            "webhook" if status == "webhook" else draw(st.sampled_from(sorted(WAITS_FOR_PERSON)))
        )
        wait = Wait(
            node=draw(st.sampled_from(["n0", "sub.ask_email", FALLBACK_NODE])),
            kind=kind,
            deadline=draw(_when),
            misses=draw(st.integers(0, 5)),
        )
    return FlowState(
        flow=draw(st.sampled_from(["main", "lead_capture"])),
        channel=draw(st.sampled_from(list(Channel))),
        contact=ContactView(
            name=draw(_text),
            fields=draw(st.dictionaries(_text, _json, max_size=3)),
            tags=frozenset(draw(st.lists(_text, max_size=3))),
            interests=frozenset(draw(st.lists(_text, max_size=3))),
            timezone=draw(st.none() | st.just("America/Sao_Paulo")),
            region=draw(st.none() | st.just("BR")),
            events=tuple(draw(st.lists(st.tuples(_text, _when), max_size=3))),
        ),
        trigger=draw(st.sampled_from(["api", "keyword", "first_inbound"])),
        started_at=draw(_when),
        expires_at=draw(_when),
        status=status,  # type: ignore[arg-type]
        node=draw(st.none() | st.just("n0")),
        wait=wait,
        answers=draw(st.dictionaries(_text, _json, max_size=4)),
        params=draw(st.dictionaries(_text, _json, max_size=2)),
        path=tuple(draw(st.lists(st.sampled_from(["n0", "n1", FALLBACK_NODE]), max_size=5))),
        score=draw(st.floats(-100, 100, allow_nan=False)),
        resume_at=draw(st.none() | st.just("n1")),
        outcome=draw(st.none() | st.sampled_from(f.OUTCOMES)),
        end_reason=draw(st.none() | st.just("timeout")),
        ended_at=draw(st.none() | _when),
    )


@given(state=sessions())
@settings(max_examples=60, deadline=None)
def test_any_session_survives_a_json_round_trip(state: FlowState) -> None:
    stored = json.dumps(state.to_json())
    assert FlowState.from_json(json.loads(stored)) == state
