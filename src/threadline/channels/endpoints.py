"""/api/v1/channels: sending identities (secrets are never returned)."""

from __future__ import annotations

from datetime import datetime

import httpx
from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field

from threadline.api.deps import CurrentWorkspace, Now, Session, app_state
from threadline.channels import service
from threadline.channels.models import ChannelAccount
from threadline.templates.sync import sync_templates as sync

router = APIRouter(prefix="/api/v1/channels", tags=["channels"])


class WhatsAppChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone_number_id: str = Field(min_length=1, max_length=100)
    waba_id: str = Field(min_length=1, max_length=100)
    access_token: str = Field(min_length=1, max_length=2000)
    app_secret: str = Field(min_length=1, max_length=200)
    verify_token: str = Field(min_length=1, max_length=200)
    display_number: str = Field(default="", max_length=32)
    name: str = Field(default="", max_length=200)
    graph_url: str = service.DEFAULT_GRAPH_URL
    api_version: str = service.DEFAULT_API_VERSION
    throughput_mps: int = 80
    messaging_limit: int | None = 250


class ChannelOut(BaseModel):
    id: str
    kind: str
    name: str
    address: str
    account_id: str
    display_number: str
    base_url: str
    api_version: str
    throughput_mps: int
    quality: str
    messaging_limit: int | None
    created_at: datetime


def channel_out(channel: ChannelAccount) -> ChannelOut:
    return ChannelOut(
        id=channel.id,
        kind=channel.kind,
        name=channel.name,
        address=channel.address,
        account_id=channel.account_id,
        display_number=channel.display_number,
        base_url=channel.base_url,
        api_version=channel.api_version,
        throughput_mps=channel.throughput_mps,
        quality=channel.quality,
        messaging_limit=channel.messaging_limit,
        created_at=channel.created_at,
    )


@router.get("")
async def list_channels(session: Session, workspace: CurrentWorkspace) -> list[ChannelOut]:
    return [channel_out(c) for c in await service.for_workspace(session, workspace.id)]


@router.post("/whatsapp", status_code=status.HTTP_201_CREATED)
async def add_whatsapp(
    body: WhatsAppChannelIn,
    request: Request,
    session: Session,
    workspace: CurrentWorkspace,
    now: Now,
) -> ChannelOut:
    box = app_state(request).box
    channel = await service.add_whatsapp(
        session, workspace.id, service.NewWhatsAppChannel(**body.model_dump()), box, now
    )
    app_state(request).channels.invalidate()
    return channel_out(channel)


@router.get("/{channel_id}")
async def get_channel(channel_id: str, session: Session, workspace: CurrentWorkspace) -> ChannelOut:
    return channel_out(await service.get(session, workspace.id, channel_id))


@router.post("/{channel_id}/templates/sync")
async def sync_templates(
    channel_id: str, request: Request, session: Session, workspace: CurrentWorkspace, now: Now
) -> dict[str, int]:
    """Pull the number's templates (with their category and status) from the platform."""
    channel = await service.get(session, workspace.id, channel_id)
    box = app_state(request).box
    async with httpx.AsyncClient(timeout=20) as http:
        count = await sync(session, channel, box, http, now)
    return {"templates": count}
