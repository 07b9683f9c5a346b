"""The SMS provider's REST API, Twilio-compatible (API version 2010-04-01): create a message
(`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded, HTTP Basic auth) and
fetch one (`GET .../Messages/{MessageSid}.json`), with Twilio's error envelope
`{code, message, more_info, status}`."""

from __future__ import annotations

import asyncio
import base64
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from threadline.emulator.runtime import runtime
from threadline.emulator.sms_hooks import lifespan, request_hooks
from threadline.emulator.sms_state import (
    API_VERSION,
    SmsMessage,
    SmsRefusal,
    SmsRequest,
    SmsState,
    rfc2822,
)

router = APIRouter(lifespan=lifespan, tags=["SMS provider (Twilio-compatible)"])
BASE = f"/{API_VERSION}/Accounts"


def _error(refusal: SmsRefusal) -> JSONResponse:
    return JSONResponse(
        {
            "code": refusal.code,
            "message": refusal.message,
            "more_info": f"https://www.twilio.com/docs/errors/{refusal.code}",
            "status": refusal.http_status,
        },
        status_code=refusal.http_status,
    )


def _credentials(request: Request) -> tuple[str, str] | None:
    """HTTP Basic user and password, or None when absent or malformed."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def resource(message: SmsMessage) -> dict[str, Any]:
    """A Message resource as the REST API renders it (numbers as strings, as Twilio does)."""
    uri = f"{BASE}/{message.account_sid}/Messages/{message.sid}"
    return {
        "sid": message.sid,
        "account_sid": message.account_sid,
        "api_version": API_VERSION,
        "to": message.to,
        "from": message.from_,
        "body": message.body,
        "status": message.status,
        "direction": message.direction,
        "num_segments": str(message.num_segments),
        "num_media": str(len(message.media)),
        "date_created": rfc2822(message.created),
        "date_updated": rfc2822(message.updated),
        "date_sent": rfc2822(message.sent_at),
        "messaging_service_sid": None,
        "price": None,
        "price_unit": "USD",
        "error_code": message.error[0] if message.error else None,
        "error_message": message.error[1] if message.error else None,
        "uri": f"{uri}.json",
        "subresource_uris": {"media": f"{uri}/Media.json"},
    }


async def _apply_faults(sms: SmsState) -> None:
    """The SMS side's injected faults (`/_emulator/sms/faults`), before the send itself."""
    faults = sms.faults
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    if faults.error_rate and sms.rng.random() < faults.error_rate:
        raise SmsRefusal(20500, "Internal Server Error", 500)
    if sms.throttled():
        raise SmsRefusal(20429, "Too Many Requests", 429)


@router.post(f"{BASE}/{{account_sid}}/Messages.json", status_code=201)
async def create_message(account_sid: str, request: Request) -> Response:
    """Send an SMS/MMS: 201 with the queued Message, or Twilio's refusal."""
    sms = runtime(request).state.sms
    form = parse_qsl((await request.body()).decode(errors="replace"), keep_blank_values=True)
    logged = SmsRequest(sms.now().isoformat(), "POST", request.url.path, account_sid, form)
    sms.requests.append(logged)
    try:
        account = sms.authenticate(account_sid, _credentials(request))
        await _apply_faults(sms)
        message, outcome = sms.send(account, form)
    except SmsRefusal as refusal:
        logged.http_status, logged.code = refusal.http_status, refusal.code
        return _error(refusal)
    logged.http_status, logged.sid = 201, message.sid
    answer = resource(message)  # as accepted: "queued", whatever the callbacks say later
    request_hooks(request).follow(message, outcome)
    faults = sms.faults
    if faults.timeout_rate and sms.rng.random() < faults.timeout_rate:
        # Accepted and acted on, but the answer comes too late: the caller sees a timeout.
        await asyncio.sleep(faults.timeout_ms / 1000)
    return JSONResponse(answer, status_code=201)


@router.get(f"{BASE}/{{account_sid}}/Messages/{{message_sid}}.json")
async def fetch_message(account_sid: str, message_sid: str, request: Request) -> Response:
    """A message's current state (for reconciling a send whose answer was lost)."""
    sms = runtime(request).state.sms
    try:
        sms.authenticate(account_sid, _credentials(request))
    except SmsRefusal as refusal:
        return _error(refusal)
    message = sms.messages.get(message_sid)
    if message is None or message.account_sid != account_sid:
        return _error(
            SmsRefusal(20404, f"The requested resource {request.url.path} was not found", 404)
        )
    return JSONResponse(resource(message))
