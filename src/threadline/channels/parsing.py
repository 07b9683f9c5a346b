"""What one inbound message (or one of its attachments) says, as a platform parser reads it
before it becomes an `InboundMessage`: one shape for every parser."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from threadline.channels.events import MediaRef


@dataclass(frozen=True, slots=True)
class MessageContent:
    kind: str  # text, image, interactive/<sub>, system/<type>, story_mention, ...
    text: str | None = None
    payload: str | None = None
    media: MediaRef | None = None
    location: dict[str, Any] | None = None
    story: dict[str, Any] | None = None  # Instagram: the story replied to or mentioned
