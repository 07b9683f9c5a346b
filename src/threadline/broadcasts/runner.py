"""Broadcasts in the worker: scheduled occurrences start, fan-outs advance a batch per
transaction under a lease, guardrails are read, and finished occurrences complete (or,
recurring, schedule the next). `fan_out` is also what `threadline broadcasts send` runs in
the foreground, with its progress bar."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from threadline.broadcasts import fanout, guardrails, schedule
from threadline.broadcasts import service as broadcasts
from threadline.broadcasts.models import Broadcast
from threadline.broadcasts.plan import Planner
from threadline.broadcasts.states import Action, BroadcastState, move
from threadline.kit.clock import Clock
from threadline.kit.db import transaction
from threadline.kit.scoped import Scope
from threadline.messages.models import Message
from threadline.workspaces.models import Workspace

log = logging.getLogger("threadline.broadcasts")
LEASE = timedelta(seconds=30)  # a killed fan-out resumes elsewhere after at most this
GUARDRAIL_EVERY = timedelta(seconds=5)


@dataclass
class BroadcastWorker:
    """One process's share of the broadcasts; planners live as long as their fan-out."""

    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    batches_per_pass: int = 4
    planners: dict[tuple[str, int], Planner] = field(default_factory=dict)
    checked: dict[str, datetime] = field(default_factory=dict)

    async def run_once(self) -> int:
        worked = await self.start_due()
        for broadcast_id in await self._fanning_out():
            worked += await self.fan_out(broadcast_id, self.batches_per_pass)
        return worked + await self.watch()

    async def start_due(self) -> int:
        """Scheduled occurrences whose moment came begin: the audience is counted and the
        members with no address at all are tallied once."""
        now = self.clock.now()
        async with transaction(self.sessions) as session:
            due = list(
                await session.scalars(
                    select(Broadcast)
                    .where(
                        Broadcast.status == BroadcastState.SCHEDULED,
                        Broadcast.next_run_at <= now,
                    )
                    .limit(20)
                    # Two workers never begin (and write the list of) the same occurrence.
                    .with_for_update(skip_locked=True)
                )
            )
            for broadcast in due:
                await begin(session, broadcast, now)
        return len(due)

    async def _fanning_out(self) -> list[str]:
        async with transaction(self.sessions) as session:
            return list(
                await session.scalars(
                    select(Broadcast.id).where(
                        Broadcast.status == BroadcastState.SENDING,
                        Broadcast.fanned_out_at.is_(None),
                    )
                )
            )

    async def fan_out(
        self,
        broadcast_id: str,
        max_batches: int | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> int:
        """Advance the fan-out by up to `max_batches` batches (all, when None), each its own
        transaction; returns how many members were decided. Another process holding the
        lease makes this a no-op."""
        if not await self._claim(broadcast_id):
            return 0
        decided = 0
        try:
            while max_batches is None or max_batches > 0:
                count = await self._one_batch(broadcast_id)
                if count == 0:
                    break
                decided += count
                if on_batch is not None:
                    on_batch(count)
                if max_batches is not None:
                    max_batches -= 1
        finally:
            await self._release(broadcast_id)
        return decided

    async def _claim(self, broadcast_id: str) -> bool:
        now = self.clock.now()
        async with transaction(self.sessions) as session:
            result = await session.execute(
                update(Broadcast)
                .where(
                    Broadcast.id == broadcast_id,
                    Broadcast.status == BroadcastState.SENDING,
                    or_(Broadcast.claimed_until.is_(None), Broadcast.claimed_until < now),
                )
                .values(claimed_until=now + LEASE)
            )
            return bool(getattr(result, "rowcount", 0))

    async def _release(self, broadcast_id: str) -> None:
        async with transaction(self.sessions) as session:
            await session.execute(
                update(Broadcast).where(Broadcast.id == broadcast_id).values(claimed_until=None)
            )

    async def _one_batch(self, broadcast_id: str) -> int:
        now = self.clock.now()
        async with transaction(self.sessions) as session:
            broadcast = await session.get(Broadcast, broadcast_id)
            if broadcast is None or broadcast.status != BroadcastState.SENDING:
                return 0
            if broadcast.fanned_out_at is not None:
                return 0
            workspace = await session.get(Workspace, broadcast.workspace_id)
            assert workspace is not None
            planner = await self._planner(session, workspace, broadcast)
            ids = await fanout.next_members(session, broadcast, fanout.BATCH)
            if not ids:
                broadcast.fanned_out_at = now
                await fanout.forget(session, broadcast)
                self.planners.pop((broadcast.id, broadcast.occurrence), None)
                return 0
            targets = await planner.plan(session, ids, now)
            tally = Counter(broadcast.tally or {})
            tally += await fanout.write_batch(
                session, broadcast, planner.spec, targets, now, tally["allowed"]
            )
            broadcast.tally = dict(tally)
            await fanout.planned(session, broadcast, ids[-1])
            broadcast.cursor = ids[-1]
            broadcast.claimed_until = now + LEASE
            broadcast.updated_at = now
            return len(ids)

    async def _planner(
        self, session: AsyncSession, workspace: Workspace, broadcast: Broadcast
    ) -> Planner:
        key = (broadcast.id, broadcast.occurrence)
        planner = self.planners.get(key)
        if planner is None:
            assert broadcast.started_at is not None
            planner = await Planner.prepare(
                session,
                workspace,
                broadcast.id,
                broadcasts.spec_of(broadcast),
                broadcast.occurrence,
                broadcast.started_at,
            )
            await fanout.restore_pending(session, planner, broadcast)
            self.planners[key] = planner
        return planner

    async def watch(self) -> int:
        """Guardrails of the broadcasts being sent, and the end of those that are done."""
        now = self.clock.now()
        acted = 0
        async with transaction(self.sessions) as session:
            sending = list(
                await session.scalars(
                    select(Broadcast).where(Broadcast.status == BroadcastState.SENDING)
                )
            )
            for broadcast in sending:
                last = self.checked.get(broadcast.id)
                if last is not None and now - last < GUARDRAIL_EVERY:
                    continue
                self.checked[broadcast.id] = now
                acted += await _watch_one(session, broadcast, now)
        return acted


async def begin(session: AsyncSession, broadcast: Broadcast, now: datetime) -> None:
    """The occurrence starts: sending, its audience as of now written down and counted.
    In one transaction with the move to sending, so a fan-out never starts without its
    list, and a restarted one reads the same list."""
    broadcast.status = move(BroadcastState(broadcast.status), Action.START)
    broadcast.started_at = now
    broadcast.cursor = None
    broadcast.fanned_out_at = None
    workspace = await session.get(Workspace, broadcast.workspace_id)
    assert workspace is not None
    spec = broadcasts.spec_of(broadcast)
    query = await fanout.audience(session, workspace, spec, now)
    broadcast.audience_total = await fanout.materialise(session, broadcast, query)
    # Members no channel reaches are tallied as their batch is planned, as the estimate
    # does: the planner is the one judge of who has an address.
    broadcast.tally = {}
    broadcast.updated_at = now
    log.info("broadcast %s occurrence %s started", broadcast.id, broadcast.occurrence)


async def _watch_one(session: AsyncSession, broadcast: Broadcast, now: datetime) -> int:
    workspace = await session.get(Workspace, broadcast.workspace_id)
    assert workspace is not None
    spec = broadcasts.spec_of(broadcast)
    routes = (await Planner.prepare(session, workspace, broadcast.id, spec, 1, now)).routes
    why = await guardrails.why_pause(session, broadcast, spec, routes, now)
    if why is not None:
        held = await broadcasts.pause(session, broadcast, f"guardrail: {why}", now)
        log.warning("broadcast %s paused (%s); %s messages held", broadcast.id, why, held)
        return 1
    if broadcast.fanned_out_at is None or await _unsettled(session, broadcast):
        return 0
    following = schedule.next_occurrence(spec.schedule, broadcast.occurrence, now)
    if following is None:
        broadcast.status = move(BroadcastState(broadcast.status), Action.FINISH)
        broadcast.completed_at = now
    else:
        broadcast.status = move(BroadcastState(broadcast.status), Action.REPEAT)
        broadcast.occurrence += 1
        broadcast.next_run_at = following
    broadcast.updated_at = now
    return 1


async def _unsettled(session: AsyncSession, broadcast: Broadcast) -> bool:
    scope = Scope(session, broadcast.workspace_id)
    waiting = await session.scalar(
        scope.columns(Message, Message.id)
        .where(Message.campaign_id == broadcast.id, Message.status.in_(fanout.UNSENT))
        .limit(1)
    )
    return waiting is not None
