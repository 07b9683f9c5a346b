"""`/_emulator/sms/...`: set up SMS accounts, their numbers and the phones that text them;
make a phone text a business; see what phones received and what the provider was asked;
inject faults into the SMS side only (so a WhatsApp outage can fall back to a working SMS).

Phones in paths may be written with or without the leading "+" (a "+" is awkward in URLs)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from threadline.emulator.runtime import runtime
from threadline.emulator.sms_hooks import request_hooks
from threadline.emulator.sms_state import (
    DEFAULT_MPS,
    E164,
    MEDIA_MAX,
    SmsAccount,
    SmsMessage,
    SmsNumber,
    SmsPerson,
    SmsState,
    rfc2822,
)

router = APIRouter(prefix="/_emulator/sms", tags=["emulator control: SMS"])
_STRICT = ConfigDict(extra="forbid")
_E164 = E164.pattern


def _sms(request: Request) -> SmsState:
    return runtime(request).state.sms


def _phone(raw: str) -> str:
    phone = raw.strip()
    phone = phone if phone.startswith("+") else "+" + phone
    if not E164.match(phone):
        raise HTTPException(422, f"{raw!r} is not an E.164 phone number")
    return phone


class AccountIn(BaseModel):
    model_config = _STRICT
    account_sid: str = Field(min_length=2)
    auth_token: str = Field(min_length=1)


@router.post("/accounts")
async def add_account(body: AccountIn, request: Request) -> dict[str, Any]:
    """Register (or re-key) an account; its numbers are kept."""
    _sms(request).accounts[body.account_sid] = SmsAccount(**body.model_dump())
    return {"account_sid": body.account_sid}


class NumberIn(BaseModel):
    model_config = _STRICT
    account_sid: str
    number: str = Field(pattern=_E164)
    sms_url: str | None = None
    status_callback: str | None = None
    mps: int = Field(default=DEFAULT_MPS, ge=1, le=1000)
    opt_out_management: bool = False
    registered: bool = True


@router.post("/numbers")
async def add_number(body: NumberIn, request: Request) -> dict[str, Any]:
    """Register (or reconfigure) a business number of an account."""
    sms = _sms(request)
    if body.account_sid not in sms.accounts:
        raise HTTPException(404, f"no SMS account {body.account_sid}")
    sms.numbers[body.number] = SmsNumber(**body.model_dump())
    return body.model_dump()


class PersonIn(BaseModel):
    model_config = _STRICT
    behaviour: Literal["ok", "unreachable", "unknown", "landline", "filtered", "never"] = "ok"
    delay_seconds: float = Field(default=0.0, ge=0)


def _describe(sms: SmsState, person: SmsPerson) -> dict[str, Any]:
    return {
        "phone": person.phone,
        "behaviour": person.behaviour,
        "delay_seconds": person.delay_seconds,
        "unsubscribed_from": sorted(n for n, p in sms.blocked if p == person.phone),
    }


@router.post("/people/{phone}")
async def set_person(phone: str, body: PersonIn, request: Request) -> dict[str, Any]:
    """How the carrier treats messages to this phone: "ok" (delivered), "unreachable"
    (undelivered 30003), "unknown" (failed 30005), "landline" (failed 30006), "filtered"
    (undelivered 30007), "never" (stays "sent"); `delay_seconds` of emulator clock before
    the final status."""
    sms = _sms(request)
    person = sms.person(_phone(phone))
    person.behaviour, person.delay_seconds = body.behaviour, body.delay_seconds
    return _describe(sms, person)


@router.get("/people/{phone}")
async def get_person(phone: str, request: Request) -> dict[str, Any]:
    sms = _sms(request)
    return _describe(sms, sms.person(_phone(phone)))


class TextIn(BaseModel):
    model_config = _STRICT
    to: str = Field(pattern=_E164)
    body: str = Field(default="", max_length=1600)
    media_urls: list[str] = Field(default_factory=list, max_length=MEDIA_MAX)


@router.post("/people/{phone}/send")
async def person_texts(phone: str, body: TextIn, request: Request) -> dict[str, Any]:
    """The phone texts a business number: the signed form is posted to its sms_url now, and
    the answer says what was posted and what Threadline answered."""
    sms = _sms(request)
    number = sms.numbers.get(body.to)
    if number is None:
        raise HTTPException(404, f"no SMS number {body.to}")
    person = sms.person(_phone(phone))
    message = sms.inbound(person, number, body.body, body.media_urls)
    params, answer = await request_hooks(request).forward(message, number)
    return {
        "sid": message.sid,
        "http_status": answer.status,
        "response_body": answer.body,
        "error": answer.error,
        "opt_out_type": message.opt_out_type,
        "params": dict(params),
    }


@router.get("/people/{phone}/inbox")
async def inbox(phone: str, request: Request) -> list[dict[str, Any]]:
    """What reached the phone: delivered messages and the provider's keyword replies."""
    return _sms(request).person(_phone(phone)).inbox


def _logged(message: SmsMessage) -> dict[str, Any]:
    return {
        "sid": message.sid,
        "account_sid": message.account_sid,
        "direction": message.direction,
        "from": message.from_,
        "to": message.to,
        "body": message.body,
        "media": list(message.media),
        "status": message.status,
        "segments": message.num_segments,
        "encoding": message.encoding,
        "error_code": message.error[0] if message.error else None,
        "error_message": message.error[1] if message.error else None,
        "status_callback": message.status_callback,
        "opt_out_type": message.opt_out_type,
        "date_created": rfc2822(message.created),
        "created": message.created.isoformat(),
        "form": [list(pair) for pair in message.form],
        "history": message.history,
        "callbacks": message.callbacks,
    }


@router.get("/messages")
async def messages(
    request: Request,
    to: str | None = None,
    from_: Annotated[str | None, Query(alias="from")] = None,
    direction: str | None = None,
) -> list[dict[str, Any]]:
    """The provider's message log, oldest first: every accepted send with the raw form it
    was sent with, every inbound message and every keyword reply. Filters: ?to= ?from=
    ?direction= (a "+" in a query must be written %2B)."""
    found = _sms(request).messages.values()
    return [
        _logged(m)
        for m in found
        if (to is None or m.to == to)
        and (from_ is None or m.from_ == from_)
        and (direction is None or m.direction == direction)
    ]


@router.get("/requests")
async def requests_log(request: Request) -> list[dict[str, Any]]:
    """Every REST call to create a message, refused ones included, with the HTTP status
    and Twilio code answered."""
    return [{**r.__dict__, "form": [list(pair) for pair in r.form]} for r in _sms(request).requests]


class FaultsIn(BaseModel):
    model_config = _STRICT
    error_rate: float = Field(default=0.0, ge=0, le=1)
    latency_ms: int = Field(default=0, ge=0, le=60_000)
    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    timeout_ms: int = Field(default=15_000, ge=0, le=120_000)
    throttle_burst: int = Field(default=0, ge=0)


@router.post("/faults")
async def set_faults(body: FaultsIn, request: Request) -> dict[str, Any]:
    """Faults of the SMS provider only: 500 (code 20500) answers, latency, answers that come
    too late, and a burst of 20429 refusals. Every field resets to its default if omitted."""
    faults = _sms(request).faults
    for key, value in body.model_dump().items():
        setattr(faults, key, value)
    return dict(faults.__dict__)
