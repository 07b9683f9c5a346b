"""The SMS client against a real HTTP server on a local port: the exact form and basic
auth it sends, and what each kind of answer (or no answer) comes to."""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from threadline.channels import messages as m
from threadline.channels.adapter import AccountAccess, Envelope
from threadline.channels.errors import ErrorClass
from threadline.channels.events import ErrorDetail
from threadline.channels.outcome import SendOutcome
from threadline.channels.sms.client import SmsClient, error_outcome, form_fields
from threadline.channels.sms.declaration import SMS
from threadline.channels.sms.render import render

TOKEN = "auth-token"
OURS = "+15550001111"
TO = "+15551230000"
PUBLIC = "https://tl.example.com/"
PNG = b"\x89PNG\r\n\x1a\n-bytes"


@dataclass
class Received:
    path: str
    authorization: str
    content_type: str
    form: list[tuple[str, str]]


@dataclass
class Provider:
    """A Twilio stand-in: the Account SID in the path picks the answer."""

    url: str
    received: list[Received] = field(default_factory=list)


TWILIO_21610 = {
    "code": 21610,
    "message": "Attempt to send to unsubscribed recipient",
    "more_info": "https://www.twilio.com/docs/errors/21610",
    "status": 400,
}
TWILIO_20003 = {
    "code": 20003,
    "message": "Authenticate",
    "more_info": "https://www.twilio.com/docs/errors/20003",
    "status": 401,
}


async def _answer(sid: str, request: web.Request) -> web.StreamResponse:
    if sid == "ACok":
        return web.json_response({"sid": "SMsent1", "status": "queued"}, status=201)
    if sid == "ACnoid":
        return web.json_response({"status": "queued"}, status=201)
    if sid == "ACstop":
        return web.json_response(TWILIO_21610, status=400)
    if sid == "ACauth":
        return web.json_response(TWILIO_20003, status=401)
    if sid == "ACbusy":
        return web.Response(status=429)
    if sid == "ACdown":
        return web.Response(status=500, text="<html>Internal Server Error</html>")
    if sid == "ACslow":
        await asyncio.sleep(2)
    assert request.transport is not None
    request.transport.close()  # ACdrop: the request arrived, the answer never does
    return web.Response()


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    provider = Provider("")

    async def messages(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        provider.received.append(
            Received(
                path=request.path,
                authorization=request.headers.get("Authorization", ""),
                content_type=request.content_type,
                form=[(k, str(v)) for k, v in form.items()],
            )
        )
        return await _answer(request.match_info["sid"], request)

    async def media(request: web.Request) -> web.StreamResponse:
        expected = "Basic " + base64.b64encode(b"ACok:" + TOKEN.encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.Response(status=401)
        return web.Response(body=PNG, content_type="image/png")

    async def redirected(request: web.Request) -> web.StreamResponse:
        raise web.HTTPTemporaryRedirect("/media/ME1")

    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", messages)
    app.router.add_get("/media/ME1", media)
    app.router.add_get("/redirect/ME1", redirected)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    provider.url = f"http://{host}:{port}"
    try:
        yield provider
    finally:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield session


def client(
    http: aiohttp.ClientSession, base_url: str, sid: str, public_url: str = PUBLIC
) -> SmsClient:
    access = AccountAccess(
        base_url=base_url,
        api_version="2010-04-01",
        address=OURS,
        access_token=TOKEN,
        account_id=sid,
        settings={"public_url": public_url} if public_url else {},
    )
    return SmsClient(http, access)


def basic(sid: str) -> str:
    return "Basic " + base64.b64encode(f"{sid}:{TOKEN}".encode()).decode()


async def test_sends_the_exact_form_with_basic_auth(
    provider: Provider, http: aiohttp.ClientSession
) -> None:
    sms = client(http, provider.url + "/", "ACok")
    body = {
        "To": TO,
        "Body": "Your photos",
        "MediaUrl": ["https://a.example/1", "https://a.example/2"],
    }
    outcome = await sms.send(body)
    assert outcome == SendOutcome(provider_id="SMsent1", message_status="queued", http_status=201)
    assert provider.received == [
        Received(
            path="/2010-04-01/Accounts/ACok/Messages.json",
            authorization=basic("ACok"),
            content_type="application/x-www-form-urlencoded",
            form=[
                ("To", TO),
                ("From", OURS),
                ("Body", "Your photos"),
                ("MediaUrl", "https://a.example/1"),
                ("MediaUrl", "https://a.example/2"),
                ("StatusCallback", "https://tl.example.com/webhooks/sms"),
            ],
        )
    ]


async def test_what_the_renderer_gives_goes_as_is_and_without_a_public_url_no_callback(
    provider: Provider, http: aiohttp.ClientSession
) -> None:
    sms = client(http, provider.url, "ACok", public_url="")
    body = render(m.Text(body="Olá & bye = 100%"), Envelope(to=TO), SMS)
    assert (await sms.send(body)).ok
    assert provider.received[0].form == [("To", TO), ("From", OURS), ("Body", "Olá & bye = 100%")]


REFUSALS: list[tuple[str, SendOutcome]] = [
    (
        "ACstop",
        SendOutcome(
            error=ErrorDetail(
                code=21610,
                title="Attempt to send to unsubscribed recipient",
                message="Attempt to send to unsubscribed recipient",
                details="https://www.twilio.com/docs/errors/21610",
            ),
            error_class=ErrorClass.OPTED_OUT,
            http_status=400,
        ),
    ),
    (
        "ACauth",
        SendOutcome(
            error=ErrorDetail(
                code=20003,
                title="Authenticate",
                message="Authenticate",
                details="https://www.twilio.com/docs/errors/20003",
            ),
            error_class=ErrorClass.AUTH,
            http_status=401,
        ),
    ),
    (
        "ACbusy",
        SendOutcome(
            error=ErrorDetail(code=-429, title="HTTP 429"),
            error_class=ErrorClass.THROTTLE,
            http_status=429,
        ),
    ),
    (
        "ACdown",
        SendOutcome(
            error=ErrorDetail(code=-500, title="HTTP 500"),
            error_class=ErrorClass.RETRY,
            http_status=500,
        ),
    ),
    (
        "ACnoid",
        SendOutcome(
            error=ErrorDetail(code=-3, title="accepted without a message id"),
            error_class=ErrorClass.RETRY,
            http_status=201,
            outcome_unknown=True,
        ),
    ),
]


@pytest.mark.parametrize(("sid", "expected"), REFUSALS, ids=[r[0] for r in REFUSALS])
async def test_answers_become_outcomes(
    provider: Provider, http: aiohttp.ClientSession, sid: str, expected: SendOutcome
) -> None:
    outcome = await client(http, provider.url, sid).send({"To": TO, "Body": "Hi"})
    assert outcome == expected
    assert len(provider.received) == 1


@pytest.mark.parametrize("sid", ["ACdrop", "ACslow"])
async def test_a_request_without_an_answer_may_have_been_sent(provider: Provider, sid: str) -> None:
    impatient = aiohttp.ClientTimeout(total=10, sock_read=0.5)
    async with aiohttp.ClientSession(timeout=impatient) as http:
        outcome = await client(http, provider.url, sid).send({"To": TO, "Body": "Hi"})
    assert outcome.error_class is ErrorClass.RETRY and outcome.outcome_unknown
    assert outcome.error is not None and outcome.error.code == -2
    assert len(provider.received) == 1


async def test_a_request_that_never_connected_is_safe_to_retry(
    http: aiohttp.ClientSession,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outcome = await client(http, f"http://127.0.0.1:{port}", "ACok").send({"To": TO, "Body": "Hi"})
    assert outcome.error_class is ErrorClass.RETRY and not outcome.outcome_unknown
    assert outcome.error is not None and outcome.error.code == -1


@pytest.mark.parametrize(
    ("status", "payload", "error_class"),
    [
        (400, {"code": "21211", "message": "Invalid To"}, ErrorClass.UNDELIVERABLE),
        (400, {"code": 30007, "message": "Filtered"}, ErrorClass.SPAM_LIMIT),
        (400, {"code": 29999, "message": "New"}, ErrorClass.INVALID_REQUEST),
        (403, None, ErrorClass.AUTH),
        (404, {"message": "no code"}, ErrorClass.INVALID_REQUEST),
        (502, ["not", "an", "object"], ErrorClass.RETRY),
    ],
)
def test_error_bodies(status: int, payload: Any, error_class: ErrorClass) -> None:
    assert error_outcome(status, payload).error_class is error_class


def test_form_fields_repeat_list_values_and_keep_order() -> None:
    body = {"To": TO, "MediaUrl": ["u1", "u2"], "Body": "b"}
    assert form_fields(body, OURS, None) == [
        ("To", TO),
        ("From", OURS),
        ("MediaUrl", "u1"),
        ("MediaUrl", "u2"),
        ("Body", "b"),
    ]


@pytest.mark.parametrize("path", ["/media/ME1", "/redirect/ME1"])
async def test_fetches_media_with_the_account_credentials(
    provider: Provider, http: aiohttp.ClientSession, path: str
) -> None:
    sms = client(http, provider.url, "ACok")
    assert await sms.fetch_media({"url": provider.url + path}) == (PNG, "image/png")
    stored = {"url": provider.url + path, "mime_type": "image/x-png"}
    assert await sms.fetch_media(stored) == (PNG, "image/x-png")


async def test_media_refused_raises(provider: Provider, http: aiohttp.ClientSession) -> None:
    with pytest.raises(aiohttp.ClientResponseError):
        await client(http, provider.url, "ACother").fetch_media(
            {"url": provider.url + "/media/ME1"}
        )
