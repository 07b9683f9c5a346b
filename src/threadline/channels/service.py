"""Registering sending identities of every type and reading their (decrypted) secrets and
typed config."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels import registry
from threadline.channels.adapter import AccountAccess
from threadline.channels.kinds import Channel
from threadline.channels.models import ChannelAccount
from threadline.channels.types import ChannelType
from threadline.kit.crypto import SecretBox
from threadline.kit.errors import Conflict, InvalidInput, NotFound
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope

DEFAULT_GRAPH_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
MAX_THROUGHPUT = 1000
ConfigT = TypeVar("ConfigT", bound=BaseModel)


@dataclass(frozen=True)
class ChannelSecrets:
    access_token: str
    app_secret: str
    verify_token: str


@dataclass(frozen=True)
class NewChannel:
    """A sending identity to register, of any type: what differs per type is in `config`,
    validated by the type's declared config model."""

    kind: Channel
    address: str  # phone-number id, page id, Instagram account id
    account_id: str  # WABA id, page id, the Instagram account's page id
    access_token: str
    app_secret: str
    verify_token: str
    name: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    graph_url: str = DEFAULT_GRAPH_URL
    api_version: str = DEFAULT_API_VERSION
    throughput_mps: int | None = None  # None: the type's declared default


# What each type calls its two ids, for error messages that name the option to fix.
_ID_NAMES: dict[Channel, tuple[str, str]] = {
    Channel.WHATSAPP: ("phone_number_id", "waba_id"),
    Channel.MESSENGER: ("page_id", "page_id"),
    Channel.INSTAGRAM: ("account_id", "page_id"),
}


def whatsapp_number(
    phone_number_id: str,
    waba_id: str,
    *,
    access_token: str,
    app_secret: str,
    verify_token: str,
    display_number: str = "",
    messaging_limit: int | None = 250,
    **common: Any,
) -> NewChannel:
    return NewChannel(
        kind=Channel.WHATSAPP,
        address=phone_number_id,
        account_id=waba_id,
        access_token=access_token,
        app_secret=app_secret,
        verify_token=verify_token,
        name=common.pop("name", "") or display_number,
        config={"display_number": display_number, "messaging_limit": messaging_limit},
        **common,
    )


def messenger_page(page_id: str, **common: Any) -> NewChannel:
    return NewChannel(kind=Channel.MESSENGER, address=page_id, account_id=page_id, **common)


def instagram_account(account_id: str, page_id: str, **common: Any) -> NewChannel:
    username = common.pop("username", "")
    return NewChannel(
        kind=Channel.INSTAGRAM,
        address=account_id,
        account_id=page_id,
        config={"page_id": page_id, "username": username},
        **common,
    )


def seal(box: SecretBox, secrets: ChannelSecrets) -> str:
    return box.encrypt(json.dumps(secrets.__dict__))


def unseal(box: SecretBox, channel: ChannelAccount) -> ChannelSecrets:
    return ChannelSecrets(**json.loads(box.decrypt(channel.secrets)))


def config_of(channel: ChannelAccount, model: type[ConfigT]) -> ConfigT:
    """The channel's typed config (the model is its type's declared config)."""
    return model.model_validate(channel.config or {})


def update_config(channel: ChannelAccount, now: datetime, **changes: Any) -> None:
    """Change config fields through the declared model, so a typo fails loudly."""
    declared = registry.declaration(channel.kind).config
    current = declared.model_validate(channel.config or {})
    channel.config = declared.model_validate({**current.model_dump(), **changes}).model_dump(
        mode="json"
    )
    channel.updated_at = now


def sender_state(channel: ChannelAccount) -> tuple[str, int | None]:
    """The sender's quality rating and messaging limit, for types whose rules have them
    (green and unlimited for the others)."""
    rules = registry.declaration(channel.kind).rules
    config = channel.config or {}
    quality = str(config.get("quality", "green")) if rules.quality_pauses_marketing else "green"
    limit = config.get("messaging_limit") if rules.messaging_limit else None
    return quality, int(limit) if limit is not None else None


def access_of(box: SecretBox, channel: ChannelAccount) -> AccountAccess:
    """What a client needs to call this channel's API, with its token decrypted."""
    return AccountAccess(
        base_url=channel.base_url,
        api_version=channel.api_version,
        address=channel.address,
        access_token=unseal(box, channel).access_token,
    )


def _label(field_name: str) -> str:
    return field_name.replace("_", " ")


def _check(spec: NewChannel, declared: ChannelType) -> dict[str, Any]:
    address_name, account_name = _ID_NAMES[spec.kind]
    if not spec.address.isdigit():
        raise InvalidInput(f"{_label(address_name)} must be digits", where=address_name)
    if not spec.account_id.isdigit():
        raise InvalidInput(f"{_label(account_name)} must be digits", where=account_name)
    for where, value in (
        ("token", spec.access_token),
        ("app_secret", spec.app_secret),
        ("verify_token", spec.verify_token),
    ):
        if not value:
            raise InvalidInput(f"{where} must not be empty", where=where)
    if not spec.graph_url.startswith(("https://", "http://")):
        raise InvalidInput("graph URL must be http(s)", where="graph_url")
    throughput = spec.throughput_mps or declared.throughput_mps
    if not 1 <= throughput <= MAX_THROUGHPUT:
        raise InvalidInput(f"throughput must be 1 to {MAX_THROUGHPUT} msg/s", where="throughput")
    try:
        config: dict[str, Any] = declared.config.model_validate(spec.config).model_dump(mode="json")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise InvalidInput(f"{declared.title} config: {first['msg']}", where=where) from None
    return config


async def add(
    session: AsyncSession, workspace_id: str, spec: NewChannel, box: SecretBox, now: datetime
) -> ChannelAccount:
    declared = registry.declaration(spec.kind)
    config = _check(spec, declared)
    if await by_address(session, spec.kind, spec.address) is not None:
        address_name = _label(_ID_NAMES[spec.kind][0])
        raise Conflict(f"{declared.title} {address_name} {spec.address} is already registered")
    channel = ChannelAccount(
        id=new_id("chn"),
        workspace_id=workspace_id,
        kind=spec.kind.value,
        name=spec.name or spec.address,
        address=spec.address,
        account_id=spec.account_id,
        base_url=spec.graph_url.rstrip("/"),
        api_version=spec.api_version,
        secrets=seal(box, ChannelSecrets(spec.access_token, spec.app_secret, spec.verify_token)),
        throughput_mps=spec.throughput_mps or declared.throughput_mps,
        config=config,
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
    return await Scope(session, workspace_id).one(ChannelAccount, channel_id, "channel")


async def by_account(session: AsyncSession, workspace_id: str, account_id: str) -> ChannelAccount:
    """A number of the business account (WABA) a template belongs to."""
    channel = await session.scalar(
        Scope(session, workspace_id)
        .select(ChannelAccount)
        .where(ChannelAccount.account_id == account_id)
        .order_by(ChannelAccount.created_at)
        .limit(1)
    )
    if channel is None:
        raise NotFound("no number of this template's business account here", where="template_id")
    return channel


async def for_workspace(
    session: AsyncSession, workspace_id: str, kind: str | None = None
) -> list[ChannelAccount]:
    stmt = Scope(session, workspace_id).select(ChannelAccount)
    if kind:
        stmt = stmt.where(ChannelAccount.kind == kind)
    return list(await session.scalars(stmt.order_by(ChannelAccount.created_at)))


async def all_of_kind(session: AsyncSession, kind: str) -> list[ChannelAccount]:
    return list(await session.scalars(select(ChannelAccount).where(ChannelAccount.kind == kind)))


async def first_of_kind(
    session: AsyncSession, workspace_id: str, kind: str
) -> ChannelAccount | None:
    """The workspace's oldest account of this type (where a reply on that type goes)."""
    return await session.scalar(
        Scope(session, workspace_id)
        .select(ChannelAccount)
        .where(ChannelAccount.kind == kind)
        .order_by(ChannelAccount.created_at)
        .limit(1)
    )
