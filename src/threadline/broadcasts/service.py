"""Broadcasts as the API and the CLI see them: drafts written and edited, then sent,
paused, resumed or cancelled — each a move of `broadcasts.states` with what it changes in
the outbox (a pause holds the unsent messages, a cancel withdraws them)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.broadcasts import fanout, schedule
from threadline.broadcasts.models import Broadcast
from threadline.broadcasts.plan import Planner
from threadline.broadcasts.spec import BroadcastSpec
from threadline.broadcasts.states import EDITABLE, Action, BroadcastState, move
from threadline.channels.errors import ErrorClass
from threadline.consent import service as consent
from threadline.kit.errors import InvalidInput, NotFound
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope
from threadline.messages.models import Message
from threadline.messages.states import MessageState
from threadline.policy.types import Purpose
from threadline.segments import service as segments
from threadline.workspaces.models import Workspace

_UNSENT = (MessageState.QUEUED, MessageState.DEFERRED)


def spec_of(broadcast: Broadcast) -> BroadcastSpec:
    return BroadcastSpec.model_validate(broadcast.spec)


async def _check(
    session: AsyncSession, workspace: Workspace, spec: BroadcastSpec, now: datetime
) -> None:
    """What can be known wrong before sending: the query, the topic, the channels."""
    await segments.members(session, workspace.id, spec.audience, now)
    if spec.purpose is Purpose.MARKETING and spec.topic not in await consent.topic_keys(
        session, workspace.id
    ):
        raise InvalidInput(f"unknown topic '{spec.topic}'", where="topic")
    await Planner.prepare(session, workspace, "check", spec, 1, now)


async def create(
    session: AsyncSession, workspace: Workspace, spec: BroadcastSpec, now: datetime
) -> Broadcast:
    await _check(session, workspace, spec, now)
    broadcast = Broadcast(
        id=new_id("bc"),
        workspace_id=workspace.id,
        name=spec.name,
        spec=spec.model_dump(mode="json"),
        status=BroadcastState.DRAFT,
        occurrence=1,
        tally={},
        created_at=now,
        updated_at=now,
    )
    session.add(broadcast)
    await session.flush()
    return broadcast


async def get(session: AsyncSession, workspace_id: str, broadcast_id: str) -> Broadcast:
    found = await Scope(session, workspace_id).get(Broadcast, broadcast_id)
    if found is None:
        raise NotFound(f"no broadcast {broadcast_id} in this workspace", where="broadcast_id")
    return found


async def listed(
    session: AsyncSession, workspace_id: str, status: BroadcastState | None, limit: int
) -> list[Broadcast]:
    statement = Scope(session, workspace_id).select(Broadcast)
    if status is not None:
        statement = statement.where(Broadcast.status == status)
    return list(await session.scalars(statement.order_by(Broadcast.created_at.desc()).limit(limit)))


async def edit(
    session: AsyncSession, workspace: Workspace, broadcast: Broadcast, spec: BroadcastSpec,
    now: datetime,
) -> Broadcast:  # fmt: skip
    if BroadcastState(broadcast.status) not in EDITABLE:
        raise InvalidInput(
            f"a {broadcast.status} broadcast cannot be edited; unschedule it first",
            where="status",
        )
    await _check(session, workspace, spec, now)
    broadcast.spec, broadcast.name, broadcast.updated_at = (
        spec.model_dump(mode="json"),
        spec.name,
        now,
    )
    return broadcast


def _moved(broadcast: Broadcast, action: Action, now: datetime) -> None:
    broadcast.status = move(BroadcastState(broadcast.status), action)
    broadcast.updated_at = now


async def send(session: AsyncSession, broadcast: Broadcast, now: datetime) -> Broadcast:
    """Schedule it: now, or at its schedule's first moment (which must not have passed)."""
    spec = spec_of(broadcast)
    first = schedule.check_not_past(spec.schedule, now)
    _moved(broadcast, Action.SCHEDULE, now)
    broadcast.next_run_at = first
    return broadcast


async def unschedule(session: AsyncSession, broadcast: Broadcast, now: datetime) -> Broadcast:
    _moved(broadcast, Action.UNSCHEDULE, now)
    broadcast.next_run_at = None
    return broadcast


async def _set_unsent(
    session: AsyncSession, broadcast: Broadcast, states: tuple[str, ...], values: dict[str, Any]
) -> int:
    result = await session.execute(
        Scope(session, broadcast.workspace_id)
        .update(Message)
        .where(Message.campaign_id == broadcast.id, Message.status.in_(states))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def pause(session: AsyncSession, broadcast: Broadcast, why: str, now: datetime) -> int:
    """Pause and hold every message not yet on its way; returns how many were held."""
    _moved(broadcast, Action.PAUSE, now)
    broadcast.pause_reason = why
    broadcast.claimed_until = None
    return await _set_unsent(
        session, broadcast, _UNSENT, {"status": MessageState.HELD, "updated_at": now}
    )


async def resume(session: AsyncSession, broadcast: Broadcast, now: datetime) -> int:
    """Resume: the held messages wait for their time again (each is decided anew by the
    dispatcher, so what changed during the pause — an opt-out, a closed window — counts)."""
    was = BroadcastState(broadcast.status)
    _moved(broadcast, Action.RESUME, now)
    if was is BroadcastState.PAUSED and broadcast.started_at is None:
        broadcast.status = BroadcastState.SCHEDULED  # paused before it began
    broadcast.pause_reason = None
    return await _set_unsent(
        session,
        broadcast,
        (MessageState.HELD,),
        {"status": MessageState.DEFERRED, "updated_at": now},
    )


async def cancel(session: AsyncSession, broadcast: Broadcast, now: datetime) -> int:
    """Cancel: unsent messages are withdrawn (failed, not sent), kept in the history."""
    _moved(broadcast, Action.CANCEL, now)
    broadcast.next_run_at = None
    broadcast.claimed_until = None
    await fanout.forget(session, broadcast)  # the rest of its audience list
    return await _set_unsent(
        session,
        broadcast,
        (*_UNSENT, MessageState.HELD),
        {
            "status": MessageState.FAILED,
            "error_class": ErrorClass.NOT_SENT.value,
            "error_detail": "withdrawn: the broadcast was cancelled",
            "next_attempt_at": None,
            "updated_at": now,
        },
    )


async def delete_draft(session: AsyncSession, broadcast: Broadcast) -> None:
    if BroadcastState(broadcast.status) is not BroadcastState.DRAFT:
        raise InvalidInput(
            "only a draft can be deleted; cancel a broadcast that was sent", where="status"
        )
    await session.delete(broadcast)


async def estimate(
    session: AsyncSession,
    workspace: Workspace,
    broadcast: Broadcast,
    now: datetime,
    baseline_rate: float = 0.02,
) -> dict[str, Any]:
    """What sending it now would do, member by member, by the fan-out's own planner:
    who gets it on which channel, who does not and why, and the cost. Nothing is written."""
    spec = spec_of(broadcast)
    started = schedule.run_at(spec.schedule, broadcast.occurrence, now)
    planner = await Planner.prepare(
        session, workspace, broadcast.id, spec, broadcast.occurrence, max(started, now)
    )
    return (await estimate_with(session, workspace, planner, now, baseline_rate)).as_dict()


async def estimate_with(
    session: AsyncSession,
    workspace: Workspace,
    planner: Planner,
    now: datetime,
    baseline_rate: float = 0.02,
) -> segments.Estimate:
    query = await fanout.audience(session, workspace, planner.spec, planner.started)
    found = segments.Estimate(
        total=0, reachable=await segments.reachable(session, workspace.id, query)
    )
    by_channel: Counter[str] = Counter()
    tally: Counter[str] = Counter()
    # The fan-out's members in the fan-out's order (the budgets and messaging limits are
    # used up in it), from one evaluation of the segment, as the fan-out's list is written.
    async for ids in fanout.streamed(session, query, fanout.BATCH):
        found.total += len(ids)
        for target in await planner.plan(session, ids, now):
            tally[target.tally_key] += 1
            if target.tally_key == "allowed" and target.route and target.decision:
                by_channel[target.route.kind.value] += 1
                found.cost += target.decision.cost_estimate or 0
    found.eligible = tally.pop("allowed", 0)
    found.deferred = sum(v for k, v in tally.items() if k.startswith("deferred:"))
    found.suppressed = Counter({k: v for k, v in tally.items() if v})
    found.by_channel = dict(by_channel)
    found.minimum_detectable_lift = segments.minimum_detectable_lift(
        found.eligible, tally.get("holdout", 0), baseline_rate
    )
    return found
