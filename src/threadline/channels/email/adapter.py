"""Email's implementation of the one handler shape."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aiohttp

from threadline.channels import messages as m
from threadline.channels.adapter import AccountAccess, Client, Envelope, WebhookFormatError
from threadline.channels.email import render, webhooks
from threadline.channels.email.client import EmailClient
from threadline.channels.email.declaration import EMAIL
from threadline.channels.events import ChannelEvent
from threadline.channels.types import ChannelType


class EmailAdapter:
    type: ChannelType = EMAIL

    def parse(self, payload: Any) -> list[ChannelEvent]:
        """`payload` is the raw RFC 5322 message (bytes); the receiver passes the time it
        arrived and the account it found through `webhooks.parse_raw` directly."""
        if isinstance(payload, str):
            payload = payload.encode("utf-8", "surrogateescape")
        if not isinstance(payload, bytes | bytearray):
            raise WebhookFormatError("an email notification is the raw message, as bytes")
        return webhooks.parse_raw(bytes(payload), datetime.now(UTC))

    def render(self, content: m.Content, envelope: Envelope) -> dict[str, Any]:
        return render.render(content, envelope)

    def client(self, http: aiohttp.ClientSession, access: AccountAccess) -> Client:
        return EmailClient(http, access)


ADAPTER = EmailAdapter()
