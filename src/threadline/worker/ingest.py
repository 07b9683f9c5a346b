"""Processes stored platform events: claim in per-contact order, one transaction a round."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from threadline.channels.models import ChannelAccount
from threadline.inbox import service as inbox
from threadline.inbox.models import InboxEvent
from threadline.inbox.processor import process, process_messages, process_statuses
from threadline.kit.clock import Clock
from threadline.kit.db import transaction
from threadline.workspaces.models import Workspace

log = logging.getLogger("threadline.ingest")

Together = Callable[
    [AsyncSession, ChannelAccount, Workspace, Sequence[InboxEvent], datetime], Awaitable[None]
]


async def _statuses(
    session: AsyncSession,
    channel: ChannelAccount,
    _workspace: Workspace,
    rows: Sequence[InboxEvent],
    now: datetime,
) -> None:
    await process_statuses(session, channel, rows, now)


# The kinds that come in bulk are handled a channel's worth at a time, in a few statements.
TOGETHER: dict[str, Together] = {inbox.STATUS_KIND: _statuses, inbox.MESSAGE_KIND: process_messages}


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
    """One transaction for the whole round: claim, process the bulk kinds a channel at a
    time and the rest one by one, each in a savepoint (a failing batch is retried one by
    one, so the failure is pinned on its own event, which rolls back alone and is marked
    for retry), mark the rest done in one statement, commit once. Commits and statements
    per event, not work, were the cost."""
    async with transaction(sessions) as session:
        now = clock.now()
        claimed = await inbox.claim(session, now, limit)
        done: list[str] = []
        one_by_one = [row for row in claimed if row.kind not in TOGETHER]
        for (kind, _), rows in _bulk_by_channel(claimed).items():
            if await _together(session, TOGETHER[kind], rows, now):
                done += [row.id for row in rows]
            else:
                one_by_one += rows
        for row in sorted(one_by_one, key=lambda r: (r.received_at, r.id)):
            if await _alone(session, row, now):
                done.append(row.id)
        await inbox.finish_many(session, done, now)
    return len(claimed)


def _bulk_by_channel(rows: list[InboxEvent]) -> dict[tuple[str, str], list[InboxEvent]]:
    grouped: defaultdict[tuple[str, str], list[InboxEvent]] = defaultdict(list)
    for row in rows:
        if row.kind in TOGETHER:
            grouped[(row.kind, row.channel_id)].append(row)
    return grouped


async def _together(
    session: AsyncSession, handler: Together, rows: list[InboxEvent], now: datetime
) -> bool:
    """False: something failed, and the events are tried one by one instead."""
    try:
        async with session.begin_nested():
            channel, workspace = await _owners(session, rows[0])
            await handler(session, channel, workspace, rows, now)
    except Exception:  # retried one by one, where errors are recorded per event
        log.warning(
            "a batch of %d %s events failed; processing them one by one", len(rows), rows[0].kind
        )
        return False
    return True


async def _alone(session: AsyncSession, row: InboxEvent, now: datetime) -> bool:
    try:
        async with session.begin_nested():
            channel, workspace = await _owners(session, row)
            await process(session, row, channel, workspace, now)
    except Exception as exc:  # one bad event must not stop the others
        log.exception("processing inbox event %s failed", row.id)
        await inbox.fail(session, row, f"{type(exc).__name__}: {exc}", now)
        return False
    return True


async def _owners(session: AsyncSession, row: InboxEvent) -> tuple[ChannelAccount, Workspace]:
    """The event's channel and workspace (loaded once per round: the session keeps them)."""
    channel = await session.get(ChannelAccount, row.channel_id)
    workspace = await session.get(Workspace, row.workspace_id)
    assert channel is not None and workspace is not None
    return channel, workspace
