"""Flow analytics: the pure fold (`summarise`) figure by figure, then the report over the real
stack checked against what the stored messages and contact events say happened."""

from __future__ import annotations

import csv
import io
import random
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.whatsapp.harness import Stack, whatsapp_stack
from threadline.contacts.models import ContactEvent
from threadline.flows.analytics import (
    ConversionEvent,
    SessionFacts,
    collapse,
    summarise,
    to_csv,
)
from threadline.flows.models import FlowSession
from threadline.kit.db import transaction
from threadline.messages.models import Message
from threadline.workspaces.service import create_workspace

T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=30)

# ---------------------------------------------------------------- building facts by hand

_ids = iter(range(1, 1_000_000))


def ended(
    path: str,
    outcome: str = "resolved",
    reason: str | None = None,
    *,
    contact: str | None = None,
    started: datetime = T0,
    seconds: float = 60,
    node: str | None = None,
) -> SessionFacts:
    nodes = tuple(path.split())
    n = next(_ids)
    return SessionFacts(
        id=f"s{n}",
        contact_id=contact or f"c{n}",
        status="ended",
        node=node or (nodes[-1] if nodes else None),
        path=nodes,
        started_at=started,
        outcome=outcome,
        end_reason=reason,
        ended_at=started + timedelta(seconds=seconds),
    )


def active(path: str, status: str = "waiting", *, contact: str | None = None) -> SessionFacts:
    nodes = tuple(path.split())
    n = next(_ids)
    return SessionFacts(
        id=f"s{n}",
        contact_id=contact or f"c{n}",
        status=status,
        node=nodes[-1],
        path=nodes,
        started_at=T0,
    )


def event(
    contact: str,
    at: datetime,
    kind: str = "purchase",
    *,
    name: str | None = None,
    value: str | None = "10",
    currency: str | None = "USD",
) -> ConversionEvent:
    return ConversionEvent(
        id=f"e{next(_ids)}",
        contact_id=contact,
        kind=kind,
        name=name,
        occurred_at=at,
        value=Decimal(value) if value is not None else None,
        currency=currency,
    )


# ---------------------------------------------------------------- the pure fold


def test_nothing_yet_has_zeros_and_no_rates() -> None:
    r = summarise([], [], NOW, nodes=["want", "bought"])
    assert r["sessions"] == {"started": 0, "active": 0, "ended": 0}
    assert r["nodes"] == {
        "want": {"visits": 0, "sessions": 0, "drop_offs": 0, "drop_off_rate": None},
        "bought": {"visits": 0, "sessions": 0, "drop_offs": 0, "drop_off_rate": None},
    }
    assert r["outcomes"]["purchased"] == {"count": 0, "rate": None}
    assert r["completion_rate"] is None
    assert r["median_seconds_to_complete"] is None
    assert r["paths"] == [] and r["distinct_paths"] == 0
    assert r["conversion"]["overall"] == {
        "sessions": 0,
        "converted": 0,
        "rate": None,
        "value": 0.0,
        "value_by_currency": {},
    }
    assert r["conversion"]["by_path"] == []


def test_sessions_started_active_ended() -> None:
    sessions = [
        active("want"),
        active("want size", "webhook"),
        active("want", "handoff"),
        active("want", "calling"),
        ended("want helped"),
        ended("want", "abandoned", "timeout"),
    ]
    assert summarise(sessions, [], NOW)["sessions"] == {"started": 6, "active": 4, "ended": 2}


def test_node_visits_count_entries_and_sessions_count_people() -> None:
    sessions = [
        ended("want want size bought", "purchased"),  # re-entered want (start over)
        ended("want size want size bought", "purchased"),
        active("want"),
    ]
    nodes = summarise(sessions, [], NOW)["nodes"]
    assert {k: (v["visits"], v["sessions"]) for k, v in nodes.items()} == {
        "want": (5, 3),
        "size": (3, 2),
        "bought": (2, 2),
    }


@pytest.mark.parametrize(
    ("outcome", "reason", "dropped"),
    [
        ("abandoned", "timeout", True),
        ("abandoned", "expired", True),
        ("abandoned", "opted_out", False),  # said stop: left, but did not stop answering
        ("abandoned", "ended_by_api", False),
        ("abandoned", "could not send at size: refused", False),
        ("handed_off", "agent_resolved", False),
        ("resolved", None, False),
    ],
)
def test_drop_offs_are_sessions_that_stopped_answering(
    outcome: str, reason: str | None, dropped: bool
) -> None:
    sessions = [ended("want size", outcome, reason), ended("want size bought", "purchased")]
    size = summarise(sessions, [], NOW)["nodes"]["size"]
    assert size["sessions"] == 2
    assert size["drop_offs"] == int(dropped)
    assert size["drop_off_rate"] == (0.5 if dropped else 0.0)


def test_drop_offs_by_node_with_rates_fallback_and_unreached_nodes() -> None:
    sessions = [
        ended("want", "abandoned", "timeout"),
        ended("want", "abandoned", "timeout"),
        ended("want size", "abandoned", "expired"),
        ended("want size __fallback__", "abandoned", "timeout"),
        ended("want size bought", "purchased"),
        ended("want helped"),
        active("want size"),  # still waiting: not a drop-off (yet)
    ]
    nodes = summarise(sessions, [], NOW, nodes=["want", "size", "bought", "helped", "never"])[
        "nodes"
    ]
    assert list(nodes) == ["want", "size", "bought", "helped", "never", "__fallback__"]
    assert {k: (v["drop_offs"], v["drop_off_rate"]) for k, v in nodes.items()} == {
        "want": (2, round(2 / 7, 4)),
        "size": (1, 0.25),
        "bought": (0, 0.0),
        "helped": (0, 0.0),
        "never": (0, None),
        "__fallback__": (1, 1.0),
    }


def test_drop_off_node_is_where_the_session_waited() -> None:
    # The stored node, not the last path entry, names where the person went quiet.
    facts = ended("want size", "abandoned", "timeout", node="want")
    assert summarise([facts], [], NOW)["nodes"]["want"]["drop_offs"] == 1


def test_outcomes_rates_over_ended_and_completion_over_started() -> None:
    sessions = [
        ended("want size bought", "purchased"),
        ended("want size bought", "purchased"),
        ended("want helped", "resolved"),
        ended("want lead", "lead_captured"),
        ended("want", "handed_off", "agent_resolved"),
        ended("want", "abandoned", "timeout"),
        ended("want", "abandoned", "opted_out"),
        ended("want", "abandoned", "timeout"),
        active("want"),
        active("want size"),
    ]
    r = summarise(sessions, [], NOW)
    assert r["outcomes"] == {
        "resolved": {"count": 1, "rate": 0.125},
        "lead_captured": {"count": 1, "rate": 0.125},
        "purchased": {"count": 2, "rate": 0.25},
        "handed_off": {"count": 1, "rate": 0.125},
        "abandoned": {"count": 3, "rate": 0.375},
    }
    assert r["completion_rate"] == 0.5  # 5 of 10 started ended with something to show


@pytest.mark.parametrize(
    ("durations", "median"),
    [
        ([30], 30.0),
        ([30, 90], 60.0),
        ([10, 500, 20], 20.0),
        ([1.25, 1.5], 1.4),  # rounded to a tenth
    ],
)
def test_median_seconds_to_complete(durations: list[float], median: float) -> None:
    sessions = [ended("want helped", seconds=d) for d in durations]
    sessions += [
        ended("want", "abandoned", "timeout", seconds=9_999),  # not completed
        active("want"),
    ]
    assert summarise(sessions, [], NOW)["median_seconds_to_complete"] == median


@pytest.mark.parametrize(
    ("path", "collapsed"),
    [
        ("want", ("want",)),
        ("want want want", ("want",)),
        ("want size size bought", ("want", "size", "bought")),
        ("want size want size", ("want", "size", "want", "size")),  # not consecutive: kept
        ("want __fallback__ want want", ("want", "__fallback__", "want")),
        ("", ()),
    ],
)
def test_collapse_consecutive_repeats(path: str, collapsed: tuple[str, ...]) -> None:
    assert collapse(path.split()) == collapsed


def test_paths_of_ended_sessions_most_frequent_first() -> None:
    sessions = [
        ended("want size bought", "purchased"),
        ended("want want size size bought", "purchased"),  # same path once repeats collapse
        ended("want size want size bought", "purchased"),
        ended("want helped"),
        ended("want", "abandoned", "timeout"),
        ended("want", "abandoned", "timeout"),
        ended("want size bought", "purchased"),
        active("want size"),  # not a path yet
    ]
    r = summarise(sessions, [], NOW)
    assert r["paths"] == [
        {"path": "want > size > bought", "count": 3, "share": round(3 / 7, 4)},
        {"path": "want", "count": 2, "share": round(2 / 7, 4)},
        {"path": "want > helped", "count": 1, "share": round(1 / 7, 4)},
        {"path": "want > size > want > size > bought", "count": 1, "share": round(1 / 7, 4)},
    ]
    assert r["distinct_paths"] == 4


def test_paths_keep_the_top_ones() -> None:
    sessions = [ended(f"want n{i}") for i in range(25)] + [ended("want n7")]
    r = summarise(sessions, [], NOW)
    assert len(r["paths"]) == 20 and r["distinct_paths"] == 25
    assert r["paths"][0] == {"path": "want > n7", "count": 2, "share": round(2 / 26, 4)}
    assert [p["path"] for p in r["paths"][1:3]] == ["want > n0", "want > n1"]  # ties by name
    by_path = r["conversion"]["by_path"]
    assert len(by_path) == 21 and by_path[-1]["path"] == "(other paths)"
    assert by_path[-1]["sessions"] == 5
    assert sum(row["sessions"] for row in by_path) == r["conversion"]["overall"]["sessions"]


@pytest.mark.parametrize(
    ("offset", "converts"),
    [
        (timedelta(seconds=-1), False),  # before the session started
        (timedelta(0), True),
        (timedelta(hours=2), True),
        (timedelta(days=7) - timedelta(seconds=1), True),
        (timedelta(days=7), False),  # the window is [start, start + 7 days)
        (timedelta(days=8), False),
    ],
)
def test_conversion_window(offset: timedelta, converts: bool) -> None:
    session = ended("want size bought", "purchased", contact="c1")
    r = summarise([session], [event("c1", T0 + offset)], NOW)
    assert r["conversion"]["overall"]["converted"] == int(converts)


@pytest.mark.parametrize(
    ("kind", "name", "conversion", "converts"),
    [
        ("purchase", None, "purchase", True),
        ("cart_updated", None, "purchase", False),
        ("custom", "purchase", "purchase", True),  # custom events are known by their name
        ("custom", "demo_booked", "purchase", False),
        ("custom", "demo_booked", "demo_booked", True),
        ("appointment_booked", None, "appointment_booked", True),
        ("purchase", None, "appointment_booked", False),
    ],
)
def test_conversion_event_kind_or_custom_name(
    kind: str, name: str | None, conversion: str, converts: bool
) -> None:
    session = ended("want helped", contact="c1")
    found = event("c1", T0 + timedelta(hours=1), kind, name=name)
    r = summarise([session], [found], NOW, conversion=conversion)
    assert r["conversion"]["event"] == conversion
    assert r["conversion"]["overall"]["converted"] == int(converts)


def test_conversion_ignores_other_contacts_and_events_after_now() -> None:
    session = ended("want helped", contact="c1")
    events = [
        event("c2", T0 + timedelta(hours=1)),
        event("c1", T0 + timedelta(days=2)),  # recorded ahead of time: not yet happened
    ]
    r = summarise([session], events, T0 + timedelta(days=1))
    assert r["conversion"]["overall"]["converted"] == 0
    assert r["conversion"]["window_open"] == 1  # started a day ago: may still convert


def test_conversion_value_is_the_first_converting_event_per_session() -> None:
    first = ended("want size bought", "purchased", contact="c1")
    again = ended("want size bought", "purchased", contact="c1", started=T0 + timedelta(days=3))
    events = [
        event("c1", T0 + timedelta(hours=5), value="70"),
        event("c1", T0 + timedelta(hours=1), value="30.5"),  # the first, whatever the order
        event("c1", T0 + timedelta(days=4), value="20"),
    ]
    r = summarise([first, again], events, NOW)
    overall = r["conversion"]["overall"]
    assert overall["converted"] == 2
    assert overall["value"] == 50.5  # 30.5 for the first session, 20 for the second
    assert overall["value_by_currency"] == {"USD": 50.5}


def test_conversion_by_path_and_overall() -> None:
    sessions = [
        ended("want size bought", "purchased", contact="a"),
        ended("want size size bought", "purchased", contact="b"),
        ended("want size bought", "purchased", contact="c"),
        ended("want helped", contact="d"),
        ended("want", "abandoned", "timeout", contact="e"),
        active("want size", contact="f"),  # not attributed to a path until it ends
    ]
    events = [
        event("a", T0 + timedelta(hours=1), value="40", currency="EUR"),
        event("b", T0 + timedelta(hours=1), value="60", currency="EUR"),
        event("e", T0 + timedelta(days=1), value="15", currency="USD"),
        event("f", T0 + timedelta(hours=1), value="99"),
        event("d", T0 + timedelta(hours=1), "custom", name="purchase", value=None, currency=None),
    ]
    conversion = summarise(sessions, events, NOW)["conversion"]
    assert conversion["window_days"] == 7 and conversion["window_open"] == 0
    assert conversion["by_path"] == [
        {
            "path": "want > size > bought",
            "sessions": 3,
            "converted": 2,
            "rate": 0.6667,
            "value": 100.0,
            "value_by_currency": {"EUR": 100.0},
        },
        {
            "path": "want",
            "sessions": 1,
            "converted": 1,
            "rate": 1.0,
            "value": 15.0,
            "value_by_currency": {"USD": 15.0},
        },
        {
            "path": "want > helped",
            "sessions": 1,
            "converted": 1,
            "rate": 1.0,
            "value": 0.0,
            "value_by_currency": {},
        },
    ]
    assert conversion["overall"] == {
        "sessions": 5,
        "converted": 4,
        "rate": 0.8,
        "value": 115.0,
        "value_by_currency": {"EUR": 100.0, "USD": 15.0},
    }


def test_csv_has_a_section_per_figure() -> None:
    sessions = [
        ended("want size bought", "purchased", contact="a"),
        ended("want", "abandoned", "timeout"),
        active("want"),
    ]
    figures = summarise(
        sessions, [event("a", T0 + timedelta(hours=1))], NOW, nodes=["want", "size"]
    )
    report = {"flow": {"id": "flw_1", "key": "shop", "version": 1}, **figures}
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    assert [r["section"] for r in rows[:5]] == ["summary"] * 5
    by = {(r["section"], r["name"]): r for r in rows}
    assert by["summary", "sessions_started"]["count"] == "3"
    assert by["summary", "completion_rate"]["rate"] == str(round(1 / 3, 4))
    assert by["summary", "median_seconds_to_complete"]["value"] == "60.0"
    assert by["node", "want"] == {
        "section": "node",
        "name": "want",
        "visits": "3",
        "sessions": "3",
        "drop_offs": "1",
        "count": "",
        "converted": "",
        "value": "",
        "rate": str(round(1 / 3, 4)),
        "share": "",
    }
    assert len(by) == len(rows)  # one row per name in each section
    assert by["outcome", "purchased"]["count"] == "1"
    assert by["outcome", "purchased"]["rate"] == "0.5"
    assert by["outcome", "lead_captured"]["rate"] == "0.0"
    assert by["path", "want > size > bought"]["share"] == "0.5"
    assert by["conversion", "(all)"]["converted"] == "1"
    assert by["conversion", "want > size > bought"]["value"] == "10.0"
    assert {r["section"] for r in rows} == {"summary", "node", "outcome", "path", "conversion"}


# ---------------------------------------------------------------- over the real stack

SHOP = """
format: 1
flow: shoe_shop
name: Shoe shop
wait_timeout: 10m
triggers:
  - keyword: [shop]
start: want
nodes:
  - id: want
    type: ask
    text: "{title}"
    reprompt: Sorry, please tap Buy or Question.
    timeout: 10m
    choices:
      - {{id: buy, title: Buy, next: size}}
      - {{id: question, title: Question, next: answered}}
  - id: size
    type: ask
    text: Which size?
    reprompt: Sorry, please tap a size.
    timeout: 10m
    save_as: size
    choices:
      - {{id: small, title: Small}}
      - {{id: large, title: Large}}
    next: bought
  - id: bought
    type: end
    outcome: purchased
    text: Thanks for your order!
  - id: answered
    type: end
    outcome: resolved
    text: Our answers are at shop.example/faq
"""
REPROMPTS = {"Sorry, please tap Buy or Question.": "want", "Sorry, please tap a size.": "size"}
FALLBACK = "Sorry, I can't help"
END_NODES = {"bought": "purchased", "answered": "resolved"}
WAITING_NODES = {"want", "size", "__fallback__"}


def shop(title: str = "Buy something or ask a question?") -> str:
    return SHOP.format(title=title)


@dataclass
class User:
    wa_id: str
    expected: int = 0  # messages from the business on the phone once the worker caught up
    last: str = ""  # what the last of them says
    done: bool = False


def where(text: str) -> str:
    """Which node the bot's last message came from, as the person reads it."""
    if text.startswith(FALLBACK):
        return "__fallback__"
    if text in REPROMPTS:
        return REPROMPTS[text]
    if text == "Which size?":
        return "size"
    if text.startswith("Thanks") or text.startswith("Our answers"):
        return "end"
    return "want"


def shown(item: dict[str, Any]) -> str:
    message = item.get("message", item)
    if message.get("type") == "interactive":
        return str(message["interactive"]["body"]["text"])
    return str(message["text"]["body"])


# What a person may do at each wait: (text, how it is sent), None for silence. The seeded
# random picks uniformly; "Buy" twice makes buying likelier.
ACTIONS: dict[str, list[tuple[str, dict[str, Any] | None]]] = {
    "want": [
        ("Buy", {"type": "button_reply", "payload": "buy"}),
        ("Buy", {"type": "button_reply", "payload": "buy"}),
        ("Question", {"type": "button_reply", "payload": "question"}),
        ("question", {}),
        ("banana", {}),
        ("menu", {}),
        ("", None),
    ],
    "size": [
        ("Large", {"type": "button_reply", "payload": "large"}),
        ("small", {}),
        ("banana", {}),
        ("menu", {}),
        ("", None),
    ],
    "__fallback__": [
        ("Start over", {"type": "button_reply", "payload": "menu"}),
        ("", None),
    ],
}
# The first users follow a script (so every figure is exercised), the rest choose at random.
SCRIPTED: list[list[tuple[str, dict[str, Any] | None]]] = [
    [("Buy", {"type": "button_reply", "payload": "buy"}), ("large", {})],  # purchased
    [("question", {})],  # resolved, typed
    [("Buy", {"type": "button_reply", "payload": "buy"}), ("", None)],  # silent at size
    [("menu", {}), ("Buy", {"type": "button_reply", "payload": "buy"}), ("small", {})],
    [("banana", {}), ("kiwi", {}), ("", None)],  # re-prompt, fallback, silence
    [("", None)],  # never answers
]


async def caught_up(stack: Stack, users: list[User]) -> None:
    behind = list(users)

    async def all_arrived() -> bool:
        while behind:
            inbox = await stack.inbox(behind[0].wa_id)
            if len(inbox) < behind[0].expected:
                return False
            behind.pop(0).last = shown(inbox[-1])
        return True

    await stack.until(all_arrived)


async def simulate(stack: Stack, users: list[User], rng: random.Random, rounds: int = 5) -> None:
    """Everyone says `shop`, then acts on what the bot last said, a round at a time; after
    `rounds`, whoever is still in the flow falls silent."""
    for user in users:
        await stack.add_user(user.wa_id, read=0)  # fewer status webhooks: a faster test
        await stack.user_says(user.wa_id, "I want to shop")
        user.expected = 1
    await caught_up(stack, users)
    for turn in range(rounds):
        if all(u.done for u in users):
            break
        for n, user in enumerate(users):
            if user.done:
                continue
            at = where(user.last)
            if at == "end":
                user.done = True
                continue
            if n < len(SCRIPTED):
                script = SCRIPTED[n]
                text, spec = script[turn] if turn < len(script) else ("", None)
            else:
                text, spec = rng.choice(ACTIONS[at])
            if spec is None:
                user.done = True  # silence from here on
                continue
            await stack.user_says(user.wa_id, text, **spec)
            user.expected += 1
        await caught_up(stack, [u for u in users if not u.done])


async def all_ended(stack: Stack) -> None:
    async def check() -> bool:
        async with stack.sessions() as db:
            open_ = await db.scalar(select(FlowSession.id).where(FlowSession.status != "ended"))
        return open_ is None

    await stack.until(check)


async def analytics(stack: Stack, flow: str, **params: Any) -> dict[str, Any]:
    r = await stack.api.get(f"/api/v1/flows/{flow}/analytics", params=params)
    assert r.status_code == 200, r.text
    report: dict[str, Any] = r.json()
    return report


async def upload(stack: Stack, source: str) -> str:
    r = await stack.api.post("/api/v1/flows", json={"source": source})
    assert r.status_code == 201, r.text
    flow_id: str = r.json()["id"]
    return flow_id


@dataclass
class Observed:
    """One session as its stored messages tell it, without reading flow_sessions."""

    contact_id: str
    started_at: datetime
    sent: list[tuple[str, str | None, datetime]] = field(default_factory=list)  # node, text, at

    @property
    def path(self) -> list[str]:
        return [node for node, text, _ in self.sent if text not in REPROMPTS]

    @property
    def outcome(self) -> str:
        return END_NODES.get(self.sent[-1][0], "abandoned")


async def observed(stack: Stack) -> tuple[dict[str, Observed], dict[str, list[datetime]]]:
    """Sessions from the messages a flow sent; replies (inbound times) by contact."""
    async with stack.sessions() as db:
        rows = list(
            await db.execute(
                select(
                    Message.flow_session_id,
                    Message.flow_node,
                    Message.text,
                    Message.created_at,
                    Message.contact_id,
                    Message.idempotency_key,
                ).where(
                    Message.workspace_id == stack.workspace_id,
                    Message.flow_session_id.is_not(None),
                )
            )
        )
        inbound = list(
            await db.execute(
                select(Message.contact_id, Message.created_at).where(
                    Message.workspace_id == stack.workspace_id, Message.direction == "in"
                )
            )
        )

    def order(row: Any) -> tuple[datetime, int, int]:
        _, _, steps, index = row.idempotency_key.split(":")  # flow:<session>:<step>:<index>
        return row.created_at, int(steps), int(index)

    sessions: dict[str, Observed] = {}
    for row in sorted(rows, key=order):
        seen = sessions.setdefault(
            row.flow_session_id, Observed(contact_id=row.contact_id, started_at=row.created_at)
        )
        seen.sent.append((row.flow_node, row.text, row.created_at))
    replies: defaultdict[str, list[datetime]] = defaultdict(list)
    for contact_id, at in inbound:
        replies[contact_id].append(at)
    return sessions, replies


def expected_figures(
    sessions: dict[str, Observed],
    replies: dict[str, list[datetime]],
    events: list[ContactEvent],
) -> dict[str, Any]:
    """The report's figures, derived from messages and contact events alone."""
    node_sessions: Counter[str] = Counter()
    visits: Counter[str] = Counter()
    drops: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    paths: Counter[str] = Counter()
    durations: list[float] = []
    conversion: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # path -> sessions, converted
    value = Decimal(0)
    for seen in sessions.values():
        node_sessions.update({node for node, _, _ in seen.sent})
        visits.update(seen.path)  # every node of this flow says something when entered
        last_node, _, last_at = seen.sent[-1]
        # Stopped answering: the bot's last word asked something and no reply came after it.
        if last_node in WAITING_NODES and not any(
            at > last_at for at in replies.get(seen.contact_id, [])
        ):
            drops[last_node] += 1
        outcomes[seen.outcome] += 1
        collapsed = " > ".join(collapse(seen.path))
        paths[collapsed] += 1
        if seen.outcome != "abandoned":
            durations.append((last_at - seen.started_at).total_seconds())
        window = [
            e
            for e in events
            if e.contact_id == seen.contact_id
            and (e.kind == "purchase" or (e.kind == "custom" and e.name == "purchase"))
            and seen.started_at <= e.occurred_at < seen.started_at + timedelta(days=7)
        ]
        conversion[collapsed][0] += 1
        if window:
            conversion[collapsed][1] += 1
            value += min(window, key=lambda e: e.occurred_at).value or Decimal(0)
    return {
        "started": len(sessions),
        "node_sessions": dict(node_sessions),
        "visits": dict(visits),
        "drops": dict(drops),
        "outcomes": dict(outcomes),
        "paths": dict(paths),
        "median": statistics.median(durations) if durations else None,
        "conversion": {k: tuple(v) for k, v in conversion.items()},
        "converted": sum(v[1] for v in conversion.values()),
        "value": float(value),
    }


async def record(stack: Stack, key: str, contact_id: str, at: datetime, **body: Any) -> None:
    r = await stack.api.post(
        "/api/v1/events",
        json={
            "idempotency_key": key,
            "contact_id": contact_id,
            "occurred_at": at.isoformat(),
            **body,
        },
    )
    assert r.status_code == 201, r.text


async def test_report_matches_the_stored_messages_and_events(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        flow_id = await upload(stack, shop())
        users = [User(f"55119000{n:05d}") for n in range(12)]
        await simulate(stack, users, random.Random(20260310))
        started = stack.clock.now()
        stack.clock.advance(timedelta(minutes=11))  # every wait (10m) runs out
        await all_ended(stack)

        # Purchases: in the window, before the start, too late, twice, as a custom event,
        # and a cart update that is not one.
        contacts = [await stack.contact_for(u.wa_id) for u in users]
        rng = random.Random(7)
        picked = rng.sample(contacts, 6)
        hour = timedelta(hours=1)
        money = {"kind": "purchase", "currency": "BRL"}
        await record(stack, "p1", picked[0], started + hour, value="129.90", **money)
        await record(stack, "p2", picked[1], started - 3 * hour, value="50", **money)
        await record(stack, "p3", picked[2], started + timedelta(days=8), value="80", **money)
        await record(stack, "p4a", picked[3], started + 2 * hour, value="30", **money)
        await record(stack, "p4b", picked[3], started + 3 * hour, value="70", **money)
        await record(stack, "p5", picked[4], started + 5 * hour, kind="custom", name="purchase")
        cart = {"kind": "cart_updated", "properties": {"cart_id": "k1"}}
        await record(stack, "p6", picked[5], started + hour, **cart)
        stack.clock.advance(timedelta(days=9))  # past every window

        report = await analytics(stack, flow_id)
        seen, replies = await observed(stack)
        async with stack.sessions() as db:
            events = list(await db.scalars(select(ContactEvent)))
        want = expected_figures(seen, replies, events)

        assert report["flow"]["id"] == flow_id
        assert report["flow"]["key"] == "shoe_shop" and report["flow"]["version"] == 1
        assert report["sessions"] == {"started": 12, "active": 0, "ended": 12}
        assert want["started"] == 12
        nodes = report["nodes"]
        assert {k: v["sessions"] for k, v in nodes.items() if v["sessions"]} == want[
            "node_sessions"
        ]
        assert {k: v["visits"] for k, v in nodes.items() if v["visits"]} == want["visits"]
        assert {k: v["drop_offs"] for k, v in nodes.items() if v["drop_offs"]} == want["drops"]
        for figures in nodes.values():
            if figures["sessions"]:
                rate = figures["drop_offs"] / figures["sessions"]
                assert figures["drop_off_rate"] == round(rate, 4)
        assert {k: v["count"] for k, v in report["outcomes"].items() if v["count"]} == want[
            "outcomes"
        ]
        # here every abandoned session stopped answering somewhere
        assert sum(want["drops"].values()) == want["outcomes"]["abandoned"]
        completed = 12 - want["outcomes"]["abandoned"]
        assert report["completion_rate"] == round(completed / 12, 4)
        assert report["median_seconds_to_complete"] == pytest.approx(want["median"], abs=0.06)
        assert {p["path"]: p["count"] for p in report["paths"]} == want["paths"]
        assert sum(p["share"] for p in report["paths"]) == pytest.approx(1, abs=1e-3)

        conversion = report["conversion"]
        assert conversion["event"] == "purchase" and conversion["window_open"] == 0
        by_path = {c["path"]: (c["sessions"], c["converted"]) for c in conversion["by_path"]}
        assert by_path == want["conversion"]
        assert conversion["overall"]["converted"] == want["converted"] == 3
        assert conversion["overall"]["value"] == pytest.approx(want["value"]) == 159.9
        assert conversion["overall"]["value_by_currency"] == {"BRL": 159.9}

        # The simulation went where it should: every figure has something to count.
        assert {"purchased", "resolved", "abandoned"} <= set(want["outcomes"])
        assert {"want", "size", "__fallback__"} <= set(want["drops"])
        assert nodes["want"]["visits"] > nodes["want"]["sessions"]  # someone started over
        assert list(nodes)[:4] == ["want", "size", "bought", "answered"]

        # Another conversion event: none of these were demos.
        other = await analytics(stack, flow_id, conversion="demo_booked")
        assert other["conversion"]["overall"]["converted"] == 0
        assert other["nodes"] == report["nodes"]

        r = await stack.api.get(f"/api/v1/flows/{flow_id}/analytics", params={"format": "csv"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        sheet = {(row["section"], row["name"]): row for row in rows}
        assert sheet["summary", "sessions_started"]["count"] == "12"
        for node, figures in nodes.items():
            assert sheet["node", node]["sessions"] == str(figures["sessions"])
            assert sheet["node", node]["drop_offs"] == str(figures["drop_offs"])
        for path, count in want["paths"].items():
            assert sheet["path", path]["count"] == str(count)
        assert sheet["conversion", "(all)"]["converted"] == "3"


async def test_versions_have_their_own_figures_and_workspaces_their_own_flows(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        v1 = await upload(stack, shop())
        first = [User("551190001001"), User("551190001002")]
        await simulate(stack, first, random.Random(1), rounds=0)  # both asked, both silent
        v2 = await upload(stack, shop("What brings you here?"))
        second = [User("551190002001")]
        for user in second:
            await stack.add_user(user.wa_id)
            await stack.user_says(user.wa_id, "shop")
            user.expected = 1
        await caught_up(stack, second)
        await stack.user_says(second[0].wa_id, "Question", type="button_reply", payload="question")
        second[0].expected = 2
        await caught_up(stack, second)
        stack.clock.advance(timedelta(minutes=11))
        await all_ended(stack)

        old = await analytics(stack, v1)
        assert old["flow"] == {
            "id": v1,
            "key": "shoe_shop",
            "version": 1,
            "name": "Shoe shop",
            "active": False,
        }
        assert old["sessions"]["started"] == 2
        assert old["nodes"]["want"]["drop_offs"] == 2
        assert old["outcomes"]["abandoned"]["count"] == 2

        new = await analytics(stack, "shoe_shop")  # by key: the active version
        assert new["flow"]["id"] == v2 and new["flow"]["version"] == 2
        assert new["sessions"]["started"] == 1
        assert new["outcomes"]["resolved"] == {"count": 1, "rate": 1.0}
        assert new["paths"] == [{"path": "want > answered", "count": 1, "share": 1.0}]
        assert (await analytics(stack, v1, version=2))["flow"]["id"] == v2
        assert (await analytics(stack, "shoe_shop", version=1))["flow"]["id"] == v1

        missing = await stack.api.get(f"/api/v1/flows/{v1}/analytics", params={"version": 3})
        assert missing.status_code == 404, missing.text

        async with transaction(stack.sessions) as db:
            other = await create_workspace(db, "Another Shop", stack.clock.now())
        async with httpx.AsyncClient(
            base_url=stack.base_url, headers={"Authorization": f"Bearer {other.api_key}"}
        ) as b:
            for ref in (v1, v2, "shoe_shop"):
                r = await b.get(f"/api/v1/flows/{ref}/analytics")
                assert r.status_code == 404, r.text
                r = await b.get(f"/api/v1/flows/{ref}/analytics", params={"format": "csv"})
                assert r.status_code == 404, r.text
            # B's own flow of the same key knows nothing of A's sessions.
            r = await b.post("/api/v1/flows", json={"source": shop()})
            assert r.status_code == 201, r.text
            r = await b.get("/api/v1/flows/shoe_shop/analytics")
            assert r.status_code == 200, r.text
            assert r.json()["sessions"] == {"started": 0, "active": 0, "ended": 0}
