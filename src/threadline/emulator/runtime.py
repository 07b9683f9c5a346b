"""The running emulator: its state, webhook sender, stored media, and simulated users'
messages turned into platform webhooks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from threadline.emulator.hooks import WebhookSender, envelope, messages_value
from threadline.emulator.state import EmulatorState, Number, SimUser


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
        kind = spec.get("type", "text")
        if kind == "text":
            message.update(type="text", text={"body": spec.get("text", "")})
        elif kind == "button":
            message.update(
                type="button",
                button={"payload": spec.get("payload", ""), "text": spec.get("text", "")},
            )
        elif kind in ("button_reply", "list_reply"):
            reply = {"id": spec.get("payload", ""), "title": spec.get("text", "")}
            message.update(type="interactive", interactive={"type": kind, kind: reply})
        elif kind == "location":
            message.update(
                type="location",
                location={
                    k: spec[k] for k in ("latitude", "longitude", "name", "address") if k in spec
                },
            )
        elif kind in ("image", "document", "audio", "video"):
            data = str(spec.get("text", "media")).encode()
            mime = spec.get(
                "mime_type",
                {
                    "image": "image/jpeg",
                    "document": "application/pdf",
                    "audio": "audio/ogg",
                    "video": "video/mp4",
                }[kind],
            )
            media_id = self.store_media(data, mime)
            message.update(
                type=kind,
                **{
                    kind: {
                        "id": media_id,
                        "mime_type": mime,
                        "sha256": hashlib.sha256(data).hexdigest(),
                    }
                },
            )
        else:
            raise ValueError(f"unknown message type {kind!r}")
        if spec.get("context"):
            message["context"] = {"from": number.display_phone_number, "id": spec["context"]}
        if spec.get("referral"):
            referral = dict(spec["referral"])
            referral.setdefault("source_type", "ad")
            referral.setdefault("ctwa_clid", f"clid{state.rng.getrandbits(32):08x}")
            message["referral"] = referral
            user.entry_point_at = now
        user.last_inbound_at = now
        contact = {"profile": {"name": user.name or user.wa_id}, "wa_id": user.wa_id}
        value = messages_value(number, contacts=[contact], messages=[message])
        self.hooks.schedule(number, envelope(number, "messages", value, now), delay)
        return message_id


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.emulator
    return rt
