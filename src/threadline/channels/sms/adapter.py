"""SMS's handler: Twilio-shaped form callbacks in, form requests out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp

from threadline.channels import messages as m
from threadline.channels.adapter import AccountAccess, Client, Envelope, WebhookFormatError
from threadline.channels.events import ChannelEvent
from threadline.channels.sms import render, webhooks
from threadline.channels.sms.client import SmsClient
from threadline.channels.sms.declaration import SMS


@dataclass(frozen=True, slots=True)
class FormDelivery:
    """One provider callback: its form fields in order, and when it arrived (Twilio's
    callbacks carry no timestamp of their own)."""

    form: Sequence[tuple[str, str]]
    received_at: datetime


class SmsAdapter:
    type = SMS

    def parse(self, payload: Any) -> list[ChannelEvent]:
        if not isinstance(payload, FormDelivery):
            raise WebhookFormatError("an SMS callback is a form delivery")
        return webhooks.parse(payload.form, received_at=payload.received_at)

    def render(self, content: m.Content, envelope: Envelope) -> dict[str, Any]:
        return render.render(content, envelope, SMS)

    def client(self, http: aiohttp.ClientSession, access: AccountAccess) -> Client:
        return SmsClient(http, access)


ADAPTER = SmsAdapter()
