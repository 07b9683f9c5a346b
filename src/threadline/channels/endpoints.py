"""/api/v1/channels: sending identities of every type (secrets are never returned)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field

from threadline.api.deps import CurrentWorkspace, Now, Session, app_state
from threadline.channels import registry, service
from threadline.channels.models import ChannelAccount
from threadline.channels.sms.declaration import SenderPool
from threadline.kit.errors import InvalidInput
from threadline.templates.sync import sync_templates as sync

router = APIRouter(prefix="/api/v1/channels", tags=["channels"])


class _ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    access_token: str = Field(min_length=1, max_length=2000)
    app_secret: str = Field(min_length=1, max_length=200)
    verify_token: str = Field(min_length=1, max_length=200)
    name: str = Field(default="", max_length=200)
    graph_url: str = service.DEFAULT_GRAPH_URL
    api_version: str = service.DEFAULT_API_VERSION
    throughput_mps: int | None = None


class WhatsAppChannelIn(_ChannelIn):
    phone_number_id: str = Field(min_length=1, max_length=100)
    waba_id: str = Field(min_length=1, max_length=100)
    display_number: str = Field(default="", max_length=32)
    messaging_limit: int | None = 250


class MessengerChannelIn(_ChannelIn):
    page_id: str = Field(min_length=1, max_length=100)


class InstagramChannelIn(_ChannelIn):
    account_id: str = Field(min_length=1, max_length=100)
    page_id: str = Field(min_length=1, max_length=100)
    username: str = Field(default="", max_length=100)


class SmsChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_: str = Field(alias="from", min_length=1, max_length=20, description="E.164 number")
    account_sid: str = Field(min_length=1, max_length=64)
    auth_token: str = Field(min_length=1, max_length=200)
    name: str = Field(default="", max_length=200)
    api_url: str = service.DEFAULT_SMS_API_URL
    throughput_mps: int | None = None
    pool: SenderPool = SenderPool.MIXED
    provider_opt_out: bool = False
    public_url: str = Field(default="", max_length=400)


class EmailChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_: str = Field(alias="from", min_length=3, max_length=254)
    smtp_url: str = Field(min_length=1, max_length=400)
    smtp_password: str = Field(default="", max_length=400)
    dkim_key: str = Field(default="", max_length=10_000, description="DKIM private key, PEM")
    name: str = Field(default="", max_length=200)
    throughput_mps: int | None = None
    from_name: str = Field(default="", max_length=200)
    postal_address: str = Field(default="", max_length=400)
    public_url: str = Field(default="", max_length=400)
    dkim_selector: str = Field(default="", max_length=63)


class AppleChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    business_id: str = Field(min_length=1, max_length=100)
    msp_id: str = Field(min_length=1, max_length=100)
    secret: str = Field(min_length=1, max_length=400)
    name: str = Field(default="", max_length=200)
    gateway_url: str = service.DEFAULT_APPLE_GATEWAY
    throughput_mps: int | None = None


class ChannelOut(BaseModel):
    id: str
    kind: str
    name: str
    address: str
    account_id: str
    base_url: str
    api_version: str
    throughput_mps: int
    # The type's own settings and platform-reported state (quality, messaging limit, ...).
    config: dict[str, Any]
    created_at: datetime
    inbound_secret: str | None = Field(
        default=None,
        description="Email senders, in the answer that creates one only: the secret your mail "
        "relay signs inbound mail with (X-Threadline-Signature); never shown again",
    )


def channel_out(channel: ChannelAccount) -> ChannelOut:
    return ChannelOut(
        id=channel.id,
        kind=channel.kind,
        name=channel.name,
        address=channel.address,
        account_id=channel.account_id,
        base_url=channel.base_url,
        api_version=channel.api_version,
        throughput_mps=channel.throughput_mps,
        config=channel.config or {},
        created_at=channel.created_at,
    )


@router.get("")
async def list_channels(session: Session, workspace: CurrentWorkspace) -> list[ChannelOut]:
    return [channel_out(c) for c in await service.for_workspace(session, workspace.id)]


async def _add(
    spec: service.NewChannel, request: Request, session: Session, workspace_id: str, now: datetime
) -> ChannelOut:
    channel = await service.add(session, workspace_id, spec, app_state(request).box, now)
    app_state(request).channels.invalidate()
    return channel_out(channel)


@router.post("/whatsapp", status_code=status.HTTP_201_CREATED)
async def add_whatsapp(
    body: WhatsAppChannelIn,
    request: Request,
    session: Session,
    workspace: CurrentWorkspace,
    now: Now,
) -> ChannelOut:
    fields = body.model_dump()
    spec = service.whatsapp_number(fields.pop("phone_number_id"), fields.pop("waba_id"), **fields)
    return await _add(spec, request, session, workspace.id, now)


@router.post("/messenger", status_code=status.HTTP_201_CREATED)
async def add_messenger(
    body: MessengerChannelIn,
    request: Request,
    session: Session,
    workspace: CurrentWorkspace,
    now: Now,
) -> ChannelOut:
    fields = body.model_dump()
    spec = service.messenger_page(fields.pop("page_id"), **fields)
    return await _add(spec, request, session, workspace.id, now)


@router.post("/instagram", status_code=status.HTTP_201_CREATED)
async def add_instagram(
    body: InstagramChannelIn,
    request: Request,
    session: Session,
    workspace: CurrentWorkspace,
    now: Now,
) -> ChannelOut:
    fields = body.model_dump()
    spec = service.instagram_account(fields.pop("account_id"), fields.pop("page_id"), **fields)
    return await _add(spec, request, session, workspace.id, now)


@router.post("/sms", status_code=status.HTTP_201_CREATED)
async def add_sms(
    body: SmsChannelIn, request: Request, session: Session, workspace: CurrentWorkspace, now: Now
) -> ChannelOut:
    fields = body.model_dump(exclude_defaults=False)
    spec = service.sms_number(
        fields.pop("from_"), fields.pop("account_sid"), **_without_empty(fields)
    )
    return await _add(spec, request, session, workspace.id, now)


@router.post("/email", status_code=status.HTTP_201_CREATED)
async def add_email(
    body: EmailChannelIn,
    request: Request,
    session: Session,
    workspace: CurrentWorkspace,
    now: Now,
) -> ChannelOut:
    fields = body.model_dump()
    spec = service.email_sender(fields.pop("from_"), **_without_empty(fields))
    created = await _add(spec, request, session, workspace.id, now)
    created.inbound_secret = spec.app_secret
    return created


@router.post("/apple", status_code=status.HTTP_201_CREATED)
async def add_apple(
    body: AppleChannelIn,
    request: Request,
    session: Session,
    workspace: CurrentWorkspace,
    now: Now,
) -> ChannelOut:
    fields = body.model_dump()
    spec = service.apple_business(fields.pop("business_id"), fields.pop("msp_id"), **fields)
    return await _add(spec, request, session, workspace.id, now)


def _without_empty(fields: dict[str, Any]) -> dict[str, Any]:
    """Optional settings left empty take the type's defaults."""
    return {k: v for k, v in fields.items() if v not in ("", None) or k == "throughput_mps"}


@router.get("/{channel_id}")
async def get_channel(channel_id: str, session: Session, workspace: CurrentWorkspace) -> ChannelOut:
    return channel_out(await service.get(session, workspace.id, channel_id))


@router.post("/{channel_id}/templates/sync")
async def sync_templates(
    channel_id: str, request: Request, session: Session, workspace: CurrentWorkspace, now: Now
) -> dict[str, int]:
    """Pull the number's templates (with their category and status) from the platform."""
    channel = await service.get(session, workspace.id, channel_id)
    if not registry.declaration(channel.kind).capabilities.templates:
        raise InvalidInput(
            f"{channel.kind} channels have no platform templates", where="channel_id"
        )
    box = app_state(request).box
    async with httpx.AsyncClient(timeout=20) as http:
        count = await sync(session, channel, box, http, now)
    return {"templates": count}
