"""GET/POST /webhooks/whatsapp: the verification handshake, and notifications that are
verified on the raw body, stored once and acknowledged at once. Processing happens in the
worker, so a slow step never makes the platform retry."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from threadline.api.deps import Now, Session, app_state
from threadline.channels.directory import KnownChannel
from threadline.channels.events import ChannelEvent, NumberQualityChange
from threadline.channels.whatsapp import signature
from threadline.channels.whatsapp.webhooks import WebhookFormatError, parse
from threadline.inbox import service as inbox
from threadline.kit.crypto import constant_time_equals

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
log = logging.getLogger("threadline.webhooks")


@router.get("/whatsapp")
async def verify(
    request: Request,
    session: Session,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge")] = None,
) -> Response:
    """Meta's subscription handshake: echo the challenge if the verify token is ours."""
    if mode != "subscribe" or not token or challenge is None:
        return JSONResponse(
            {
                "error": "bad_request",
                "message": "expected hub.mode=subscribe, hub.verify_token and hub.challenge",
            },
            status_code=400,
        )
    for channel in await app_state(request).channels.whatsapp(session):
        if constant_time_equals(channel.verify_token, token):
            return PlainTextResponse(challenge)
    return JSONResponse(
        {"error": "forbidden", "message": "verify token does not match"}, status_code=403
    )


def _referenced(payload: Any) -> tuple[set[str], set[str]]:
    """Phone-number ids and WABA ids a notification is about."""
    numbers: set[str] = set()
    accounts: set[str] = set()
    for entry in payload.get("entry") or [] if isinstance(payload, dict) else []:
        if not isinstance(entry, dict):
            continue
        accounts.add(str(entry.get("id", "")))
        for change in entry.get("changes") or []:
            value = change.get("value") if isinstance(change, dict) else None
            metadata = value.get("metadata") if isinstance(value, dict) else None
            if isinstance(metadata, dict) and metadata.get("phone_number_id"):
                numbers.add(str(metadata["phone_number_id"]))
    return numbers, accounts


async def _channels_for(
    request: Request, session: Session, numbers: set[str], accounts: set[str]
) -> list[KnownChannel]:
    known = await app_state(request).channels.whatsapp(session)
    return [c for c in known if c.address in numbers or (not numbers and c.account_id in accounts)]


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


@router.post("/whatsapp")
async def receive(request: Request, session: Session, now: Now) -> Response:
    raw = await request.body()
    try:
        payload = json.loads(raw)
    except ValueError:
        return JSONResponse(
            {"error": "bad_request", "message": "body is not JSON"}, status_code=400
        )
    numbers, accounts = _referenced(payload)
    targets = await _channels_for(request, session, numbers, accounts)
    if not targets:
        return JSONResponse(
            {
                "error": "not_found",
                "message": "no channel for phone number "
                f"ids {sorted(numbers)} / accounts {sorted(accounts)}",
            },
            status_code=404,
        )
    header = request.headers.get("x-hub-signature-256")
    secrets = {c.app_secret for c in targets}
    if len(secrets) != 1 or not signature.valid(secrets.pop(), raw, header):
        log.warning("rejected a WhatsApp webhook with a bad signature")
        return JSONResponse(
            {
                "error": "unauthorized",
                "message": "X-Hub-Signature-256 does not match the app secret",
            },
            status_code=401,
        )
    try:
        events = parse(payload)
    except WebhookFormatError as exc:
        return JSONResponse({"error": "bad_request", "message": str(exc)}, status_code=400)
    by_number = {c.address: c for c in targets}
    by_display = {_digits(c.display_number): c for c in targets if c.display_number}
    grouped: dict[str, list[ChannelEvent]] = defaultdict(list)
    owner: dict[str, KnownChannel] = {}
    for event in events:
        account = getattr(event, "account", None)
        channel = by_number.get(str(account)) or targets[0]
        if isinstance(event, NumberQualityChange):
            channel = by_display.get(_digits(event.display_phone_number), channel)
        grouped[channel.id].append(event)
        owner[channel.id] = channel
    stored = duplicates = 0
    for channel_id, batch in grouped.items():
        new, dup = await inbox.store(session, owner[channel_id], batch, now)
        stored, duplicates = stored + new, duplicates + dup
    return JSONResponse({"stored": stored, "duplicates": duplicates})
