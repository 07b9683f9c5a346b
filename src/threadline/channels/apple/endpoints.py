"""`POST /webhooks/apple/message`: what Apple's gateway posts to the MSP, verified with the
business's MSP secret (a JWT whose `aud` is the MSP id), stored once and acknowledged at
once. Processing happens in the worker.

The business is named by the `destination-id` header (and the body's `destinationId`, which
must agree). Bodies may come gzip-compressed (`Content-Encoding: gzip`, or gzip's magic bytes
without the header). 400: not JSON, not Apple's or naming no business; 404: a business that
is not registered; 401: a token that is missing, forged, stale or for another MSP."""

from __future__ import annotations

import json
import logging
import zlib

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from threadline.api.deps import Now, app_state
from threadline.channels.adapter import WebhookFormatError
from threadline.channels.apple import jwt_auth
from threadline.channels.apple.adapter import ADAPTER, AppleDelivery
from threadline.channels.kinds import Channel

log = logging.getLogger("threadline.webhooks")

GZIP_MAGIC = b"\x1f\x8b"
# The largest body taken once decompressed (a message, or its interactive data inline).
MAX_BODY_BYTES = 4 * 1024 * 1024

router = APIRouter(prefix="/webhooks/apple", tags=["webhooks"])


class _TooLarge(ValueError):
    pass


def _problem(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status)


def decoded(raw: bytes, content_encoding: str | None) -> bytes:
    """The body, gunzipped when it is gzip; ValueError when it cannot be."""
    encodings = [e.strip().lower() for e in (content_encoding or "").split(",") if e.strip()]
    if "gzip" not in encodings and not raw.startswith(GZIP_MAGIC):
        if len(raw) > MAX_BODY_BYTES:
            raise _TooLarge("the body is too large")
        return raw
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(raw, MAX_BODY_BYTES + 1)
    except zlib.error as exc:
        raise ValueError(f"the gzip body is broken: {exc}") from exc
    if len(data) > MAX_BODY_BYTES or inflater.unconsumed_tail:
        raise _TooLarge("the body is too large once decompressed")
    return data


@router.post("/message", name="receive_apple")
async def receive(request: Request, now: Now) -> Response:
    """One message from Apple: the person wrote, tapped, typed or closed the conversation."""
    try:
        body = json.loads(decoded(await request.body(), request.headers.get("content-encoding")))
    except _TooLarge as exc:
        return _problem(413, "too_large", str(exc))
    except ValueError as exc:
        return _problem(400, "bad_request", f"body is not JSON: {exc}")
    if not isinstance(body, dict):
        return _problem(400, "bad_request", "an Apple message is a JSON object")
    header = request.headers.get("destination-id")
    named = body.get("destinationId")
    if header and named and header != named:
        return _problem(400, "bad_request", "destination-id and destinationId disagree")
    business = header or named
    if not isinstance(business, str) or not business:
        return _problem(400, "bad_request", "the message names no business (destination-id)")
    state = app_state(request)
    # A session of its own, closed at once: on SQLite the process has one connection, and
    # the group commit that stores this delivery needs it.
    async with state.sessions() as session:
        known = await state.channels.of_kind(session, Channel.APPLE)
    channel = next((c for c in known if c.address == business), None)
    if channel is None:
        return _problem(404, "not_found", f"no Apple Messages for Business channel {business}")
    authorization = request.headers.get("authorization")
    if not jwt_auth.verify(channel.app_secret, channel.account_id, authorization, now):
        log.warning("rejected an Apple message with a bad token for %s", business)
        return _problem(401, "unauthorized", "the JWT does not verify with the MSP secret")
    try:
        events = ADAPTER.parse(AppleDelivery(body, now, dict(request.headers)))
    except WebhookFormatError as exc:
        return _problem(400, "bad_request", str(exc))
    stored, duplicates = await state.ingest.store([(channel, events)], now)
    return JSONResponse({"stored": stored, "duplicates": duplicates})
