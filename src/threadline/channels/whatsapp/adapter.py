"""WhatsApp's implementation of the one handler shape."""

from __future__ import annotations

from typing import Any

import aiohttp

from threadline.channels import messages as m
from threadline.channels.adapter import AccountAccess, Client, Envelope
from threadline.channels.events import ChannelEvent
from threadline.channels.types import ChannelType
from threadline.channels.whatsapp import render, webhooks
from threadline.channels.whatsapp.client import WhatsAppClient
from threadline.channels.whatsapp.declaration import WHATSAPP


class WhatsAppAdapter:
    type: ChannelType = WHATSAPP

    def parse(self, payload: Any) -> list[ChannelEvent]:
        return webhooks.parse(payload)

    def render(self, content: m.Content, envelope: Envelope) -> dict[str, Any]:
        return render.render(
            content, envelope.to, reply_to=envelope.reply_to, callback_data=envelope.callback_data
        )

    def client(self, http: aiohttp.ClientSession, access: AccountAccess) -> Client:
        return WhatsAppClient(
            http,
            base_url=access.base_url,
            api_version=access.api_version,
            phone_number_id=access.address,
            access_token=access.access_token,
        )


ADAPTER = WhatsAppAdapter()
