"""Registering sending identities and reading their (decrypted) secrets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels.models import ChannelAccount
from threadline.kit.crypto import SecretBox
from threadline.kit.errors import Conflict, InvalidInput, NotFound
from threadline.kit.ids import new_id

DEFAULT_GRAPH_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
MAX_THROUGHPUT = 1000


@dataclass(frozen=True)
class ChannelSecrets:
    access_token: str
    app_secret: str
    verify_token: str


@dataclass(frozen=True)
class NewWhatsAppChannel:
    phone_number_id: str
    waba_id: str
    access_token: str
    app_secret: str
    verify_token: str
    display_number: str = ""
    name: str = ""
    graph_url: str = DEFAULT_GRAPH_URL
    api_version: str = DEFAULT_API_VERSION
    throughput_mps: int = 80
    messaging_limit: int | None = 250


def seal(box: SecretBox, secrets: ChannelSecrets) -> str:
    return box.encrypt(json.dumps(secrets.__dict__))


def unseal(box: SecretBox, channel: ChannelAccount) -> ChannelSecrets:
    return ChannelSecrets(**json.loads(box.decrypt(channel.secrets)))


async def add_whatsapp(
    session: AsyncSession,
    workspace_id: str,
    spec: NewWhatsAppChannel,
    box: SecretBox,
    now: datetime,
) -> ChannelAccount:
    if not spec.phone_number_id.isdigit():
        raise InvalidInput("phone number id must be digits", where="phone_number_id")
    if not spec.waba_id.isdigit():
        raise InvalidInput("WhatsApp Business Account id must be digits", where="waba_id")
    for where, value in (
        ("token", spec.access_token),
        ("app_secret", spec.app_secret),
        ("verify_token", spec.verify_token),
    ):
        if not value:
            raise InvalidInput(f"{where} must not be empty", where=where)
    if not spec.graph_url.startswith(("https://", "http://")):
        raise InvalidInput("graph URL must be http(s)", where="graph_url")
    if not 1 <= spec.throughput_mps <= MAX_THROUGHPUT:
        raise InvalidInput(f"throughput must be 1 to {MAX_THROUGHPUT} msg/s", where="throughput")
    taken = await session.scalar(
        select(ChannelAccount).where(
            ChannelAccount.kind == "whatsapp", ChannelAccount.address == spec.phone_number_id
        )
    )
    if taken is not None:
        raise Conflict(f"phone number id {spec.phone_number_id} is already registered")
    channel = ChannelAccount(
        id=new_id("chn"),
        workspace_id=workspace_id,
        kind="whatsapp",
        name=spec.name or spec.display_number or spec.phone_number_id,
        address=spec.phone_number_id,
        account_id=spec.waba_id,
        display_number=spec.display_number,
        base_url=spec.graph_url.rstrip("/"),
        api_version=spec.api_version,
        secrets=seal(box, ChannelSecrets(spec.access_token, spec.app_secret, spec.verify_token)),
        throughput_mps=spec.throughput_mps,
        quality="green",
        messaging_limit=spec.messaging_limit,
        settings={},
        created_at=now,
        updated_at=now,
    )
    session.add(channel)
    await session.flush()
    return channel


async def by_address(session: AsyncSession, kind: str, address: str) -> ChannelAccount | None:
    """Webhooks name the receiving number; this is the one lookup not scoped by workspace,
    because the workspace is what it finds."""
    return await session.scalar(
        select(ChannelAccount).where(ChannelAccount.kind == kind, ChannelAccount.address == address)
    )


async def get(session: AsyncSession, workspace_id: str, channel_id: str) -> ChannelAccount:
    channel = await session.scalar(
        select(ChannelAccount).where(
            ChannelAccount.workspace_id == workspace_id, ChannelAccount.id == channel_id
        )
    )
    if channel is None:
        raise NotFound(f"no channel {channel_id} in this workspace", where="channel_id")
    return channel


async def by_account(session: AsyncSession, workspace_id: str, account_id: str) -> ChannelAccount:
    """A number of the business account (WABA) a template belongs to."""
    channel = await session.scalar(
        select(ChannelAccount)
        .where(ChannelAccount.workspace_id == workspace_id, ChannelAccount.account_id == account_id)
        .order_by(ChannelAccount.created_at)
        .limit(1)
    )
    if channel is None:
        raise NotFound("no number of this template's business account here", where="template_id")
    return channel


async def for_workspace(
    session: AsyncSession, workspace_id: str, kind: str | None = None
) -> list[ChannelAccount]:
    stmt = select(ChannelAccount).where(ChannelAccount.workspace_id == workspace_id)
    if kind:
        stmt = stmt.where(ChannelAccount.kind == kind)
    return list(await session.scalars(stmt.order_by(ChannelAccount.created_at)))


async def all_of_kind(session: AsyncSession, kind: str) -> list[ChannelAccount]:
    return list(await session.scalars(select(ChannelAccount).where(ChannelAccount.kind == kind)))
