"""The Graph API paths Threadline's WhatsApp adapter calls, with the platform's rules."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from threadline.emulator import templates
from threadline.emulator.catalogs import check_products
from threadline.emulator.hooks import envelope, messages_value
from threadline.emulator.runtime import Runtime, runtime
from threadline.emulator.state import (
    Accepted,
    EmulatorState,
    Number,
    Refusal,
    RequestRecord,
    tier_label,
)

router = APIRouter()


def _error(refusal: Refusal) -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "message": refusal.message,
                "type": "OAuthException",
                "code": refusal.code,
                "error_data": {"messaging_product": "whatsapp", "details": refusal.message},
                "fbtrace_id": "emulator",
            }
        },
        status_code=refusal.http_status,
    )


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:] if header.lower().startswith("bearer ") else None


@router.post("/{version}/{phone_number_id}/messages")
async def send_message(version: str, phone_number_id: str, request: Request) -> Response:
    rt = runtime(request)
    state = rt.state
    record = RequestRecord(
        at=state.now().isoformat(),
        method="POST",
        path=request.url.path,
        to=None,
        type=None,
        result="error",
    )
    state.requests.append(record)
    try:
        number = state.number_for_token(phone_number_id, _token(request))
        try:
            body: dict[str, Any] = await request.json()
        except ValueError as exc:
            raise Refusal(100, "(#100) Invalid JSON body") from exc
        record.to, record.type = body.get("to"), body.get("type")
        record.callback_data = body.get("biz_opaque_callback_data")
        if body.get("status") == "read":
            record.result, record.type = "accepted", "mark_read"
            return JSONResponse({"success": True})
        faults = state.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.error_rate and state.rng.random() < faults.error_rate:
            raise Refusal(131000, "(#131000) Something went wrong", 500)
        templates.advance(rt)  # a pause that has ended, a review that is due
        if body.get("type") == "interactive":
            check_products(state.catalogs, body.get("interactive"))
        accepted = state.send(number, body, time.monotonic())
    except Refusal as refusal:
        record.code = refusal.code
        return _error(refusal)
    record.result, record.message_id = "accepted", accepted.message_id
    _schedule_statuses(rt, number, body, accepted)
    answer: dict[str, Any] = {"id": accepted.message_id}
    if accepted.template_message_status:
        answer["message_status"] = accepted.template_message_status
    if state.faults.timeout_rate and state.rng.random() < state.faults.timeout_rate:
        # Accepted and acted on, but the answer comes too late: the caller sees a timeout.
        await asyncio.sleep(state.faults.timeout_ms / 1000)
    return JSONResponse(
        {
            "messaging_product": "whatsapp",
            "contacts": [{"input": body.get("to"), "wa_id": str(body.get("to", "")).lstrip("+")}],
            "messages": [answer],
        }
    )


def _status(
    number: Number, accepted: Accepted, status: str, body: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": accepted.message_id,
        "status": status,
        "timestamp": str(int(extra.pop("at"))),
        "recipient_id": accepted.user.wa_id,
        **extra,
    }
    if body.get("biz_opaque_callback_data") is not None:
        item["biz_opaque_callback_data"] = body["biz_opaque_callback_data"]
    return item


def _schedule_statuses(
    rt: Runtime, number: Number, body: dict[str, Any], accepted: Accepted
) -> None:
    state = rt.state
    now = state.now()
    at = now.timestamp()
    user = accepted.user

    def post(status: dict[str, Any], delay: float) -> None:
        value = messages_value(number, statuses=[status])
        rt.hooks.schedule(number, envelope(number, "messages", value, now), delay)

    if accepted.late_failure is not None:
        code, title = accepted.late_failure
        error = {"code": code, "title": title, "message": title, "error_data": {"details": title}}
        post(_status(number, accepted, "failed", body, at=at, errors=[error]), 0.05)
        return
    pricing = {"pricing": accepted.pricing} if accepted.pricing else {}
    post(_status(number, accepted, "sent", body, at=at, **pricing), 0.05)
    post(_status(number, accepted, "delivered", body, at=at + 1, **pricing), 0.15)
    if state.rng.random() < user.read:
        post(_status(number, accepted, "read", body, at=at + 2, **pricing), 0.3)
        if body.get("type") == "audio":
            # A voice message that was listened to.
            post(_status(number, accepted, "played", body, at=at + 3, **pricing), 0.4)
        if state.rng.random() < user.reply:
            rt.user_says(
                number,
                user,
                {
                    "type": "text",
                    "text": state.rng.choice(["Thanks!", "Tell me more", "How much is it?", "ok"]),
                },
                delay=0.6,
            )
    if body.get("type") == "template" and state.rng.random() < user.block:
        user.blocked = True


@router.get("/{version}/{object_id}")
async def get_object(version: str, object_id: str, request: Request) -> Response:
    """Media lookup (`GET /{media_id}`) and phone-number fields (`GET /{phone_number_id}`)."""
    rt = runtime(request)
    state = rt.state
    token = _token(request)
    if object_id in state.templates:
        try:
            template = state.templates[object_id]
            _waba_for_token(state, template.waba_id, token)
        except Refusal as refusal:
            return _error(refusal)
        templates.advance(rt)
        return JSONResponse(templates.describe(template))
    if object_id in state.numbers:
        try:
            number = state.number_for_token(object_id, token)
        except Refusal as refusal:
            return _error(refusal)
        tier = tier_label(number.tier)
        return JSONResponse(
            {
                "id": number.phone_number_id,
                "display_phone_number": number.display_phone_number,
                "quality_rating": number.quality,
                "messaging_limit_tier": tier,
                "throughput": {"level": "HIGH" if number.mps >= 1000 else "STANDARD"},
            }
        )
    if not any(n.access_token == token for n in state.numbers.values()):
        return _error(Refusal(190, "Error validating access token", 401))
    content = runtime(request).media.get(object_id)
    if content is None:
        return _error(Refusal(100, f"Object with ID '{object_id}' does not exist", 404))
    data, mime = content
    return JSONResponse(
        {
            "messaging_product": "whatsapp",
            "url": str(request.url_for("media_bytes", media_id=object_id)),
            "mime_type": mime,
            "sha256": hashlib.sha256(data).hexdigest(),
            "file_size": len(data),
            "id": object_id,
        }
    )


@router.get("/_emulator/media/{media_id}", name="media_bytes")
async def media_bytes(media_id: str, request: Request) -> Response:
    rt = runtime(request)
    token = _token(request)
    if not any(n.access_token == token for n in rt.state.numbers.values()):
        return _error(Refusal(190, "Error validating access token", 401))
    content = rt.media.get(media_id)
    if content is None:
        return Response(status_code=404)
    return Response(content=content[0], media_type=content[1])


def _waba_for_token(state: EmulatorState, waba_id: str, token: str | None) -> None:
    """The bearer token must be one of the WABA's numbers' tokens."""
    numbers = [n for n in state.numbers.values() if n.waba_id == waba_id]
    if any(n.access_token == token for n in numbers):
        return
    if not numbers and any(n.access_token == token for n in state.numbers.values()):
        raise Refusal(100, f"Unsupported request. Object with ID '{waba_id}' does not exist", 400)
    raise Refusal(190, "Error validating access token", 401)


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError as exc:
        raise Refusal(100, "(#100) Invalid JSON body") from exc


@router.get("/{version}/{waba_id}/message_templates")
async def list_templates(version: str, waba_id: str, request: Request) -> Response:
    rt = runtime(request)
    state = rt.state
    if not any(
        n.waba_id == waba_id and n.access_token == _token(request) for n in state.numbers.values()
    ):
        return _error(Refusal(190, "Error validating access token", 401))
    templates.advance(rt)
    data = [templates.describe(t) for t in state.templates.values() if t.waba_id == waba_id]
    return JSONResponse({"data": data})


@router.post("/{version}/{waba_id}/message_templates")
async def create_template(version: str, waba_id: str, request: Request) -> Response:
    """Submit a template for review: `{id, status: "PENDING", category}`."""
    rt = runtime(request)
    try:
        _waba_for_token(rt.state, waba_id, _token(request))
        templates.advance(rt)
        template = templates.create(rt, waba_id, await _json(request))
    except Refusal as refusal:
        return _error(refusal)
    return JSONResponse(
        {"id": template.id, "status": template.status, "category": template.category}
    )


@router.delete("/{version}/{waba_id}/message_templates")
async def delete_template(version: str, waba_id: str, request: Request) -> Response:
    rt = runtime(request)
    try:
        _waba_for_token(rt.state, waba_id, _token(request))
        templates.delete(
            rt, waba_id, request.query_params.get("name"), request.query_params.get("hsm_id")
        )
    except Refusal as refusal:
        return _error(refusal)
    return JSONResponse({"success": True})


@router.post("/{version}/{template_id}")
async def edit_template(version: str, template_id: str, request: Request) -> Response:
    """Edit a template's components and/or category; it goes back to review."""
    rt = runtime(request)
    try:
        template = rt.state.templates.get(template_id)
        if template is None:
            raise Refusal(
                100,
                f"Unsupported post request. Object with ID '{template_id}' does not exist",
                400,
            )
        _waba_for_token(rt.state, template.waba_id, _token(request))
        templates.advance(rt)
        templates.edit(rt, template, await _json(request))
    except Refusal as refusal:
        return _error(refusal)
    return JSONResponse({"success": True})
