"""Registering sending identities of every type and reading their (decrypted) secrets and
typed config."""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from email_validator import EmailNotValidError, validate_email
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
    private_key: str = ""  # email: the DKIM signing key (PEM)


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
    private_key: str = ""


@dataclass(frozen=True)
class _Identity:
    """What a type calls its two ids and the secrets it needs, for checks and for error
    messages that name the option to fix."""

    address_name: str
    account_name: str
    address_ok: Callable[[str], bool]
    address_rule: str  # how a valid address looks, in words
    account_ok: Callable[[str], bool]
    account_rule: str
    secrets: tuple[str, ...]  # NewChannel fields that must not be empty


_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_TWILIO_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_OPAQUE = re.compile(r"[A-Za-z0-9._:-]{1,100}")
_META_SECRETS = ("access_token", "app_secret", "verify_token")


def _matches(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda text: pattern.fullmatch(text) is not None


def _email_ok(text: str) -> bool:
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def _base64_ok(text: str) -> bool:
    try:
        return bool(base64.b64decode(text, validate=True))
    except ValueError:
        return False


_IDENTITIES: dict[Channel, _Identity] = {
    Channel.WHATSAPP: _Identity(
        "phone_number_id", "waba_id", str.isdigit, "digits", str.isdigit, "digits", _META_SECRETS
    ),
    Channel.MESSENGER: _Identity(
        "page_id", "page_id", str.isdigit, "digits", str.isdigit, "digits", _META_SECRETS
    ),
    Channel.INSTAGRAM: _Identity(
        "account_id", "page_id", str.isdigit, "digits", str.isdigit, "digits", _META_SECRETS
    ),
    Channel.SMS: _Identity(
        "from",
        "account_sid",
        _matches(_E164),
        "an E.164 number such as +14155550100",
        _matches(_TWILIO_SID),
        "'AC' and 32 hex digits",
        ("access_token",),
    ),
    Channel.EMAIL: _Identity(
        "from",
        "domain",
        _email_ok,
        "an email address such as shop@example.com",
        bool,
        "the sender's domain",
        ("app_secret",),
    ),
    Channel.APPLE: _Identity(
        "business_id",
        "msp_id",
        _matches(_OPAQUE),
        "Apple's business id (letters, digits, '-')",
        _matches(_OPAQUE),
        "the MSP id (letters, digits, '-')",
        ("access_token",),
    ),
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


DEFAULT_SMS_API_URL = "https://api.twilio.com"
SMS_API_VERSION = "2010-04-01"
DEFAULT_APPLE_GATEWAY = "https://mspgw.push.apple.com"


def sms_number(
    number: str,
    account_sid: str,
    *,
    auth_token: str,
    api_url: str = DEFAULT_SMS_API_URL,
    name: str = "",
    throughput_mps: int | None = None,
    **config: Any,
) -> NewChannel:
    """A number of a Twilio-compatible provider. The auth token both calls the API and signs
    the provider's callbacks (X-Twilio-Signature), so it is the app secret as well."""
    return NewChannel(
        kind=Channel.SMS,
        address=number.strip(),
        account_id=account_sid.strip(),
        access_token=auth_token,
        app_secret=auth_token,
        verify_token="",
        name=name or number.strip(),
        config=config,
        graph_url=api_url,
        api_version=SMS_API_VERSION,
        throughput_mps=throughput_mps,
    )


def email_sender(
    address: str,
    *,
    smtp_url: str,
    smtp_password: str = "",
    dkim_key: str = "",
    name: str = "",
    throughput_mps: int | None = None,
    **config: Any,
) -> NewChannel:
    """A sending address over SMTP. Threadline makes the secret that signs its unsubscribe
    links and authenticates the inbound-mail webhook."""
    address = address.strip().lower()
    return NewChannel(
        kind=Channel.EMAIL,
        address=address,
        account_id=address.rpartition("@")[2],
        access_token=smtp_password,
        app_secret=secrets.token_urlsafe(32),
        verify_token="",
        name=name or address,
        config=config,
        graph_url=smtp_url,
        api_version="",
        throughput_mps=throughput_mps,
        private_key=dkim_key,
    )


def apple_business(
    business_id: str,
    msp_id: str,
    *,
    secret: str,
    gateway_url: str = DEFAULT_APPLE_GATEWAY,
    name: str = "",
    throughput_mps: int | None = None,
    **config: Any,
) -> NewChannel:
    """An Apple Messages for Business account reached through an MSP: the MSP's Base64
    secret signs the JWTs both ways."""
    if secret and not _base64_ok(secret):
        raise InvalidInput("secret must be the MSP's Base64 Messaging API secret", where="secret")
    return NewChannel(
        kind=Channel.APPLE,
        address=business_id.strip(),
        account_id=msp_id.strip(),
        access_token=secret,
        app_secret=secret,
        verify_token="",
        name=name or business_id.strip(),
        config=config,
        graph_url=gateway_url,
        api_version="v1",
        throughput_mps=throughput_mps,
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


def serves(channel: ChannelAccount, marketing: bool) -> bool:
    """Whether the account's sender pool carries this traffic: carriers register and filter
    promotional and transactional numbers apart (10DLC campaigns), so a marketing pool
    number sends no order updates and a transactional one no offers."""
    pool = (channel.config or {}).get("pool")
    if pool == "marketing":
        return marketing
    if pool == "transactional":
        return not marketing
    return True


def provider_answers_keywords(channel: ChannelAccount) -> bool:
    """The provider answers STOP/HELP/START itself (Twilio's opt-out management): a reply of
    ours would be refused and the person would get two answers."""
    return bool((channel.config or {}).get("provider_opt_out"))


def access_of(box: SecretBox, channel: ChannelAccount) -> AccountAccess:
    """What a client needs to call this channel's API, with its secrets decrypted."""
    sealed = unseal(box, channel)
    return AccountAccess(
        base_url=channel.base_url,
        api_version=channel.api_version,
        address=channel.address,
        access_token=sealed.access_token,
        account_id=channel.account_id,
        signing_secret=sealed.app_secret,
        private_key=sealed.private_key,
        settings=dict(channel.config or {}),
    )


# What the options that carry a secret are called for each type (Meta: token).
_SECRET_OPTIONS: dict[tuple[Channel, str], str] = {
    (Channel.WHATSAPP, "access_token"): "token",
    (Channel.MESSENGER, "access_token"): "token",
    (Channel.INSTAGRAM, "access_token"): "token",
    (Channel.SMS, "access_token"): "auth_token",
    (Channel.APPLE, "access_token"): "secret",
}


def _label(field_name: str) -> str:
    return field_name.replace("_", " ")


def _check(spec: NewChannel, declared: ChannelType) -> dict[str, Any]:
    identity = _IDENTITIES[spec.kind]
    if not identity.address_ok(spec.address):
        name = identity.address_name
        raise InvalidInput(f"{_label(name)} must be {identity.address_rule}", where=name)
    if not identity.account_ok(spec.account_id):
        name = identity.account_name
        raise InvalidInput(f"{_label(name)} must be {identity.account_rule}", where=name)
    for name in identity.secrets:
        if not getattr(spec, name):
            where = _SECRET_OPTIONS.get((spec.kind, name), name)
            raise InvalidInput(f"{_label(where)} must not be empty", where=where)
    schemes = ("smtp://", "smtps://") if spec.kind is Channel.EMAIL else ("https://", "http://")
    if not spec.graph_url.startswith(schemes):
        where = "smtp_url" if spec.kind is Channel.EMAIL else "graph_url"
        raise InvalidInput(f"{_label(where)} must start with {' or '.join(schemes)}", where=where)
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
        address_name = _label(_IDENTITIES[spec.kind].address_name)
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
        secrets=seal(
            box,
            ChannelSecrets(spec.access_token, spec.app_secret, spec.verify_token, spec.private_key),
        ),
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
