"""/api/v1/segments: count a segment, and estimate what a send to it would do."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from threadline.api.deps import CurrentWorkspace, Now, Session
from threadline.channels.kinds import Channel
from threadline.policy.types import Purpose
from threadline.segments import service

router = APIRouter(prefix="/api/v1/segments", tags=["segments"])


class CountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(max_length=10_000, description="segment language, docs/segments.md")


class EstimateIn(CountIn):
    channel: Channel
    purpose: Purpose
    topic: str = Field(default="marketing", max_length=64)
    template: str | None = Field(default=None, max_length=512)
    language: str = Field(default="en_US", max_length=16)
    holdout_percent: float = Field(default=0.0, ge=0, le=50)
    baseline_rate: float = Field(
        default=0.02, gt=0, lt=1, description="conversion rate expected without the message"
    )
    text: str | None = Field(
        default=None, max_length=1600, description="the message, where it sets the price (SMS)"
    )


@router.post("/count")
async def count_segment(
    body: CountIn, session: Session, workspace: CurrentWorkspace, now: Now
) -> dict[str, Any]:
    """How many contacts the query matches, and how many are reachable on each channel."""
    query = await service.members(session, workspace.id, body.query, now)
    return {
        "total": await service.count(session, query),
        "reachable": await service.reachable(session, workspace.id, query),
    }


@router.post("/estimate")
async def estimate_segment(
    body: EstimateIn, session: Session, workspace: CurrentWorkspace, now: Now
) -> dict[str, Any]:
    """What a send to the segment would do now: who the policy lets through, who not and
    why (by reason; quiet hours as `deferred:quiet_hours`), the estimated cost and, with a
    holdout, the minimum detectable lift. Nothing is written or sent."""
    send = service.Send(
        channel=body.channel,
        purpose=body.purpose,
        topic=body.topic,
        template=body.template,
        language=body.language,
        holdout_percent=body.holdout_percent,
        baseline_rate=body.baseline_rate,
        text=body.text,
    )
    return (await service.estimate(session, workspace, body.query, send, now)).as_dict()
