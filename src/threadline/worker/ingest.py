"""Processes stored platform events: claim in per-contact order, one transaction a round."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from threadline.channels.models import ChannelAccount
from threadline.inbox import service as inbox
from threadline.inbox.models import InboxEvent
from threadline.inbox.processor import process, process_statuses
from threadline.kit.clock import Clock
from threadline.kit.db import transaction
from threadline.workspaces.models import Workspace

log = logging.getLogger("threadline.ingest")


async def ingest_once(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, limit: int = 100, rounds: int = 20
) -> int:
    """Process pending events; returns how many were handled. A claim takes only the head
    event of each contact (that is what keeps one contact's events in order across
    workers), so a contact with several waiting events needs several rounds."""
    handled = 0
    for _ in range(rounds):
        done = await _one_round(sessions, clock, limit)
        handled += done
        if not done:
            break
    return handled


async def _one_round(sessions: async_sessionmaker[AsyncSession], clock: Clock, limit: int) -> int:
    """One transaction for the whole round: claim, process each event in a savepoint (a
    failing event rolls back alone and is marked for retry), mark the rest done in one
    statement, commit once. Commits, not statements, were the cost of one per event."""
    async with transaction(sessions) as session:
        now = clock.now()
        claimed = await inbox.claim(session, now, limit)
        done: list[str] = []
        one_by_one = [row for row in claimed if row.kind != inbox.STATUS_KIND]
        for rows in _statuses_by_channel(claimed).values():
            if await _statuses_together(session, rows, now):
                done += [row.id for row in rows]
            else:
                one_by_one += rows
        for row in one_by_one:
            if await _alone(session, row, now):
                done.append(row.id)
        await inbox.finish_many(session, done, now)
    return len(claimed)


def _statuses_by_channel(rows: list[InboxEvent]) -> dict[str, list[InboxEvent]]:
    grouped: defaultdict[str, list[InboxEvent]] = defaultdict(list)
    for row in rows:
        if row.kind == inbox.STATUS_KIND:
            grouped[row.channel_id].append(row)
    return grouped


async def _statuses_together(session: AsyncSession, rows: list[InboxEvent], now: datetime) -> bool:
    """A channel's status events of the round in a few statements (a claim holds one event
    per contact, so no two are about one message). False: something failed, and they are
    tried one by one instead, so the failure is pinned on its own event."""
    try:
        async with session.begin_nested():
            channel = await session.get(ChannelAccount, rows[0].channel_id)
            assert channel is not None
            await process_statuses(session, channel, rows, now)
    except Exception:  # retried one by one, where errors are recorded per event
        log.warning("a batch of %d status events failed; processing them one by one", len(rows))
        return False
    return True


async def _alone(session: AsyncSession, row: InboxEvent, now: datetime) -> bool:
    try:
        async with session.begin_nested():
            await _process(session, row, now)
    except Exception as exc:  # one bad event must not stop the others
        log.exception("processing inbox event %s failed", row.id)
        await inbox.fail(session, row, f"{type(exc).__name__}: {exc}", now)
        return False
    return True


async def _process(session: AsyncSession, row: InboxEvent, now: datetime) -> None:
    channel = await session.get(ChannelAccount, row.channel_id)
    workspace = await session.get(Workspace, row.workspace_id)
    assert channel is not None and workspace is not None
    await process(session, row, channel, workspace, now)
