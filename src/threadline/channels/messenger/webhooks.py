"""Messenger page webhooks: the shared Meta messaging parser, for `object: "page"`."""

from __future__ import annotations

from typing import Any

from threadline.channels.events import ChannelEvent
from threadline.channels.meta import messaging


def parse(payload: Any) -> list[ChannelEvent]:
    return messaging.parse(payload, expected_object="page")
