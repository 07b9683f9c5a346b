"""Apple's MSP gateway, emulated: the MSPs it knows (their id, Base64 secret and the URL
Apple posts their messages to), the businesses each one serves, and the simulated people
who write to them, with their device inbox.

Self-contained on purpose, like the Meta and SMS sides: nothing here imports Threadline's
Apple code (channels/apple), so the emulator's JWTs and gateway rules are an independent
check of the product's.

Rules, as Apple states them or (marked) as the emulator chooses to show them:
- Only the customer starts: a business's message to someone who never wrote that business is
  refused. Apple mints a person's opaque id per business when they write, so the gateway
  knows no such destination: the emulator answers **404** (its choice; a 403 would read as
  the MSP's credentials being wrong).
- A person who closed (or deleted) the conversation takes nothing until they write again:
  **410**.
- Interactive data over 10 KB must go by reference (not emulated): **413**.
- Tokens: HS256 with the Base64-decoded secret; `iss` names the MSP on requests to Apple,
  `aud` on Apple's requests to the MSP. The emulator takes a token issued up to 10 minutes
  ago (60 s of clock skew either way), judged on the machine's clock, which is the one
  Threadline signs with; the tokens it issues carry the emulator's own (advanceable) clock,
  which is the one Threadline's app verifies with in the integration stack."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import Request

BID = (
    "com.apple.messages.MSMessageExtensionBalloonPlugin:0000000000:"
    "com.apple.icloud.apps.messages.business.extension"
)
INTERACTIVE_INLINE_MAX = 10 * 1024
TOKEN_MAX_AGE_SECONDS = 10 * 60
CLOCK_SKEW_SECONDS = 60
DEVICE_AGENTS = ("iPhone OS", "Mac OS X", "Watch OS", "Apple TVOS")
CAPABILITIES = ("QUICK", "LIST", "TIME", "AUTH", "AUTH2", "FORM")


def secret_key(secret_b64: str) -> bytes:
    try:
        key = base64.b64decode(secret_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the secret is not Base64") from exc
    if not key:
        raise ValueError("the secret is empty")
    return key


def new_message_id() -> str:
    return str(uuid.uuid4()).upper()


@dataclass
class Msp:
    msp_id: str
    secret_b64: str
    message_url: str  # where Apple posts this MSP's messages (Threadline's receiver)


@dataclass
class Chat:
    """One person's conversation with one business."""

    started_at: datetime | None = None  # when the person first wrote
    closed: bool = False
    typing: bool = False  # the business shows it is typing


@dataclass
class AppleUser:
    opaque_id: str
    chats: dict[str, Chat] = field(default_factory=dict)
    # What the business sent this person, in order: {"business_id", "id", "message"}.
    inbox: list[dict[str, Any]] = field(default_factory=list)

    def chat(self, business_id: str) -> Chat:
        return self.chats.setdefault(business_id, Chat())


@dataclass
class GatewayRecord:
    """One `POST /v1/message` and what the gateway answered."""

    at: str
    msp_id: str | None
    business_id: str | None
    destination_id: str | None
    message_id: str | None
    status: int
    reason: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    status: int
    remaining: int


@dataclass
class AppleGateway:
    msps: dict[str, Msp] = field(default_factory=dict)
    businesses: dict[str, str] = field(default_factory=dict)  # business id → MSP id
    users: dict[str, AppleUser] = field(default_factory=dict)
    requests: list[GatewayRecord] = field(default_factory=list)
    accepted: set[str] = field(default_factory=set)  # message ids taken (a retry is one)
    faults: deque[Fault] = field(default_factory=deque)

    def user(self, opaque_id: str) -> AppleUser:
        found = self.users.get(opaque_id)
        if found is None:
            found = self.users[opaque_id] = AppleUser(opaque_id)
        return found

    def fault(self) -> int | None:
        """The status a planned fault answers with, once per call it was planned for."""
        if not self.faults:
            return None
        fault = self.faults[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            self.faults.popleft()
        return fault.status


def apple_gateway(request: Request) -> AppleGateway:
    """The gateway's state, kept on the emulator app (made on first use)."""
    state = request.app.state
    found: AppleGateway | None = getattr(state, "apple_gateway", None)
    if found is None:
        found = AppleGateway()
        state.apple_gateway = found
    return found
