"""Group commit: concurrent deliveries share commits, each is answered with its own counts
only once its rows are durable, duplicates (across deliveries too) are stored once, and a
delivery the database refuses fails alone."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import T0, channel_row
from threadline.channels.events import InboundMessage, Sender
from threadline.inbox.group_commit import GroupCommit
from threadline.inbox.models import InboxEvent
from threadline.workspaces.service import create_workspace


@dataclass(frozen=True)
class Ref:
    id: str
    workspace_id: str
    account_id: str


def message(n: int) -> InboundMessage:
    return InboundMessage(
        account="pn-1",
        external_id=f"wamid.{n}",
        sender=Sender(address=f"55119{n:08d}"),
        timestamp=T0 + timedelta(seconds=n),
        kind="text",
        text=f"hello {n}",
    )


async def a_channel(sessions: async_sessionmaker[AsyncSession]) -> Ref:
    async with sessions() as session, session.begin():
        workspace = (await create_workspace(session, "Shop", T0)).workspace
        row = channel_row(workspace.id)
        session.add(row)
    return Ref(row.id, row.workspace_id, row.account_id)


async def stored(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(select(InboxEvent.dedupe_key).order_by(InboxEvent.id))
        return list(rows)


async def test_concurrent_deliveries_share_commits_and_each_gets_its_own_answer(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    channel = await a_channel(sessions)
    ingest = GroupCommit(sessions)
    deliveries = [[message(n), message(n + 1)] for n in range(0, 200, 2)]
    deliveries.append([message(0), message(500)])  # one old event, one new
    answers = await asyncio.gather(*(ingest.store([(channel, d)], T0) for d in deliveries))
    assert answers[:100] == [(2, 0)] * 100
    assert answers[100] == (1, 1)
    assert ingest.commits < len(deliveries) / 5, f"{ingest.commits} commits for 101 deliveries"
    keys = await stored(sessions)
    assert len(keys) == len(set(keys)) == 201
    again = await ingest.store([(channel, deliveries[0])], T0)
    assert again == (0, 2)


async def test_the_same_event_in_two_deliveries_of_one_batch_is_stored_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    channel = await a_channel(sessions)
    ingest = GroupCommit(sessions)
    first, second = await asyncio.gather(
        ingest.store([(channel, [message(7)])], T0), ingest.store([(channel, [message(7)])], T0)
    )
    assert sorted([first, second]) == [(0, 1), (1, 0)]
    assert await stored(sessions) == ["msg:wamid.7"]


async def test_a_delivery_the_database_refuses_fails_alone(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    channel = await a_channel(sessions)
    gone = Ref("chn_missing", channel.workspace_id, "waba-1")  # no such channel: FK refuses
    ingest = GroupCommit(sessions)
    good, bad = await asyncio.gather(
        ingest.store([(channel, [message(1)])], T0),
        ingest.store([(gone, [message(2)])], T0),
        return_exceptions=True,
    )
    assert good == (1, 0)
    assert isinstance(bad, Exception)
    assert await stored(sessions) == ["msg:wamid.1"]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(InboxEvent)) == 1


async def test_an_empty_delivery_commits_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ingest = GroupCommit(sessions)
    assert await ingest.store([], T0) == (0, 0)
    assert ingest.commits == 0
    await ingest.aclose()


@pytest.mark.parametrize("max_rows", [1, 3])
async def test_batches_never_exceed_max_rows_but_take_at_least_one_delivery(
    max_rows: int, sessions: async_sessionmaker[AsyncSession]
) -> None:
    channel = await a_channel(sessions)
    ingest = GroupCommit(sessions, max_rows=max_rows)
    big = [message(n) for n in range(5)]  # more rows than max_rows: still one commit
    small = [[message(100 + n)] for n in range(6)]
    answers = await asyncio.gather(
        ingest.store([(channel, big)], T0), *(ingest.store([(channel, d)], T0) for d in small)
    )
    assert answers == [(5, 0)] + [(1, 0)] * 6
    assert ingest.commits >= 1 + 6 // max_rows
