"""`/_emulator/pay/...`: a small payment provider with hosted payment links.

- `POST /_emulator/pay/accounts`: a merchant account (API key, signing secret, callback URL).
- `POST /_emulator/pay/api/v1/payment_links` (Bearer API key): make a link, `{id, url}`.
- `GET /_emulator/pay/checkout/{id}`: the page a customer opens; `POST` pays it, and the
  provider posts the signed `payment_link.paid` callback to the merchant over real HTTP.
- `POST /_emulator/pay/checkout/{id}/expire`, `POST /_emulator/pay/events/{id}/redeliver`
  (the same event again, as providers retry), `GET /_emulator/pay/links`.

Callbacks are signed as the merchant expects them: `Payment-Signature: t=<unix>,v1=<hex
HMAC-SHA256 of "<t>.<body>">`, timestamped on the emulator's clock. The signing is written
here on its own, not borrowed from Threadline, so the two sides are checked against each
other."""

from __future__ import annotations

import hashlib
import hmac
import html
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from threadline.emulator.runtime import runtime

router = APIRouter(prefix="/_emulator/pay", tags=["emulator payments"])
_STRICT = ConfigDict(extra="forbid")


@dataclass
class Account:
    api_key: str
    signing_secret: str
    callback_url: str


@dataclass
class Link:
    id: str
    api_key: str
    amount: str
    currency: str
    reference: str
    metadata: dict[str, Any]
    status: str = "open"


@dataclass
class PayState:
    accounts: dict[str, Account] = field(default_factory=dict)
    links: dict[str, Link] = field(default_factory=dict)
    events: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # id -> (api key, body)
    counter: int = 0

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}_{self.counter:06d}"


def _state(request: Request) -> PayState:
    found = getattr(request.app.state, "pay", None)
    if found is None:
        found = request.app.state.pay = PayState()
    assert isinstance(found, PayState)
    return found


class AccountIn(BaseModel):
    model_config = _STRICT
    api_key: str = Field(min_length=1)
    signing_secret: str = Field(min_length=1)
    callback_url: str


@router.post("/accounts")
async def add_account(body: AccountIn, request: Request) -> dict[str, str]:
    _state(request).accounts[body.api_key] = Account(**body.model_dump())
    return {"api_key": body.api_key}


class LinkIn(BaseModel):
    amount: str
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    reference: str
    metadata: dict[str, Any] = Field(default_factory=dict)


@router.post("/api/v1/payment_links")
async def create_link(body: LinkIn, request: Request) -> dict[str, Any]:
    state = _state(request)
    header = request.headers.get("authorization", "")
    api_key = header[7:] if header.lower().startswith("bearer ") else ""
    if api_key not in state.accounts:
        raise HTTPException(401, "invalid API key")
    link = Link(
        id=state.next_id("plink"),
        api_key=api_key,
        amount=body.amount,
        currency=body.currency,
        reference=body.reference,
        metadata=body.metadata,
    )
    state.links[link.id] = link
    url = str(request.base_url).rstrip("/") + f"/_emulator/pay/checkout/{link.id}"
    return {"id": link.id, "url": url, "amount": link.amount, "currency": link.currency}


def _link(request: Request, link_id: str) -> Link:
    link = _state(request).links.get(link_id)
    if link is None:
        raise HTTPException(404, "no such payment link")
    return link


@router.get("/checkout/{link_id}", response_class=HTMLResponse)
async def checkout_page(link_id: str, request: Request) -> str:
    link = _link(request, link_id)
    amount = html.escape(f"{link.amount} {link.currency}")
    if link.status != "open":
        return f"<h1>Payment link {html.escape(link.status)}</h1><p>{amount}</p>"
    return (
        f"<h1>Pay {amount}</h1><p>Order {html.escape(link.reference)}</p>"
        f'<form method="post"><button type="submit">Pay {amount}</button></form>'
    )


def _signed(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


async def _deliver(request: Request, api_key: str, body: bytes) -> int:
    """Post one callback now and return the merchant's status (0: unreachable)."""
    account = _state(request).accounts[api_key]
    timestamp = int(runtime(request).state.now().timestamp())
    headers = {
        "Content-Type": "application/json",
        "Payment-Signature": _signed(account.signing_secret, timestamp, body),
    }
    async with httpx.AsyncClient(timeout=10) as http:
        try:
            answer = await http.post(account.callback_url, content=body, headers=headers)
        except httpx.HTTPError:
            return 0
    return answer.status_code


async def _event(request: Request, link: Link, kind: str) -> dict[str, Any]:
    state = _state(request)
    event_id = state.next_id("evt")
    payload = {
        "id": event_id,
        "type": kind,
        "created": int(runtime(request).state.now().timestamp()),
        "data": {
            "payment_link": link.id,
            "reference": link.reference,
            "amount": link.amount,
            "currency": link.currency,
            "metadata": link.metadata,
        },
    }
    body = json.dumps(payload, separators=(",", ":")).encode()
    state.events[event_id] = (link.api_key, body)
    status = await _deliver(request, link.api_key, body)
    return {"event_id": event_id, "status": link.status, "callback_status": status}


@router.post("/checkout/{link_id}")
async def pay(link_id: str, request: Request) -> dict[str, Any]:
    """The customer pays: the link is paid and the merchant hears of it at once."""
    link = _link(request, link_id)
    if link.status != "open":
        raise HTTPException(409, f"the link is {link.status}")
    link.status = "paid"
    return await _event(request, link, "payment_link.paid")


@router.post("/checkout/{link_id}/expire")
async def expire(link_id: str, request: Request) -> dict[str, Any]:
    link = _link(request, link_id)
    if link.status != "open":
        raise HTTPException(409, f"the link is {link.status}")
    link.status = "expired"
    return await _event(request, link, "payment_link.expired")


@router.post("/events/{event_id}/redeliver")
async def redeliver(event_id: str, request: Request) -> dict[str, Any]:
    found = _state(request).events.get(event_id)
    if found is None:
        raise HTTPException(404, "no such event")
    api_key, body = found
    return {"event_id": event_id, "callback_status": await _deliver(request, api_key, body)}


@router.get("/links")
async def links(request: Request) -> list[dict[str, Any]]:
    hidden = {"api_key"}  # what the merchant's dashboard would not show back
    return [
        {k: v for k, v in vars(link).items() if k not in hidden}
        for link in _state(request).links.values()
    ]
