"""POST /webhooks/sms: the provider's inbound messages and status callbacks, form-encoded.

Each is checked against the number's auth token (X-Twilio-Signature over the exact URL the
provider called and the sorted form fields) before anything is stored, stored once
(deduplicated by the message sid and status) and answered at once with empty TwiML, so the
provider neither retries nor sends a reply of its own."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from threadline.api.deps import Now, app_state
from threadline.channels.adapter import WebhookFormatError
from threadline.channels.directory import KnownChannel
from threadline.channels.kinds import Channel
from threadline.channels.sms import signature
from threadline.channels.sms.adapter import ADAPTER, FormDelivery

log = logging.getLogger("threadline.webhooks")
router = APIRouter(prefix="/webhooks", tags=["webhooks"])
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _problem(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status)


def signed_url(request: Request, channel: KnownChannel) -> str:
    """The URL the provider signed: the public URL the number was given when Threadline
    sits behind a proxy, else the one this request came in on."""
    public = str(channel.config.get("public_url") or "").rstrip("/")
    if not public:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{public}{request.url.path}{query}"


async def _channel_for(request: Request, fields: dict[str, str]) -> KnownChannel | None:
    """Our number is `To` on an inbound message and `From` on a status callback."""
    state = app_state(request)
    async with state.sessions() as session:
        known = await state.channels.of_kind(session, Channel.SMS)
    ours = {fields.get("To"), fields.get("From")}
    return next(
        (c for c in known if c.address in ours and c.account_id == fields.get("AccountSid")),
        None,
    )


@router.post("/sms", name="receive_sms")
async def receive(request: Request, now: Now) -> Response:
    raw = await request.body()
    try:
        form = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw))
    except (UnicodeDecodeError, ValueError):
        return _problem(400, "bad_request", "body is not application/x-www-form-urlencoded")
    fields = dict(form)
    if not fields.get("AccountSid"):
        return _problem(400, "bad_request", "the callback names no account: AccountSid is missing")
    channel = await _channel_for(request, fields)
    if channel is None:
        numbers = sorted(n for n in (fields.get("To"), fields.get("From")) if n)
        return _problem(404, "not_found", f"no SMS channel for {numbers} of this account")
    header = request.headers.get("x-twilio-signature")
    if not signature.valid(channel.app_secret, signed_url(request, channel), form, header):
        log.warning("rejected an SMS callback with a bad signature")
        return _problem(401, "unauthorized", "X-Twilio-Signature does not match the auth token")
    try:
        events = ADAPTER.parse(FormDelivery(form, received_at=now))
    except WebhookFormatError as exc:
        return _problem(400, "bad_request", str(exc))
    await app_state(request).ingest.store([(channel, events)], now)
    return Response(EMPTY_TWIML, media_type="text/xml")
