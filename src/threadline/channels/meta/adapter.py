"""Messenger and Instagram share one handler: the same webhook envelope and Send API, told
apart by the webhook `object` and their declared capabilities."""

from __future__ import annotations

from typing import Any

import aiohttp

from threadline.channels import messages as m
from threadline.channels.adapter import AccountAccess, Client, Envelope
from threadline.channels.events import ChannelEvent
from threadline.channels.meta import messaging, send_render
from threadline.channels.meta.client import MetaSendClient
from threadline.channels.types import ChannelType


class MetaMessagingAdapter:
    def __init__(self, declared: ChannelType, webhook_object: str) -> None:
        self.type = declared
        self._object = webhook_object

    def parse(self, payload: Any) -> list[ChannelEvent]:
        return messaging.parse(payload, expected_object=self._object)

    def render(self, content: m.Content, envelope: Envelope) -> dict[str, Any]:
        return send_render.render(content, envelope, self.type)

    def client(self, http: aiohttp.ClientSession, access: AccountAccess) -> Client:
        return MetaSendClient(http, access, self.type.errors)
