"""Status events processed in batched rounds (a channel's statuses of a round together) end
in exactly the state that processing them one by one gives: for random streams over several
contacts with duplicates, out-of-order and late statuses, failures, unknown messages and
sends whose answer was lost (matched by callback data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import T0, channel_row, contact_row
from threadline.channels import events as ev
from threadline.channels.models import ChannelAccount
from threadline.inbox import deliveries
from threadline.inbox import service as inbox
from threadline.kit.clock import FrozenClock
from threadline.kit.db import transaction
from threadline.kit.ids import new_id
from threadline.messages.models import Message, MessageStatus
from threadline.worker.ingest import ingest_once
from threadline.workspaces.service import create_workspace

CONTACTS, PER_CONTACT = 3, 3
MESSAGES = CONTACTS * PER_CONTACT
STATUSES = ["sent", "delivered", "read", "failed"]


@dataclass(frozen=True)
class Report:
    message: int  # index 0..MESSAGES-1; MESSAGES means a message we never sent
    status: str
    seconds: int
    lost_answer: bool  # the platform id was never recorded: found by callback data


reports = st.lists(
    st.builds(
        Report,
        message=st.integers(0, MESSAGES),
        status=st.sampled_from(STATUSES),
        seconds=st.integers(0, 600),
        lost_answer=st.booleans(),
    ),
    min_size=1,
    max_size=40,
)


async def setup(session: AsyncSession) -> tuple[list[ChannelAccount], list[list[Message]]]:
    workspace = (await create_workspace(session, f"W {new_id('w')}", T0)).workspace
    channels = [channel_row(workspace.id), channel_row(workspace.id)]
    session.add_all(channels)
    sent: list[list[Message]] = [[], []]
    for c in range(CONTACTS):
        contact = contact_row(workspace.id)
        session.add(contact)
        for side, channel in enumerate(channels):
            for n in range(PER_CONTACT):
                sent[side].append(
                    Message(
                        id=new_id("msg"),
                        workspace_id=workspace.id,
                        contact_id=contact.id,
                        channel_id=channel.id,
                        direction="out",
                        address=f"whatsapp:5511900000{c:03d}",
                        kind="text",
                        content={"type": "text", "body": "hi"},
                        text="hi",
                        purpose="service",
                        status="accepted",
                        provider_id=None if n == 2 else f"wamid.{side}.{c}.{n}",
                        attempts=1,
                        created_at=T0,
                        updated_at=T0,
                    )
                )
    session.add_all(sent[0] + sent[1])
    await session.flush()
    return channels, sent


def event(side: int, report: Report, sent: list[Message]) -> ev.StatusUpdate:
    known = report.message < MESSAGES
    message = sent[report.message] if known else None
    external = message.provider_id if message and message.provider_id else None
    if external is None:
        index = report.message if known else "never"
        external = f"wamid.{side}.late.{index}"
    failed = report.status == "failed"
    return ev.StatusUpdate(
        account="pn",
        external_id=external,
        status=report.status,
        timestamp=T0 + timedelta(seconds=report.seconds),
        recipient=message.address.split(":", 1)[1] if message else "5511999999999",
        errors=(ev.ErrorDetail(131026, "Message undeliverable"),) if failed else (),
        callback_data=message.id if message and report.lost_answer else None,
    )


async def outcome(session: AsyncSession, sent: list[Message]) -> list[tuple[Any, ...]]:
    rows = []
    for message in sent:
        fresh = await session.get(Message, message.id, populate_existing=True)
        assert fresh is not None
        history = sorted(
            (h.status, h.occurred_at, h.error_code)
            for h in await session.scalars(
                select(MessageStatus).where(MessageStatus.message_id == message.id)
            )
        )
        provider_side = (fresh.provider_id or "").split(".", 2)[-1]
        rows.append((fresh.status, fresh.error_code, fresh.error_class, provider_side, history))
    return rows


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(stream=reports)
async def test_batched_rounds_end_where_one_by_one_ends(
    stream: list[Report], sessions: async_sessionmaker[AsyncSession]
) -> None:
    clock = FrozenClock(T0 + timedelta(hours=1))
    async with transaction(sessions) as session:
        channels, sent = await setup(session)
    batched, single = channels
    async with transaction(sessions) as session:
        events = [event(0, report, sent[0]) for report in stream]
        await inbox.store(session, batched, events, clock.now())
    while await ingest_once(sessions, clock):
        pass
    seen: set[str] = set()
    for report in stream:
        one = event(1, report, sent[1])
        if one.dedupe_key in seen:
            continue  # the inbox stores a redelivered status once: so does this path
        seen.add(one.dedupe_key)
        async with transaction(sessions) as session:
            channel = await session.get(ChannelAccount, single.id)
            assert channel is not None
            await deliveries.status(session, channel, one, clock.now())
    async with sessions() as session:
        assert await outcome(session, sent[0]) == await outcome(session, sent[1])
