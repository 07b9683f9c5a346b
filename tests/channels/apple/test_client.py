"""The gateway client over real HTTP: a small stand-in for Apple's `POST /v1/message` on a
local port (aiohttp.web) answers by the destination, records what it received, and the
client's outcomes are checked: the headers and JWT, the body with our ids, refusals by HTTP
status, and requests that never connected or never got an answer."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from aiohttp import web

from threadline.channels import messages as m
from threadline.channels.adapter import AccountAccess, Envelope
from threadline.channels.apple.adapter import ADAPTER
from threadline.channels.apple.client import AppleClient, AttachmentsNotBuilt
from threadline.channels.apple.errors import classify
from threadline.channels.errors import RETRYABLE, ErrorClass
from threadline.channels.http import http_session
from threadline.channels.outcome import SendOutcome

E = ErrorClass
KEY = bytes(range(32))
SECRET = base64.b64encode(KEY).decode()
MSP = "msp-0c7e"
BUSINESS = "8d2a1f0e-4c1b-4f57-9a53-3b6f1c2d9e10"
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)

# The destination decides the gateway's answer.
ANSWERS = {
    "urn:mbid:ok": 200,
    "urn:mbid:bad": 400,
    "urn:mbid:unauthorized": 401,
    "urn:mbid:unknown": 404,
    "urn:mbid:closed": 410,
    "urn:mbid:too-large": 413,
    "urn:mbid:busy": 429,
    "urn:mbid:broken": 500,
    "urn:mbid:unavailable": 503,
}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, E.INVALID_REQUEST),
        (401, E.AUTH),
        (403, E.AUTH),
        (404, E.UNDELIVERABLE),
        (410, E.OPTED_OUT),
        (413, E.INVALID_REQUEST),
        (429, E.THROTTLE),
        (500, E.RETRY),
        (502, E.RETRY),
        (503, E.RETRY),
        (599, E.RETRY),
        (418, E.INVALID_REQUEST),
    ],
)
def test_classify_by_http_status(status: int, expected: ErrorClass) -> None:
    assert classify(status) == expected


def test_only_transient_statuses_are_retryable() -> None:
    assert {classify(s) for s in (429, 500, 503)} <= RETRYABLE
    for status in (400, 401, 404, 410, 413):
        assert classify(status) not in RETRYABLE, status


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Gateway:
    url: str
    seen: list[Seen] = field(default_factory=list)


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    seen: list[Seen] = []
    release = asyncio.Event()

    async def message(request: web.Request) -> web.StreamResponse:
        body = json.loads(await request.read())
        seen.append(Seen(request.path, dict(request.headers), body))
        destination = request.headers.get("destination-id", "")
        if destination == "urn:mbid:slow":
            await release.wait()  # answers only after the client gave up
        status = ANSWERS.get(destination, 200)
        if status == 200:
            return web.Response(status=200)  # Apple: 200, no body
        return web.Response(status=status, text=f"refused with {status}")

    app = web.Application()
    app.router.add_post("/v1/message", message)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield Gateway(f"http://{host}:{port}", seen)
    finally:
        release.set()
        await runner.cleanup()


def access(base_url: str, **settings: Any) -> AccountAccess:
    return AccountAccess(
        base_url=base_url + "/",
        api_version="v1",
        address=BUSINESS,
        access_token=SECRET,
        account_id=MSP,
        signing_secret=SECRET,
        settings=settings,
    )


async def send(
    base_url: str, body: dict[str, Any], read_timeout: float = 10.0, **settings: Any
) -> SendOutcome:
    async with http_session(timeout=read_timeout) as http:
        client = AppleClient(http, access(base_url, **settings), clock=lambda: NOW)
        return await client.send(body)


def text_to(person: str, **extra: Any) -> dict[str, Any]:
    return {"v": 1, "type": "text", "body": "Hello", "destinationId": person, **extra}


async def test_a_send_carries_the_token_the_ids_and_the_body(gateway: Gateway) -> None:
    body = ADAPTER.render(m.Text(body="Hello"), Envelope(to="urn:mbid:ok", callback_data="m1"))
    outcome = await send(gateway.url, body)
    (seen,) = gateway.seen
    assert outcome == SendOutcome(provider_id=body["id"], http_status=200)
    assert seen.path == "/v1/message"
    assert seen.headers["id"] == body["id"]
    assert seen.headers["source-id"] == BUSINESS
    assert seen.headers["destination-id"] == "urn:mbid:ok"
    assert seen.headers["Content-Type"] == "application/json"
    assert "auto-reply" not in seen.headers
    scheme, _, token = seen.headers["Authorization"].partition(" ")
    assert scheme == "Bearer"
    assert jwt.decode(token, KEY, algorithms=["HS256"]) == {
        "iss": MSP,
        "iat": int(NOW.timestamp()),
    }
    assert seen.body == {
        "v": 1,
        "type": "text",
        "body": "Hello",
        "id": body["id"],
        "sourceId": BUSINESS,
        "destinationId": "urn:mbid:ok",
    }


async def test_a_body_without_id_gets_a_fresh_uuid_which_is_the_provider_id(
    gateway: Gateway,
) -> None:
    first = await send(gateway.url, text_to("urn:mbid:ok"))
    second = await send(gateway.url, text_to("urn:mbid:ok"))
    assert first.provider_id and second.provider_id and first.provider_id != second.provider_id
    uuid.UUID(first.provider_id)
    assert [s.headers["id"] for s in gateway.seen] == [first.provider_id, second.provider_id]
    assert [s.body["id"] for s in gateway.seen] == [first.provider_id, second.provider_id]


async def test_an_automated_business_says_so(gateway: Gateway) -> None:
    await send(gateway.url, text_to("urn:mbid:ok"), auto_reply=True)
    assert gateway.seen[0].headers["auto-reply"] == "true"


@pytest.mark.parametrize(
    ("person", "status", "expected"),
    [
        ("urn:mbid:bad", 400, E.INVALID_REQUEST),
        ("urn:mbid:unauthorized", 401, E.AUTH),
        ("urn:mbid:unknown", 404, E.UNDELIVERABLE),
        ("urn:mbid:closed", 410, E.OPTED_OUT),
        ("urn:mbid:too-large", 413, E.INVALID_REQUEST),
        ("urn:mbid:busy", 429, E.THROTTLE),
        ("urn:mbid:broken", 500, E.RETRY),
        ("urn:mbid:unavailable", 503, E.RETRY),
    ],
)
async def test_refusals_are_classified_by_http_status(
    gateway: Gateway, person: str, status: int, expected: ErrorClass
) -> None:
    outcome = await send(gateway.url, text_to(person))
    assert not outcome.ok and not outcome.outcome_unknown
    assert outcome.http_status == status
    assert outcome.error is not None
    assert (outcome.error.code, outcome.error.title) == (status, f"HTTP {status}")
    assert outcome.error.message == f"refused with {status}"
    assert outcome.error_class == expected


async def test_no_answer_is_retried_but_marked_unknown(gateway: Gateway) -> None:
    outcome = await send(gateway.url, text_to("urn:mbid:slow"), read_timeout=0.3)
    assert outcome.error_class == E.RETRY
    assert outcome.outcome_unknown  # it may have been taken: reconcile before retrying
    assert len(gateway.seen) == 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_never_connected_is_retried_safely() -> None:
    outcome = await send(f"http://127.0.0.1:{_closed_port()}", text_to("urn:mbid:ok"))
    assert outcome.error_class == E.RETRY
    assert not outcome.outcome_unknown
    assert outcome.error is not None and outcome.error.code == -1


async def test_a_body_without_a_person_is_ours_to_fix(gateway: Gateway) -> None:
    outcome = await send(gateway.url, {"v": 1, "type": "text", "body": "Hi"})
    assert outcome.error_class == E.INVALID_REQUEST
    assert gateway.seen == []


async def test_a_secret_that_is_not_base64_stops_the_channel(gateway: Gateway) -> None:
    async with http_session() as http:
        bad = AccountAccess(
            base_url=gateway.url,
            api_version="v1",
            address=BUSINESS,
            access_token="not base64!",
            account_id=MSP,
            signing_secret="not base64!",
        )
        outcome = await AppleClient(http, bad).send(text_to("urn:mbid:ok"))
    assert outcome.error_class == E.AUTH
    assert gateway.seen == []


async def test_attachments_cannot_be_fetched_yet(gateway: Gateway) -> None:
    async with http_session() as http:
        client = ADAPTER.client(http, access(gateway.url))
        with pytest.raises(AttachmentsNotBuilt):
            await client.fetch_media({"url": "https://p57-content.icloud.com/M1/abc"})
