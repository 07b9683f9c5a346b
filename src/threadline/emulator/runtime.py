"""The running emulator: its state, webhook sender, stored media, and simulated users'
messages turned into platform webhooks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from threadline.emulator.hooks import WebhookSender, envelope, messages_value
from threadline.emulator.state import EmulatorState, Number, SimUser

# A tuple, not a set: `in` must not fail on an unhashable type from a spec.
_MEDIA_KINDS = ("image", "document", "audio", "video")
_DEFAULT_MIME = {
    "image": "image/jpeg",
    "document": "application/pdf",
    "audio": "audio/ogg",
    "video": "video/mp4",
}


@dataclass
class Runtime:
    state: EmulatorState
    hooks: WebhookSender
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)

    def store_media(self, data: bytes, mime: str) -> str:
        media_id = str(int(hashlib.sha256(data).hexdigest()[:12], 16))
        self.media[media_id] = (data, mime)
        return media_id

    def user_says(
        self, number: Number, user: SimUser, spec: dict[str, Any], delay: float = 0.0
    ) -> str:
        """A simulated person writes to the business: opens their window and posts the
        `messages` webhook. Returns the new message id."""
        state = self.state
        now = state.now()
        message_id = state.new_wamid()
        message: dict[str, Any] = {
            "from": user.wa_id,
            "id": message_id,
            "timestamp": str(int(now.timestamp())),
        }
        message.update(self._content(spec))
        if spec.get("context"):
            message["context"] = {"from": number.display_phone_number, "id": spec["context"]}
        if spec.get("referral"):
            message["referral"] = _referral(state, spec["referral"])
            user.entry_point_at = now
        user.last_inbound_at = now
        contact = {"profile": {"name": user.name or user.wa_id}, "wa_id": user.wa_id}
        value = messages_value(number, contacts=[contact], messages=[message])
        self.hooks.schedule(number, envelope(number, "messages", value, now), delay)
        return message_id

    def _content(self, spec: dict[str, Any]) -> dict[str, Any]:
        kind = spec.get("type", "text")
        if kind in _MEDIA_KINDS:
            return self._media_content(kind, spec)
        return _plain_content(kind, spec)

    def _media_content(self, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
        data = str(spec.get("text", "media")).encode()
        mime = spec.get("mime_type", _DEFAULT_MIME[kind])
        media_id = self.store_media(data, mime)
        return {
            "type": kind,
            kind: {"id": media_id, "mime_type": mime, "sha256": hashlib.sha256(data).hexdigest()},
        }


def _plain_content(kind: Any, spec: dict[str, Any]) -> dict[str, Any]:
    if kind == "text":
        return {"type": "text", "text": {"body": spec.get("text", "")}}
    if kind == "button":
        return {
            "type": "button",
            "button": {"payload": spec.get("payload", ""), "text": spec.get("text", "")},
        }
    if kind in ("button_reply", "list_reply"):
        reply = {"id": spec.get("payload", ""), "title": spec.get("text", "")}
        return {"type": "interactive", "interactive": {"type": kind, kind: reply}}
    if kind == "location":
        keys = ("latitude", "longitude", "name", "address")
        return {"type": "location", "location": {k: spec[k] for k in keys if k in spec}}
    if kind == "order":
        order = {
            "catalog_id": spec.get("catalog_id", ""),
            "text": spec.get("text", ""),
            "product_items": spec.get("product_items") or [],
        }
        return {"type": "order", "order": order}
    raise ValueError(f"unknown message type {kind!r}")


def _referral(state: EmulatorState, raw: Any) -> dict[str, Any]:
    referral = dict(raw)
    referral.setdefault("source_type", "ad")
    referral.setdefault("ctwa_clid", f"clid{state.rng.getrandbits(32):08x}")
    return referral


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.emulator
    return rt
