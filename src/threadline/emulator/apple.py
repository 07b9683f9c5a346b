"""Apple Messages for Business on the emulator: the MSP gateway's `POST /v1/message` and the
control routes under `/_emulator/apple` (MSPs, businesses, people who write, their inbox).
Rules and clocks are described in `apple_state`.

Control:
- `POST /_emulator/apple/msps` {msp_id, secret_b64, message_url}
- `POST /_emulator/apple/businesses` {business_id, msp_id}
- `POST /_emulator/apple/users/{opaque_id}/send` {business_id, and one of: text (with
  optional attachments), select (identifiers chosen in the business's last interactive
  message, or the one `request_identifier` names), typing "start"/"end", close} → posts it
  to the MSP's message URL at once, with a JWT (aud = MSP id) and Apple's headers; answers
  {"id", "status" (what the MSP answered), "body" (what was posted)}. No retries.
- `GET /_emulator/apple/users/{opaque_id}/inbox`, `GET /_emulator/apple/requests`,
  `POST /_emulator/apple/faults` {status, count}: the next `count` sends are answered so."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from typing import Any, Literal

import httpx
import jwt
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from threadline.emulator.apple_state import (
    BID,
    CAPABILITIES,
    CLOCK_SKEW_SECONDS,
    DEVICE_AGENTS,
    INTERACTIVE_INLINE_MAX,
    TOKEN_MAX_AGE_SECONDS,
    AppleGateway,
    Fault,
    GatewayRecord,
    Msp,
    apple_gateway,
    new_message_id,
    secret_key,
)
from threadline.emulator.runtime import runtime

router = APIRouter()
_STRICT = ConfigDict(extra="forbid")


# -- the gateway --------------------------------------------------------------------------------
class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _issuer(gateway: AppleGateway, authorization: str | None) -> Msp:
    """The MSP whose secret signed this request's token (`iss`), or 401."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _Refused(401, "Authorization: Bearer <JWT> is required")
    token = token.strip()
    try:
        claimed = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise _Refused(401, f"not a JWT: {exc}") from exc
    msp = gateway.msps.get(str(claimed.get("iss", "")))
    if msp is None:
        raise _Refused(401, "iss names no MSP known here")
    try:
        claims = jwt.decode(
            token,
            secret_key(msp.secret_b64),
            algorithms=["HS256"],
            options={"require": ["iss", "iat"], "verify_iat": False, "verify_exp": False},
        )
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise _Refused(401, f"the token does not verify: {exc}") from exc
    issued = claims["iat"]
    if isinstance(issued, bool) or not isinstance(issued, int | float):
        raise _Refused(401, "iat is not a number")
    age = time.time() - float(issued)
    if age > TOKEN_MAX_AGE_SECONDS + CLOCK_SKEW_SECONDS or age < -CLOCK_SKEW_SECONDS:
        raise _Refused(401, f"iat is {int(age)} s from now")
    return msp


def _body(raw: bytes, encoding: str | None) -> dict[str, Any]:
    try:
        if "gzip" in (encoding or "").lower():
            raw = gzip.decompress(raw)
        body = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise _Refused(400, f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise _Refused(400, "the body is not a JSON object")
    return body


def _same(header: str | None, field_value: Any, name: str) -> str:
    if header and field_value and header != field_value:
        raise _Refused(400, f"the {name} header and the body disagree")
    value = header or field_value
    if not isinstance(value, str) or not value:
        raise _Refused(400, f"{name} is required")
    return value


def _check_content(body: dict[str, Any]) -> None:
    kind = body.get("type")
    if body.get("v") != 1:
        raise _Refused(400, "v must be 1")
    if kind == "text":
        if not isinstance(body.get("body"), str) or not body["body"]:
            raise _Refused(400, "a text message needs a body")
    elif kind == "interactive":
        data = body.get("interactiveData")
        if not isinstance(data, dict) or not isinstance(data.get("data"), dict):
            raise _Refused(400, "an interactive message needs interactiveData.data")
        if not data.get("bid"):
            raise _Refused(400, "interactiveData.bid is required")
        size = len(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())
        if size > INTERACTIVE_INLINE_MAX:
            raise _Refused(413, f"interactiveData is {size} bytes; send it by reference")
    elif kind == "richLink":
        link = body.get("richLinkData")
        if not isinstance(link, dict) or not link.get("url") or not link.get("title"):
            raise _Refused(400, "a rich link needs richLinkData.url and title")
    elif kind not in ("typing_start", "typing_end"):
        raise _Refused(400, f"cannot send a message of type {kind!r}")


def _deliver(
    gateway: AppleGateway, request: Request, raw: bytes
) -> tuple[str, str, str, dict[str, Any]]:
    """Check one send; (MSP id, business id, destination, body) of a send to deliver."""
    headers = request.headers
    msp = _issuer(gateway, headers.get("authorization"))
    body = _body(raw, headers.get("content-encoding"))
    message_id = _same(headers.get("id"), body.get("id"), "id")
    try:
        uuid.UUID(message_id)
    except ValueError as exc:
        raise _Refused(400, "id must be a UUID") from exc
    business = _same(headers.get("source-id"), body.get("sourceId"), "source-id")
    if gateway.businesses.get(business) != msp.msp_id:
        raise _Refused(403, f"MSP {msp.msp_id} does not serve business {business}")
    destination = _same(headers.get("destination-id"), body.get("destinationId"), "destination-id")
    _check_content(body)
    return msp.msp_id, business, destination, body


@router.post("/v1/message")
async def gateway_message(request: Request) -> Response:
    """A business (through its MSP) writes to a person."""
    gateway = apple_gateway(request)
    now = runtime(request).state.now().isoformat()
    raw = await request.body()
    headers = {k: v for k, v in request.headers.items() if k != "authorization"}
    record = GatewayRecord(
        at=now,
        msp_id=None,
        business_id=request.headers.get("source-id"),
        destination_id=request.headers.get("destination-id"),
        message_id=request.headers.get("id"),
        status=200,
        reason="accepted",
        headers=headers,
    )
    gateway.requests.append(record)
    try:
        msp_id, business, destination, body = _deliver(gateway, request, raw)
        record.msp_id, record.body = msp_id, body
        planned = gateway.fault()
        if planned is not None:
            raise _Refused(planned, "a planned fault")
        record.reason = _accept(gateway, business, destination, body)
    except _Refused as refused:
        record.status, record.reason = refused.status, refused.reason
        return JSONResponse({"error": refused.reason}, status_code=refused.status)
    return Response(status_code=200)


def _accept(gateway: AppleGateway, business: str, destination: str, body: dict[str, Any]) -> str:
    message_id = str(body["id"])
    if message_id in gateway.accepted:
        return "duplicate"  # the same message again (a retry): taken once
    user = gateway.users.get(destination)
    chat = user.chats.get(business) if user is not None else None
    if user is None or chat is None or chat.started_at is None:
        raise _Refused(404, "no such destination: the person never wrote this business")
    if chat.closed:
        raise _Refused(410, "the person closed this conversation")
    gateway.accepted.add(message_id)
    if body["type"] in ("typing_start", "typing_end"):
        chat.typing = body["type"] == "typing_start"
        return "accepted"
    chat.typing = False
    user.inbox.append({"business_id": business, "id": message_id, "message": body})
    return "accepted"


# -- control: MSPs and businesses ----------------------------------------------------------------
control = APIRouter(prefix="/_emulator/apple", tags=["emulator control: Apple"])


class MspIn(BaseModel):
    model_config = _STRICT
    msp_id: str = Field(min_length=1, max_length=100)
    secret_b64: str = Field(min_length=4)
    message_url: str = Field(pattern=r"^https?://")

    @field_validator("secret_b64")
    @classmethod
    def _base64(cls, value: str) -> str:
        secret_key(value)
        return value


@control.post("/msps")
async def add_msp(body: MspIn, request: Request) -> dict[str, str]:
    apple_gateway(request).msps[body.msp_id] = Msp(**body.model_dump())
    return {"msp_id": body.msp_id}


class BusinessIn(BaseModel):
    model_config = _STRICT
    business_id: str = Field(min_length=1, max_length=100)
    msp_id: str


@control.post("/businesses")
async def add_business(body: BusinessIn, request: Request) -> dict[str, str]:
    gateway = apple_gateway(request)
    if body.msp_id not in gateway.msps:
        raise HTTPException(404, f"no MSP {body.msp_id}")
    gateway.businesses[body.business_id] = body.msp_id
    return {"business_id": body.business_id, "msp_id": body.msp_id}


# -- control: a person writes --------------------------------------------------------------------
class AttachmentIn(BaseModel):
    model_config = _STRICT
    name: str = "IMG_0001.jpeg"
    mime_type: str = "image/jpeg"
    size: int = Field(default=1024, ge=1, le=100 * 1024 * 1024)


class UserSendIn(BaseModel):
    model_config = _STRICT
    business_id: str
    text: str | None = None
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=10)
    select: list[str] | None = Field(default=None, min_length=1)
    request_identifier: str | None = None
    typing: Literal["start", "end"] | None = None
    close: bool = False
    device_agent: str = "iPhone OS"
    capability_list: list[str] = Field(default_factory=lambda: ["QUICK", "LIST", "TIME"])
    locale: str | None = "en_US"
    intent: str | None = None
    group: str | None = None
    gzip: bool = False  # post the body gzip-compressed (Content-Encoding: gzip)

    @model_validator(mode="after")
    def _one_thing(self) -> UserSendIn:
        said = self.text is not None or bool(self.attachments)
        done = [said, self.select is not None, self.typing is not None, self.close]
        if sum(done) != 1:
            raise ValueError("send one of: text/attachments, select, typing, close")
        if self.device_agent not in DEVICE_AGENTS:
            raise ValueError(f"device_agent must be one of {', '.join(DEVICE_AGENTS)}")
        unknown = set(self.capability_list) - set(CAPABILITIES)
        if unknown:
            raise ValueError(f"unknown capabilities {sorted(unknown)}")
        return self


def _asked(gateway: AppleGateway, opaque_id: str, spec: UserSendIn) -> dict[str, Any]:
    """The interactive data of the business message the person answers."""
    user = gateway.users.get(opaque_id)
    for entry in reversed(user.inbox if user is not None else []):
        interactive = entry["message"].get("interactiveData")
        if entry["business_id"] != spec.business_id or not isinstance(interactive, dict):
            continue
        asked = interactive.get("data", {}).get("requestIdentifier")
        if spec.request_identifier in (None, asked):
            found: dict[str, Any] = interactive
            return found
    raise HTTPException(404, "no interactive message from that business to answer")


def _answer(interactive: dict[str, Any], chosen: list[str]) -> dict[str, Any]:
    """The person's answer to an interactive message, as Apple posts it."""
    data = interactive["data"]
    reply: dict[str, Any] = {
        "requestIdentifier": data.get("requestIdentifier"),
        "version": data.get("version", "1.0"),
    }
    if "listPicker" in data:
        sections = []
        for section in data["listPicker"].get("sections", []):
            items = [i for i in section.get("items", []) if i.get("identifier") in chosen]
            if items:
                sections.append({**section, "items": items})
        picked = [i["identifier"] for s in sections for i in s["items"]]
        reply["listPicker"] = {"sections": sections}
    elif "quick-reply" in data:
        if len(chosen) != 1:
            raise HTTPException(422, "a quick reply takes exactly one choice")
        items = data["quick-reply"].get("items", [])
        index = next((n for n, i in enumerate(items) if i.get("identifier") == chosen[0]), None)
        picked = [chosen[0]] if index is not None else []
        reply["quick-reply"] = {
            "items": items,
            "selectedIdentifier": chosen[0],
            "selectedIndex": index,
        }
    elif "event" in data:
        event = data["event"]
        slots = [s for s in event.get("timeslots", []) if s.get("identifier") in chosen]
        picked = [s["identifier"] for s in slots]
        reply["event"] = {**event, "timeslots": slots}
    else:
        raise HTTPException(422, "that interactive message takes no selection here")
    if set(picked) != set(chosen):
        raise HTTPException(422, f"not offered: {sorted(set(chosen) - set(picked))}")
    answered: dict[str, Any] = {"bid": interactive.get("bid", BID), "data": reply}
    if "replyMessage" in interactive:
        answered["replyMessage"] = interactive["replyMessage"]
    return answered


def _person_body(
    gateway: AppleGateway, opaque_id: str, spec: UserSendIn, message_id: str
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "v": 1,
        "id": message_id,
        "sourceId": opaque_id,
        "destinationId": spec.business_id,
    }
    if spec.close:
        body["type"] = "close"
    elif spec.typing is not None:
        body["type"] = f"typing_{spec.typing}"
    elif spec.select is not None:
        body["type"] = "interactive"
        body["interactiveData"] = _answer(_asked(gateway, opaque_id, spec), spec.select)
    else:
        body["type"] = "text"
        placeholders = "\ufffc" * len(spec.attachments)
        body["body"] = f"{placeholders}{spec.text or ''}"
        if spec.attachments:
            body["attachments"] = [_attachment(a, n) for n, a in enumerate(spec.attachments)]
    for name in ("locale", "intent", "group"):
        value = getattr(spec, name)
        if value is not None and body["type"] in ("text", "interactive"):
            body[name] = value
    return body


def _attachment(spec: AttachmentIn, n: int) -> dict[str, Any]:
    """An encrypted file's descriptor (nothing is stored behind the URL)."""
    tag = uuid.uuid4().hex
    return {
        "name": spec.name,
        "mimeType": spec.mime_type,
        "size": spec.size,
        "url": f"https://p1-content.icloud.example/{tag}/{n}",
        "owner": "p1-content.icloud.example",
        "signature-base64": "c2lnbmF0dXJl",
        "key": "00" + uuid.uuid4().hex + uuid.uuid4().hex,
    }


@control.post("/users/{opaque_id}/send")
async def user_sends(opaque_id: str, spec: UserSendIn, request: Request) -> dict[str, Any]:
    gateway = apple_gateway(request)
    msp_id = gateway.businesses.get(spec.business_id)
    if msp_id is None:
        raise HTTPException(404, f"no business {spec.business_id}")
    msp = gateway.msps[msp_id]
    message_id = new_message_id()
    body = _person_body(gateway, opaque_id, spec, message_id)
    chat = gateway.user(opaque_id).chat(spec.business_id)
    if spec.close:
        chat.closed = True
    elif spec.typing is None:
        # Writing opens the conversation, and opens a closed one again.
        chat.started_at = chat.started_at or runtime(request).state.now()
        chat.closed = False
    now = runtime(request).state.now()
    token = jwt.encode(
        {"aud": msp.msp_id, "iat": int(now.timestamp())},
        secret_key(msp.secret_b64),
        algorithm="HS256",
    )
    content = json.dumps(body, ensure_ascii=False).encode()
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "id": message_id,
        "source-id": opaque_id,
        "destination-id": spec.business_id,
        "device-agent": spec.device_agent,
        "capability-list": ",".join(spec.capability_list),
    }
    if spec.gzip:
        content = gzip.compress(content)
        headers["Content-Encoding"] = "gzip"
    async with httpx.AsyncClient(timeout=10) as http:
        try:
            answer = await http.post(msp.message_url, content=content, headers=headers)
        except httpx.HTTPError as exc:
            raise HTTPException(502, f"the MSP's message URL is unreachable: {exc}") from exc
    return {"id": message_id, "status": answer.status_code, "body": body}


@control.get("/users/{opaque_id}/inbox")
async def user_inbox(opaque_id: str, request: Request) -> list[dict[str, Any]]:
    user = apple_gateway(request).users.get(opaque_id)
    if user is None:
        raise HTTPException(404, f"no person {opaque_id}")
    return user.inbox


@control.get("/requests")
async def gateway_requests(request: Request) -> list[dict[str, Any]]:
    return [record.__dict__ for record in apple_gateway(request).requests]


class FaultIn(BaseModel):
    model_config = _STRICT
    status: int = Field(ge=400, le=599)
    count: int = Field(default=1, ge=1, le=1000)


@control.post("/faults")
async def plan_faults(body: FaultIn, request: Request) -> dict[str, int]:
    apple_gateway(request).faults.append(Fault(body.status, body.count))
    return {"status": body.status, "count": body.count}


router.include_router(control)
