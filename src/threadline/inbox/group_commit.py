"""Group commit for webhook ingest: the deliveries that arrive while one commit is under way
are stored together by the next, in one multi-row insert and one commit, and each request is
answered only after the commit that holds its rows. So an acknowledgement still means the
events are durable, and a burst of webhooks costs a few commits instead of one each.

No delivery waits for a timer: when the committer is idle, a delivery is flushed at once;
batching comes only from arrivals during a flush. If a shared commit fails, each delivery of
that batch is retried on its own, so one bad delivery fails alone."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from threadline.channels.events import ChannelEvent
from threadline.inbox.service import ChannelRef, insert_new, rows_for
from threadline.kit.db import transaction

log = logging.getLogger("threadline.ingest")


@dataclass
class _Delivery:
    rows: list[dict[str, Any]]
    answer: asyncio.Future[tuple[int, int]] = field(repr=False)


class GroupCommit:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], max_rows: int = 5000) -> None:
        self._sessions = sessions
        self._max_rows = max_rows
        self._waiting: deque[_Delivery] = deque()
        self._flusher: asyncio.Task[None] | None = None
        self.commits = 0  # for benchmarks and tests: how many commits carried the deliveries

    async def store(
        self,
        parts: Sequence[tuple[ChannelRef, Sequence[ChannelEvent]]],
        now: datetime,
    ) -> tuple[int, int]:
        """Store one delivery (its events, grouped by the channel they belong to); returns
        (stored, duplicates) once they are committed."""
        rows = [row for channel, events in parts for row in rows_for(channel, events, now)]
        if not rows:
            return 0, 0
        delivery = _Delivery(rows, asyncio.get_running_loop().create_future())
        self._waiting.append(delivery)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_all())
        return await asyncio.shield(delivery.answer)

    async def _flush_all(self) -> None:
        while self._waiting:
            batch = self._take_batch()
            try:
                await self._commit(batch)
            except Exception:  # each delivery is retried alone, below
                log.warning("a group commit of %d deliveries failed; retrying each", len(batch))
                for delivery in batch:
                    await self._commit_alone(delivery)

    def _take_batch(self) -> list[_Delivery]:
        """The waiting deliveries, oldest first, up to max_rows (at least one)."""
        batch: list[_Delivery] = []
        size = 0
        while self._waiting:
            rows = len(self._waiting[0].rows)
            if batch and size + rows > self._max_rows:
                break
            batch.append(self._waiting.popleft())
            size += rows
        return batch

    async def _commit(self, batch: list[_Delivery]) -> None:
        async with transaction(self._sessions) as session:
            stored = await insert_new(session, [row for d in batch for row in d.rows])
        self.commits += 1
        for delivery in batch:
            new = sum(row["id"] in stored for row in delivery.rows)
            if not delivery.answer.done():
                delivery.answer.set_result((new, len(delivery.rows) - new))

    async def _commit_alone(self, delivery: _Delivery) -> None:
        try:
            await self._commit([delivery])
        except Exception as exc:
            if not delivery.answer.done():
                delivery.answer.set_exception(exc)

    async def aclose(self) -> None:
        """Let the deliveries already taken finish their commit."""
        if self._flusher is not None:
            await self._flusher
