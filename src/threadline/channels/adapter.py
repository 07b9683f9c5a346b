"""The one handler shape every channel type implements: parse a verified webhook body into
neutral events, render neutral content into the platform's request, and send it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

from threadline.channels import messages as m
from threadline.channels.events import ChannelEvent
from threadline.channels.outcome import SendOutcome
from threadline.channels.rules import Basis
from threadline.channels.types import ChannelType


class RenderError(ValueError):
    """Content the channel cannot carry, with where in the content the problem is."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


class WebhookFormatError(ValueError):
    """The body is not a notification of this channel type at all (HTTP 400)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """How one message goes: to whom, why it may go (the policy's basis) and what it answers."""

    to: str  # the platform address: phone-number id, PSID, IGSID
    basis: Basis = Basis.SERVICE_WINDOW
    purpose: str = "service"
    reply_to: str | None = None  # the platform id of the message this answers
    callback_data: str | None = None  # our message id, echoed back in status webhooks
    subscription_token: str | None = None  # Messenger marketing messages
    # The subject of the thread the message belongs to (email: "Re: …" keeps it threaded).
    subject: str | None = None
    # How long the platform may go on trying to deliver it (a fallback follows after).
    ttl_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class AccountAccess:
    """What a client needs to reach one account's API (secrets already decrypted)."""

    base_url: str
    api_version: str
    address: str  # phone-number id, page id, Instagram account id, number, email address
    access_token: str
    # The account id beside the address (WABA, Twilio Account SID, Apple MSP id).
    account_id: str = ""
    # What signs requests to and from the platform (Twilio's auth token, the MSP secret) or
    # Threadline's own links (email unsubscribe tokens).
    signing_secret: str = ""
    # A private key the account signs with (email: the DKIM key, PEM); empty when none.
    private_key: str = ""
    # The account's typed config as stored (email: postal address, public URL, DKIM selector).
    settings: Mapping[str, Any] = field(default_factory=dict)


class Client(Protocol):
    async def send(self, body: dict[str, Any]) -> SendOutcome: ...

    async def fetch_media(self, media: Mapping[str, Any]) -> tuple[bytes, str]:
        """The bytes and MIME type of media a person sent (the stored `media` of a message)."""
        ...


class Adapter(Protocol):
    type: ChannelType

    def parse(self, payload: Any) -> list[ChannelEvent]:
        """Neutral events from a verified body; raises WebhookFormatError if not this type's."""
        ...

    def render(self, content: m.Content, envelope: Envelope) -> dict[str, Any]:
        """The exact request body; raises RenderError for content the channel cannot carry."""
        ...

    def client(self, http: aiohttp.ClientSession, access: AccountAccess) -> Client: ...
