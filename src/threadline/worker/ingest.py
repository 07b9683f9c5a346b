"""Processes stored platform events: claim in per-contact order, one transaction each."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from threadline.channels.models import ChannelAccount
from threadline.inbox import service as inbox
from threadline.inbox.models import InboxEvent
from threadline.inbox.processor import process
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
    async with transaction(sessions) as session:
        claimed = [row.id for row in await inbox.claim(session, clock.now(), limit)]
    for event_id in claimed:
        try:
            async with transaction(sessions) as session:
                row = await session.get(InboxEvent, event_id)
                assert row is not None
                channel = await session.get(ChannelAccount, row.channel_id)
                workspace = await session.get(Workspace, row.workspace_id)
                assert channel is not None and workspace is not None
                await process(session, row, channel, workspace, clock.now())
                await inbox.finish(session, event_id, clock.now())
        except Exception as exc:  # one bad event must not stop the others
            log.exception("processing inbox event %s failed", event_id)
            async with transaction(sessions) as session:
                row = await session.get(InboxEvent, event_id)
                if row is not None:
                    await inbox.fail(session, row, f"{type(exc).__name__}: {exc}", clock.now())
    return len(claimed)
