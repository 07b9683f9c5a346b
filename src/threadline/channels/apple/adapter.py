"""Apple Messages for Business's implementation of the one handler shape."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

from threadline.channels import messages as m
from threadline.channels.adapter import AccountAccess, Client, Envelope, WebhookFormatError
from threadline.channels.apple import render, webhooks
from threadline.channels.apple.client import AppleClient
from threadline.channels.apple.declaration import APPLE
from threadline.channels.events import ChannelEvent
from threadline.channels.types import ChannelType


@dataclass(frozen=True, slots=True)
class AppleDelivery:
    """One request from Apple's gateway: its JSON body (decompressed), its headers (the ids
    and what the device can show) and when it arrived (Apple's bodies carry no time)."""

    body: Any
    received_at: datetime
    headers: Mapping[str, str] = field(default_factory=dict)


class AppleAdapter:
    type: ChannelType = APPLE

    def parse(self, payload: Any) -> list[ChannelEvent]:
        if not isinstance(payload, AppleDelivery):
            raise WebhookFormatError("an Apple delivery is its body, headers and arrival time")
        return webhooks.parse(payload.body, payload.headers, payload.received_at)

    def render(self, content: m.Content, envelope: Envelope) -> dict[str, Any]:
        return render.render(content, envelope)

    def client(self, http: aiohttp.ClientSession, access: AccountAccess) -> Client:
        return AppleClient(http, access)


ADAPTER = AppleAdapter()
