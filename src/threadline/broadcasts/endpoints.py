"""/api/v1/broadcasts: drafts, their estimate, sending, pausing, and their progress."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from threadline.api.deps import CurrentWorkspace, Now, Session
from threadline.broadcasts import service
from threadline.broadcasts.models import Broadcast
from threadline.broadcasts.progress import progress_of
from threadline.broadcasts.spec import BroadcastSpec
from threadline.broadcasts.states import BroadcastState

router = APIRouter(prefix="/api/v1/broadcasts", tags=["broadcasts"])


class PauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="paused by a user", max_length=500)


class EstimateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    baseline_rate: float = Field(
        default=0.02, gt=0, lt=1, description="conversion rate expected without the message"
    )


async def shown(session: Session, broadcast: Broadcast) -> dict[str, Any]:
    return {
        "id": broadcast.id,
        "name": broadcast.name,
        "status": broadcast.status,
        "pause_reason": broadcast.pause_reason,
        "occurrence": broadcast.occurrence,
        "next_run_at": broadcast.next_run_at,
        "started_at": broadcast.started_at,
        "fanned_out_at": broadcast.fanned_out_at,
        "completed_at": broadcast.completed_at,
        "created_at": broadcast.created_at,
        "spec": broadcast.spec,
        "progress": (await progress_of(session, broadcast)).as_dict(),
    }


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_broadcast(
    body: BroadcastSpec, session: Session, workspace: CurrentWorkspace, now: Now
) -> dict[str, Any]:
    """A draft: checked now (query, topic, a channel that can carry the content), sent later."""
    broadcast = await service.create(session, workspace, body, now)
    return await shown(session, broadcast)


@router.get("")
async def list_broadcasts(
    session: Session,
    workspace: CurrentWorkspace,
    status_is: Annotated[BroadcastState | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    found = await service.listed(session, workspace.id, status_is, limit)
    return {"broadcasts": [await shown(session, b) for b in found]}


@router.get("/{broadcast_id}")
async def get_broadcast(
    broadcast_id: str, session: Session, workspace: CurrentWorkspace
) -> dict[str, Any]:
    """The broadcast and its progress: queued, sent, delivered, read, failed, suppressed by
    reason (the policy's, or no address) and deferred by reason."""
    return await shown(session, await service.get(session, workspace.id, broadcast_id))


@router.put("/{broadcast_id}")
async def edit_broadcast(
    broadcast_id: str, body: BroadcastSpec, session: Session, workspace: CurrentWorkspace, now: Now
) -> dict[str, Any]:
    broadcast = await service.get(session, workspace.id, broadcast_id)
    return await shown(session, await service.edit(session, workspace, broadcast, body, now))


@router.delete("/{broadcast_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_broadcast(
    broadcast_id: str, session: Session, workspace: CurrentWorkspace
) -> None:
    await service.delete_draft(session, await service.get(session, workspace.id, broadcast_id))


@router.post("/{broadcast_id}/estimate")
async def estimate_broadcast(
    broadcast_id: str,
    session: Session,
    workspace: CurrentWorkspace,
    now: Now,
    body: EstimateIn | None = None,
) -> dict[str, Any]:
    """What sending it would do, by the fan-out's own planner; nothing is written."""
    broadcast = await service.get(session, workspace.id, broadcast_id)
    rate = body.baseline_rate if body else 0.02
    return await service.estimate(session, workspace, broadcast, now, rate)


@router.post("/{broadcast_id}/send")
async def send_broadcast(
    broadcast_id: str, session: Session, workspace: CurrentWorkspace, now: Now
) -> dict[str, Any]:
    """Schedule it (now, or at its schedule); the worker fans it out when it is due."""
    broadcast = await service.get(session, workspace.id, broadcast_id)
    return await shown(session, await service.send(session, broadcast, now))


@router.post("/{broadcast_id}/unschedule")
async def unschedule_broadcast(
    broadcast_id: str, session: Session, workspace: CurrentWorkspace, now: Now
) -> dict[str, Any]:
    broadcast = await service.get(session, workspace.id, broadcast_id)
    return await shown(session, await service.unschedule(session, broadcast, now))


@router.post("/{broadcast_id}/pause")
async def pause_broadcast(
    broadcast_id: str,
    session: Session,
    workspace: CurrentWorkspace,
    now: Now,
    body: PauseIn | None = None,
) -> dict[str, Any]:
    broadcast = await service.get(session, workspace.id, broadcast_id)
    await service.pause(session, broadcast, (body or PauseIn()).reason, now)
    return await shown(session, broadcast)


@router.post("/{broadcast_id}/resume")
async def resume_broadcast(
    broadcast_id: str, session: Session, workspace: CurrentWorkspace, now: Now
) -> dict[str, Any]:
    broadcast = await service.get(session, workspace.id, broadcast_id)
    await service.resume(session, broadcast, now)
    return await shown(session, broadcast)


@router.post("/{broadcast_id}/cancel")
async def cancel_broadcast(
    broadcast_id: str, session: Session, workspace: CurrentWorkspace, now: Now
) -> dict[str, Any]:
    broadcast = await service.get(session, workspace.id, broadcast_id)
    await service.cancel(session, broadcast, now)
    return await shown(session, broadcast)
