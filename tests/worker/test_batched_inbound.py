"""Inbound messages processed in batched rounds (a channel's messages of a round together,
loaded with set-based queries) end in exactly the state that processing them one by one
gives: for random streams over several contacts with redeliveries, late and out-of-order
timestamps, STOP / START / HELP, flow starts by keyword and by first message, typed and
tapped answers, a handoff to people, and people writing with and without their number
shown, and a flow that tags the person and reads the tag when it starts again. And one
person's messages under two identities that meet in one round are taken in their order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import T0, channel_row
from threadline.channels import events as ev
from threadline.channels.models import ChannelAccount
from threadline.consent.models import ConsentEvent
from threadline.contacts.models import Contact, ContactTag, ContactURN
from threadline.conversations.models import Conversation
from threadline.flows import service as flow_service
from threadline.flows.loader import Bundle
from threadline.flows.models import FlowSession
from threadline.inbox import service as inbox
from threadline.kit.clock import FrozenClock
from threadline.kit.db import Base, transaction
from threadline.kit.ids import new_id
from threadline.messages.models import Message
from threadline.tickets.models import Ticket
from threadline.worker.ingest import ingest_once
from threadline.workspaces.models import Workspace
from threadline.workspaces.service import create_workspace

SHOP = """
format: 1
flow: shop
name: Shop
purpose: service
triggers:
  - keyword: [shop]
start: known
nodes:
  - id: known
    type: branch
    cases:
      - when: {tag: small_buyer}
        next: again
    default: size
  - id: again
    type: say
    text: "Small again?"
    next: size
  - id: size
    type: ask
    text: "Which size?"
    choices:
      - {id: small, title: Small, next: remember}
      - {id: large, title: Large, next: person}
  - id: remember
    type: set
    tags: {add: [small_buyer]}
    next: thanks
  - id: thanks
    type: say
    text: "Thanks!"
    next: done
  - id: person
    type: handoff
    team: sales
    summary: "wants the large one"
    text: "A person will help you."
  - id: done
    type: end
    outcome: resolved
"""
WELCOME = """
format: 1
flow: welcome
name: Welcome
purpose: service
triggers:
  - first_inbound: true
start: hello
nodes:
  - id: hello
    type: say
    text: "Welcome!"
    next: done
  - id: done
    type: end
    outcome: resolved
"""
PEOPLE = 4
WORDS = ["hello", "shop", "STOP", "START", "HELP", "Small", "Large", "stop sending me this"]
TAPS = ["small", "large"]


@dataclass(frozen=True)
class Said:
    person: int
    words: str
    tapped: bool  # a tap on the flow's button (payload = choice id) instead of typing
    as_user_id: bool  # the number hidden: only the business-scoped user id comes
    seconds: int
    again: bool  # the platform redelivers the previous message


streams = st.lists(
    st.builds(
        Said,
        person=st.integers(0, PEOPLE - 1),
        words=st.sampled_from(WORDS + TAPS),
        tapped=st.booleans(),
        as_user_id=st.booleans(),
        seconds=st.integers(-300, 300),
        again=st.booleans(),
    ),
    min_size=1,
    max_size=30,
)


def events_of(stream: list[Said], account: str) -> list[ev.InboundMessage]:
    events: list[ev.InboundMessage] = []
    for n, said in enumerate(stream):
        if said.again and events:
            events.append(events[-1])
            continue
        phone, user = f"55119000000{said.person:02d}", f"BR.{said.person}"
        sender = (
            ev.Sender(address=user, user_id=user, name=f"P{said.person}")
            if said.as_user_id
            else ev.Sender(address=phone, phone_id=phone, user_id=user, name=f"P{said.person}")
        )
        tap = said.tapped and said.words in TAPS
        events.append(
            ev.InboundMessage(
                account=account,
                external_id=f"wamid.{n}",
                sender=sender,
                timestamp=T0 + timedelta(hours=1, seconds=said.seconds),
                kind="interactive/button_reply" if tap else "text",
                text=said.words.title() if said.words in TAPS else said.words,
                payload=said.words if tap else None,
            )
        )
    return events


async def workspace_with_flows(session: AsyncSession) -> ChannelAccount:
    workspace = (await create_workspace(session, f"Shop {new_id('w')}", T0)).workspace
    channel = channel_row(workspace.id)
    session.add(channel)
    for source in (SHOP, WELCOME):
        await flow_service.upload(session, workspace.id, Bundle(main=source), T0)
    return channel


# Columns that name rows of their own workspace, or say when the row was written: they
# differ between the two workspaces by construction, not by what happened.
NOT_COMPARED = {"id", "workspace_id", "contact_id", "active_contact_id", "open_contact_id"}
NOT_COMPARED |= {"channel_id", "flow_id", "session_id", "flow_session_id", "idempotency_key"}


def columns(row: Base) -> dict[str, Any]:
    mapper = inspect(type(row))
    return {c.key: getattr(row, c.key) for c in mapper.column_attrs if c.key not in NOT_COMPARED}


def comparable(value: Any, workspace_name: str) -> Any:
    """Ticket histories and flow states mention rows by id, and the HELP answer names the
    workspace; keep what they say about the person."""
    if isinstance(value, dict):
        return {k: comparable(v, workspace_name) for k, v in value.items() if not k.endswith("id")}
    if isinstance(value, list):
        return [comparable(v, workspace_name) for v in value]
    if isinstance(value, str):
        return value.replace(workspace_name, "<workspace>")
    return value


async def state_of(session: AsyncSession, workspace_id: str) -> dict[str, Any]:
    """Everything the messages changed, per contact name, comparable across workspaces."""
    workspace = await session.get(Workspace, workspace_id)
    assert workspace is not None
    people: dict[str, Any] = {}
    for contact in await session.scalars(
        select(Contact).where(Contact.workspace_id == workspace_id)
    ):
        rows: dict[str, list[Any]] = {}
        for model in (
            ContactURN,
            ContactTag,
            Conversation,
            Message,
            ConsentEvent,
            FlowSession,
            Ticket,
        ):
            found = await session.scalars(select(model).where(model.contact_id == contact.id))
            rows[model.__name__] = sorted(
                (comparable(columns(row), workspace.name) for row in found), key=repr
            )
        assert contact.name not in people, f"{contact.name} has two contacts"
        person = comparable(columns(contact), workspace.name) | {"holdout_bucket": None}
        people[contact.name] = (person, rows)
    return people


async def process(
    sessions: async_sessionmaker[AsyncSession], events: list[ev.InboundMessage], limit: int
) -> str:
    clock = FrozenClock(T0 + timedelta(hours=1))
    async with transaction(sessions) as session:
        channel = await workspace_with_flows(session)
        await inbox.store(session, channel, events, clock.now())
    while await ingest_once(sessions, clock, limit=limit):
        pass
    return channel.workspace_id


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(stream=streams)
async def test_batched_rounds_end_where_one_by_one_ends(
    stream: list[Said], sessions: async_sessionmaker[AsyncSession]
) -> None:
    events = events_of(stream, "pn")
    batched = await process(sessions, events, limit=100)
    one_by_one = await process(sessions, events, limit=1)
    async with sessions() as session:
        assert await state_of(session, batched) == await state_of(session, one_by_one)


async def test_a_batch_does_what_each_message_asks(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The comparison above would pass if batching did nothing at all: check that a batch of
    several people's messages really starts flows, confirms STOP and opens a ticket."""
    stream = [
        Said(0, "shop", False, False, 0, False),
        Said(1, "STOP", False, False, 0, False),
        Said(2, "hello", False, False, 0, False),
        Said(0, "large", True, True, 5, False),
        Said(3, "shop", False, False, 0, False),
        Said(3, "small", True, False, 1, False),
        Said(3, "shop", False, False, 2, False),
    ]
    workspace_id = await process(sessions, events_of(stream, "pn"), limit=100)
    async with sessions() as session:
        state = await state_of(session, workspace_id)
    sent = {
        name: [m["text"] for m in rows["Message"] if m["direction"] == "out"]
        for name, (_, rows) in state.items()
    }
    assert sorted(sent["P0"]) == ["A person will help you.", "Which size?"]
    assert sent["P2"] == ["Welcome!"]
    # the tag the first visit set is what the second start reads
    assert sorted(sent["P3"]) == ["Small again?", "Thanks!", "Which size?", "Which size?"]
    assert len(sent["P1"]) == 1 and "unsubscribed" in sent["P1"][0].lower()
    assert [t["status"] for t in state["P0"][1]["Ticket"]] == ["open"]
    assert [(c["action"], c["source"]) for c in state["P1"][1]["ConsentEvent"]] == [
        ("revoke", "keyword")
    ]


async def test_one_persons_messages_under_two_identities_in_one_round_keep_their_order(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A message without the user id (an older payload) and one with only the user id are
    ordered by different keys, so one round claims both; the batch takes them in turn."""
    linked = ev.Sender(address="5511900000000", phone_id="5511900000000", user_id="BR.0")
    legacy = ev.Sender(address="5511900000000", phone_id="5511900000000", name="P0")
    hidden = ev.Sender(address="BR.0", user_id="BR.0", name="P0")
    at = T0 + timedelta(hours=1)
    first = ev.InboundMessage("pn", "wamid.a", linked, at, "text", text="thanks")
    later = [
        ev.InboundMessage("pn", "wamid.b", legacy, at, "text", text="shop"),
        ev.InboundMessage("pn", "wamid.c", hidden, at, "text", text="Large"),
    ]
    ids = []
    for limit in (100, 1):
        clock = FrozenClock(at)
        async with transaction(sessions) as session:
            channel = await workspace_with_flows(session)
            await inbox.store(session, channel, [first], clock.now())
        await ingest_once(sessions, clock, limit=limit)
        async with transaction(sessions) as session:
            claimed = await inbox.store(session, channel, later, clock.now())
        assert claimed == (2, 0)
        await ingest_once(sessions, clock, limit=limit)
        ids.append(channel.workspace_id)
    async with sessions() as session:
        batched, one_by_one = [await state_of(session, w) for w in ids]
    assert batched == one_by_one
    (person,) = batched.values()
    said = [m["text"] for m in sorted(person[1]["Message"], key=lambda m: m["created_at"])]
    assert "A person will help you." in said  # "shop" started the flow before "Large" answered
