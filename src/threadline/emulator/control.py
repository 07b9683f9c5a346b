"""`/_emulator/...`: set up numbers, templates and simulated users; make users write;
inspect what the platform received; inject faults; move the clock."""

from __future__ import annotations

import secrets
from typing import Any, Literal

import httpx
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from threadline.emulator import templates
from threadline.emulator.hooks import envelope
from threadline.emulator.runtime import runtime
from threadline.emulator.state import Number, SimUser, TemplateDef, tier_label

router = APIRouter(prefix="/_emulator", tags=["emulator control"])
_STRICT = ConfigDict(extra="forbid")


class NumberIn(BaseModel):
    model_config = _STRICT
    phone_number_id: str
    waba_id: str
    display_phone_number: str
    access_token: str
    app_secret: str
    callback_url: str | None = None
    verify_token: str | None = None
    mps: int = Field(default=80, ge=1, le=1000)
    tier: int | None = 250
    quality: Literal["GREEN", "YELLOW", "RED"] = "GREEN"


@router.post("/numbers")
async def add_number(body: NumberIn, request: Request) -> dict[str, Any]:
    """Register a business number. With a callback and verify token, the emulator performs
    the platform's GET verification handshake first, as Meta does."""
    rt = runtime(request)
    verified = None
    if body.callback_url and body.verify_token:
        challenge = secrets.token_hex(8)
        params = {
            "hub.mode": "subscribe",
            "hub.verify_token": body.verify_token,
            "hub.challenge": challenge,
        }
        async with httpx.AsyncClient(timeout=10) as http:
            try:
                answer = await http.get(body.callback_url, params=params)
            except httpx.HTTPError as exc:
                raise HTTPException(502, f"callback unreachable: {exc}") from exc
        verified = answer.status_code == 200 and answer.text == challenge
        if not verified:
            raise HTTPException(400, f"callback verification failed ({answer.status_code})")
    rt.state.numbers[body.phone_number_id] = Number(**body.model_dump())
    return {"phone_number_id": body.phone_number_id, "verified": verified}


class NumberSettingsIn(BaseModel):
    model_config = _STRICT
    quality: Literal["GREEN", "YELLOW", "RED"] | None = None
    tier: int | None = None
    unlimited: bool = False
    mps: int | None = Field(default=None, ge=1, le=1000)


@router.post("/numbers/{phone_number_id}")
async def update_number(
    phone_number_id: str, body: NumberSettingsIn, request: Request
) -> dict[str, Any]:
    """Change quality, messaging-limit tier or throughput; emits phone_number_quality_update."""
    rt = runtime(request)
    number = rt.state.numbers.get(phone_number_id)
    if number is None:
        raise HTTPException(404, f"no number {phone_number_id}")
    old_limit = tier_label(number.tier)
    events: list[str] = []
    if body.quality and body.quality != number.quality:
        # YELLOW is a warning, not a flag; RED flags the number.
        if body.quality == "RED" or number.quality == "RED":
            events.append("FLAGGED" if body.quality == "RED" else "UNFLAGGED")
        number.quality = body.quality
    if body.unlimited or body.tier is not None:
        new_tier = None if body.unlimited else body.tier
        if new_tier != number.tier:
            bigger = new_tier is None or (number.tier is not None and new_tier > number.tier)
            events.append("UPGRADE" if bigger else "DOWNGRADE")
            number.tier = new_tier
    if body.mps:
        number.mps = body.mps
    for event in events:  # one notification per change, as the platform sends them
        value = {
            "display_phone_number": number.display_phone_number,
            "event": event,
            "current_limit": tier_label(number.tier),
            "old_limit": old_limit,
        }
        rt.hooks.schedule(
            number, envelope(number, "phone_number_quality_update", value, rt.state.now())
        )
    return {"quality": number.quality, "tier": number.tier, "mps": number.mps, "events": events}


class TemplateIn(BaseModel):
    model_config = _STRICT
    waba_id: str
    name: str
    language: str = "en_US"
    category: Literal["MARKETING", "UTILITY", "AUTHENTICATION"]
    status: str = "APPROVED"
    body: str = ""
    header: str | None = None
    buttons: list[dict[str, Any]] = Field(default_factory=list)


@router.post("/templates")
async def add_template(body: TemplateIn, request: Request) -> dict[str, Any]:
    state = runtime(request).state
    template_id = state.new_template_id()
    state.templates[template_id] = TemplateDef(id=template_id, **body.model_dump())
    return {"id": template_id}


@router.get("/templates")
async def list_all_templates(request: Request) -> list[dict[str, Any]]:
    """Every template with its lifecycle bookkeeping (pauses, edits, history)."""
    rt = runtime(request)
    templates.advance(rt)
    return [templates.describe(t, full=True) for t in rt.state.templates.values()]


class ReviewIn(BaseModel):
    model_config = _STRICT
    waba_id: str | None = None


@router.post("/templates/review")
async def review_templates(request: Request, body: ReviewIn | None = None) -> dict[str, Any]:
    """Review every PENDING template now, without waiting for the review delay."""
    rt = runtime(request)
    reviewed = templates.review_now(rt, body.waba_id if body else None)
    return {
        "reviewed": [
            {
                "id": t.id,
                "name": t.name,
                "status": t.status,
                "category": t.category,
                "reason": t.rejection_reason,
            }
            for t in reviewed
        ]
    }


class FeedbackIn(BaseModel):
    model_config = _STRICT
    quality: Literal["GREEN", "YELLOW", "RED"]


@router.post("/templates/{template_id}/feedback")
async def template_feedback(template_id: str, body: FeedbackIn, request: Request) -> dict[str, Any]:
    """People's reaction to a template: a new quality score (RED pauses, then disables)."""
    rt = runtime(request)
    templates.advance(rt)
    template = rt.state.templates.get(template_id)
    if template is None:
        raise HTTPException(404, f"no template {template_id}")
    templates.feedback(rt, template, body.quality)
    return templates.describe(template, full=True)


class TemplateSettingsIn(BaseModel):
    model_config = _STRICT
    reject_miscategorised: bool | None = None
    review_delay_seconds: float | None = Field(default=None, ge=0)


@router.post("/wabas/{waba_id}/template_settings")
async def template_settings(
    waba_id: str, body: TemplateSettingsIn, request: Request
) -> dict[str, Any]:
    """How the platform reviews this WABA's templates: reject miscategorised UTILITY
    templates (INCORRECT_CATEGORY) instead of recategorising them, and the review delay."""
    waba = runtime(request).state.wabas[waba_id]
    if body.reject_miscategorised is not None:
        waba.reject_miscategorised = body.reject_miscategorised
    if body.review_delay_seconds is not None:
        waba.review_delay = body.review_delay_seconds
    return {
        "reject_miscategorised": waba.reject_miscategorised,
        "review_delay_seconds": waba.review_delay,
    }


class UserIn(BaseModel):
    model_config = _STRICT
    wa_id: str = Field(pattern=r"^\d{6,15}$")
    name: str = ""
    reply: float = Field(default=0.0, ge=0, le=1)
    read: float = Field(default=0.8, ge=0, le=1)
    block: float = Field(default=0.0, ge=0, le=1)
    report: float = Field(default=0.0, ge=0, le=1)
    convert: float = Field(default=0.0, ge=0, le=1)
    unreachable: bool = False
    marketing_stopped: bool = False


@router.post("/users")
async def add_user(body: UserIn, request: Request) -> dict[str, Any]:
    state = runtime(request).state
    state.users[body.wa_id] = SimUser(**body.model_dump())
    return {"wa_id": body.wa_id}


class UsersIn(BaseModel):
    model_config = _STRICT
    users: list[UserIn] = Field(max_length=100_000)


@router.post("/users/bulk")
async def add_users(body: UsersIn, request: Request) -> dict[str, int]:
    """Many simulated people at once (demo and benchmark crowds)."""
    state = runtime(request).state
    for user in body.users:
        state.users[user.wa_id] = SimUser(**user.model_dump())
    return {"users": len(body.users)}


class SendIn(BaseModel):
    model_config = _STRICT
    phone_number_id: str
    type: Literal[
        "text",
        "button",
        "button_reply",
        "list_reply",
        "location",
        "image",
        "document",
        "audio",
        "video",
        "order",
    ] = "text"
    text: str = ""
    payload: str = ""
    latitude: float | None = None
    longitude: float | None = None
    name: str | None = None
    address: str | None = None
    context: str | None = None
    referral: dict[str, Any] | None = None
    # An order: the cart filled from a catalog, as {product_retailer_id, quantity,
    # item_price, currency} lines.
    catalog_id: str | None = None
    product_items: list[dict[str, Any]] | None = None


@router.post("/users/{wa_id}/send")
async def user_sends(wa_id: str, body: SendIn, request: Request) -> dict[str, Any]:
    rt = runtime(request)
    user = rt.state.users.get(wa_id)
    number = rt.state.numbers.get(body.phone_number_id)
    if user is None or number is None:
        raise HTTPException(404, "unknown user or number")
    spec = {k: v for k, v in body.model_dump().items() if v is not None}
    return {"id": rt.user_says(number, user, spec)}


class PreferenceIn(BaseModel):
    model_config = _STRICT
    phone_number_id: str
    value: Literal["stop", "resume"]


@router.post("/users/{wa_id}/marketing")
async def marketing_preference(wa_id: str, body: PreferenceIn, request: Request) -> dict[str, Any]:
    """The person taps "stop"/"resume" promotions in WhatsApp: user_preferences webhook."""
    rt = runtime(request)
    user = rt.state.users.get(wa_id)
    number = rt.state.numbers.get(body.phone_number_id)
    if user is None or number is None:
        raise HTTPException(404, "unknown user or number")
    user.marketing_stopped = body.value == "stop"
    now = rt.state.now()
    value = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": number.display_phone_number,
            "phone_number_id": number.phone_number_id,
        },
        "user_preferences": [
            {
                "wa_id": wa_id,
                "category": "marketing_messages",
                "value": body.value,
                "timestamp": int(now.timestamp()),
                "detail": f"User requested to {body.value} marketing messages",
            }
        ],
    }
    rt.hooks.schedule(number, envelope(number, "user_preferences", value, now))
    return {"marketing_stopped": user.marketing_stopped}


@router.get("/users/{wa_id}/inbox")
async def inbox(wa_id: str, request: Request) -> list[dict[str, Any]]:
    user = runtime(request).state.users.get(wa_id)
    if user is None:
        raise HTTPException(404, "unknown user")
    return user.inbox


class AdvanceIn(BaseModel):
    model_config = _STRICT
    seconds: float = Field(ge=0)


@router.post("/clock/advance")
async def advance(body: AdvanceIn, request: Request) -> dict[str, str]:
    rt = runtime(request)
    now = rt.state.advance(body.seconds).isoformat()
    templates.advance(rt)  # reviews and pause ends the clock has passed
    return {"now": now}


@router.get("/requests")
async def requests_log(request: Request) -> list[dict[str, Any]]:
    return [r.__dict__ for r in runtime(request).state.requests]


class FaultsIn(BaseModel):
    model_config = _STRICT
    error_rate: float = Field(default=0.0, ge=0, le=1)
    latency_ms: int = Field(default=0, ge=0, le=60_000)
    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    timeout_ms: int = Field(default=15_000, ge=0, le=120_000)
    throttle_burst: int = Field(default=0, ge=0)
    per_user_marketing_limit: int | None = Field(default=None, ge=0)


@router.post("/faults")
async def set_faults(body: FaultsIn, request: Request) -> dict[str, Any]:
    state = runtime(request).state
    values = body.model_dump()
    limit = values.pop("per_user_marketing_limit")
    if limit is not None:
        state.per_user_marketing_limit = limit
    for key, value in values.items():
        setattr(state.faults, key, value)
    return {**state.faults.__dict__, "per_user_marketing_limit": state.per_user_marketing_limit}


@router.get("/stats")
async def stats(request: Request) -> dict[str, Any]:
    rt = runtime(request)
    accepted = [r for r in rt.state.requests if r.result == "accepted"]
    return {
        "requests": len(rt.state.requests),
        "accepted": len(accepted),
        "errors": len(rt.state.requests) - len(accepted),
        "webhooks_delivered": rt.hooks.delivered,
        "webhooks_failed_attempts": rt.hooks.failed_attempts,
        "webhooks_pending": rt.hooks.pending,
    }
