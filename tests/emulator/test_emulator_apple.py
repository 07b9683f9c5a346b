"""The emulator speaks Apple's MSP gateway: `POST /v1/message` with the MSP's JWT, only to
people who wrote the business first, never to a closed conversation; simulated people post
their messages (text, attachments, picker answers, typing, close) to the MSP with Apple's
JWT and headers.

Both sides run over real HTTP: the emulator under uvicorn on a local port, Threadline's
Apple client sending to it, and a small receiver (aiohttp.web) standing in for Threadline's
webhook, which checks every token with Threadline's own verifier and parses every body with
Threadline's own parser, so the emulator and the product are checked against each other."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from aiohttp import web

from tests.channels.whatsapp.harness import serving
from threadline.channels import messages as m
from threadline.channels.adapter import AccountAccess, Envelope
from threadline.channels.apple import jwt_auth
from threadline.channels.apple.adapter import ADAPTER
from threadline.channels.apple.client import AppleClient
from threadline.channels.apple.webhooks import parse
from threadline.channels.errors import ErrorClass
from threadline.channels.events import InboundMessage, Suppression, SuppressionReason
from threadline.channels.http import http_session
from threadline.channels.outcome import SendOutcome
from threadline.emulator.app import create_emulator

KEY = bytes(range(32))
SECRET = base64.b64encode(KEY).decode()
MSP = "msp-0c7e"
OTHER_MSP = "msp-other"
BUSINESS = "8d2a1f0e-4c1b-4f57-9a53-3b6f1c2d9e10"
ANA = "urn:mbid:AQAAana"
BEN = "urn:mbid:AQAAben"
E = ErrorClass


@dataclass(frozen=True)
class Delivery:
    headers: dict[str, str]
    raw: bytes

    @property
    def body(self) -> Any:
        # aiohttp inflates a body sent with Content-Encoding: gzip as it reads it.
        data = self.raw
        if data.startswith(b"\x1f\x8b"):
            data = gzip.decompress(data)
        return json.loads(data)

    def verified(self) -> bool:
        now = datetime.now(UTC)
        return jwt_auth.verify(SECRET, MSP, self.headers.get("Authorization"), now)


@dataclass
class Receiver:
    url: str
    deliveries: list[Delivery] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """Threadline's webhook, standing in: records what Apple posts, answers 200."""
    found = Receiver(url="")

    async def message(request: web.Request) -> web.Response:
        found.deliveries.append(Delivery(dict(request.headers), await request.read()))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/webhooks/apple/message", message)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    found.url = f"http://{host}:{port}/webhooks/apple/message"
    try:
        yield found
    finally:
        await runner.cleanup()


@dataclass
class Apple:
    url: str
    control: httpx.AsyncClient
    receiver: Receiver

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        answer = await self.control.post(f"/_emulator/apple{path}", json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def person(self, opaque_id: str, **spec: Any) -> dict[str, Any]:
        """The person does something in Messages; returns what the emulator posted."""
        sent: dict[str, Any] = await self.post(
            f"/users/{opaque_id}/send", {"business_id": BUSINESS, **spec}
        )
        assert sent["status"] == 200, sent
        return sent

    async def inbox(self, opaque_id: str) -> list[dict[str, Any]]:
        answer = await self.control.get(f"/_emulator/apple/users/{opaque_id}/inbox")
        answer.raise_for_status()
        found: list[dict[str, Any]] = answer.json()
        return found

    async def send(self, content: m.Content, to: str, callback: str | None = None) -> SendOutcome:
        """Threadline's adapter renders and its client sends, as the dispatcher does."""
        body = ADAPTER.render(content, Envelope(to=to, callback_data=callback))
        return await self.send_body(body)

    async def send_body(self, body: dict[str, Any]) -> SendOutcome:
        access = AccountAccess(
            base_url=self.url,
            api_version="v1",
            address=BUSINESS,
            access_token=SECRET,
            account_id=MSP,
            signing_secret=SECRET,
        )
        async with http_session() as http:
            return await AppleClient(http, access).send(body)


@pytest.fixture
async def apple(receiver: Receiver) -> AsyncIterator[Apple]:
    async with (
        serving(create_emulator()) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as control,
    ):
        found = Apple(url, control, receiver)
        await found.post(
            "/msps", {"msp_id": MSP, "secret_b64": SECRET, "message_url": receiver.url}
        )
        await found.post("/businesses", {"business_id": BUSINESS, "msp_id": MSP})
        yield found


def events_of(delivery: Delivery) -> list[Any]:
    return parse(delivery.body, delivery.headers, datetime.now(UTC))


async def test_a_business_cannot_start_a_conversation(apple: Apple) -> None:
    outcome = await apple.send(m.Text(body="Big sale this week!"), ANA, callback="m1")
    assert not outcome.ok
    assert (outcome.http_status, outcome.error_class) == (404, E.UNDELIVERABLE)
    log = (await apple.control.get("/_emulator/apple/requests")).json()
    assert [(r["status"], r["destination_id"]) for r in log] == [(404, ANA)]
    assert "never wrote" in log[0]["reason"]
    assert (await apple.control.get(f"/_emulator/apple/users/{ANA}/inbox")).status_code == 404


async def test_a_person_writes_with_apple_s_token_and_the_business_may_answer(
    apple: Apple,
) -> None:
    sent = await apple.person(ANA, text="Is my order on its way?")
    (delivery,) = apple.receiver.deliveries
    assert delivery.verified()
    assert jwt.decode(
        delivery.headers["Authorization"].removeprefix("Bearer "),
        KEY,
        algorithms=["HS256"],
        audience=MSP,
    ).keys() == {"aud", "iat"}
    headers = delivery.headers
    assert (headers["id"], headers["source-id"], headers["destination-id"]) == (
        sent["id"],
        ANA,
        BUSINESS,
    )
    assert (headers["device-agent"], headers["capability-list"]) == ("iPhone OS", "QUICK,LIST,TIME")
    (event,) = events_of(delivery)
    assert isinstance(event, InboundMessage)
    assert (event.account, event.sender.address, event.external_id, event.text) == (
        BUSINESS,
        ANA,
        sent["id"],
        "Is my order on its way?",
    )

    reply = await apple.send(m.Text(body="It ships today."), ANA, callback="m2")
    assert reply.ok, reply
    again = await apple.send(m.Text(body="It ships today."), ANA, callback="m2")
    assert again.provider_id == reply.provider_id  # a retry is the same message, taken once
    inbox = await apple.inbox(ANA)
    assert [(e["id"], e["message"]["body"]) for e in inbox] == [
        (reply.provider_id, "It ships today.")
    ]
    # Ben never wrote: still refused.
    assert (await apple.send(m.Text(body="Hi Ben"), BEN)).error_class == E.UNDELIVERABLE


@pytest.mark.parametrize(
    ("content", "chosen", "kind", "text"),
    [
        (
            m.Buttons(
                body="Did that help?",
                buttons=[m.Button(id="yes", title="Yes"), m.Button(id="no", title="No")],
            ),
            ["no"],
            "quick_reply",
            "No",
        ),
        (
            m.ListMessage(
                body="Which size?",
                button="Choose",
                sections=[
                    m.ListSection(
                        rows=[
                            m.ListRow(id="s", title="Small"),
                            m.ListRow(id="m", title="Medium"),
                        ]
                    )
                ],
            ),
            ["m"],
            "interactive/list_reply",
            "Medium",
        ),
    ],
    ids=["quick-reply", "list-picker"],
)
async def test_a_tap_on_the_business_s_picker_comes_back_as_its_choice(
    apple: Apple, content: m.Content, chosen: list[str], kind: str, text: str
) -> None:
    await apple.person(ANA, text="Hello")
    offered = await apple.send(content, ANA, callback="ask-1")
    assert offered.ok, offered
    await apple.person(ANA, select=chosen)
    (event,) = events_of(apple.receiver.deliveries[-1])
    assert isinstance(event, InboundMessage)
    assert (event.kind, event.payload, event.text) == (kind, chosen[0], text)
    assert event.reply_to == offered.provider_id  # the answer names the message it answers


async def test_a_closed_conversation_takes_nothing_until_the_person_writes_again(
    apple: Apple,
) -> None:
    await apple.person(ANA, text="Hi")
    closed = await apple.person(ANA, close=True)
    (suppression,) = events_of(apple.receiver.deliveries[-1])
    assert isinstance(suppression, Suppression)
    assert (suppression.address, suppression.reason, suppression.reference) == (
        ANA,
        SuppressionReason.CLOSED,
        closed["id"],
    )
    refused = await apple.send(m.Text(body="Are you still there?"), ANA)
    assert (refused.http_status, refused.error_class) == (410, E.OPTED_OUT)
    await apple.person(ANA, text="Back again")
    assert (await apple.send(m.Text(body="Welcome back"), ANA)).ok


async def test_attachments_typing_and_gzip(apple: Apple) -> None:
    await apple.person(
        ANA, text="This one", attachments=[{"name": "a.pdf", "mime_type": "application/pdf"}]
    )
    (photo,) = events_of(apple.receiver.deliveries[-1])
    assert isinstance(photo, InboundMessage) and photo.media is not None
    assert (photo.kind, photo.text, photo.media.mime_type) == (
        "document",
        "This one",
        "application/pdf",
    )
    assert photo.raw["attachment"]["key"].startswith("00")

    await apple.person(ANA, text="Zipped", gzip=True)
    zipped = apple.receiver.deliveries[-1]
    assert zipped.headers["Content-Encoding"] == "gzip" and zipped.verified()
    assert zipped.body["body"] == "Zipped"

    await apple.person(ANA, typing="start")
    assert apple.receiver.deliveries[-1].body["type"] == "typing_start"
    assert (await apple.send(m.Typing(on=True), ANA)).ok
    assert await apple.inbox(ANA) == []  # typing shows, it is no message


async def test_the_gateway_checks_the_msp_s_token(apple: Apple) -> None:
    await apple.person(ANA, text="Hi")
    body = {"v": 1, "type": "text", "body": "x", "sourceId": BUSINESS, "destinationId": ANA}

    async def gateway(token: str | None, **headers: str) -> int:
        sent = {"id": "6F1C0E8A-1111-4B2C-9D3E-000000000001", **headers}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        answer = await apple.control.post(
            "/v1/message",
            json={**body, "id": sent["id"]},
            headers={"source-id": BUSINESS, "destination-id": ANA, **sent},
        )
        return answer.status_code

    now = int(datetime.now(UTC).timestamp())
    forged = jwt.encode({"iss": MSP, "iat": now}, bytes(range(1, 33)), algorithm="HS256")
    stranger = jwt.encode({"iss": "nobody", "iat": now}, KEY, algorithm="HS256")
    stale = jwt.encode({"iss": MSP, "iat": now - 3600}, KEY, algorithm="HS256")
    good = jwt.encode({"iss": MSP, "iat": now}, KEY, algorithm="HS256")
    assert await gateway(None) == 401
    assert await gateway(forged) == 401
    assert await gateway(stranger) == 401
    assert await gateway(stale) == 401
    assert await gateway(good, id="not-a-uuid") == 400
    assert await gateway(good) == 200

    # Another MSP may not send for this business.
    await apple.post(
        "/msps", {"msp_id": OTHER_MSP, "secret_b64": SECRET, "message_url": "http://x"}
    )
    other = jwt.encode({"iss": OTHER_MSP, "iat": now}, KEY, algorithm="HS256")
    assert await gateway(other, id="6F1C0E8A-1111-4B2C-9D3E-000000000002") == 403


async def test_large_interactive_data_and_planned_faults(apple: Apple) -> None:
    await apple.person(ANA, text="Hi")
    huge = {
        "v": 1,
        "type": "interactive",
        "destinationId": ANA,
        "interactiveData": {"bid": "x", "data": {"blob": "x" * 11_000}},
    }
    too_large = await apple.send_body(huge)
    assert (too_large.http_status, too_large.error_class) == (413, E.INVALID_REQUEST)

    await apple.post("/faults", {"status": 429, "count": 1})
    throttled = await apple.send(m.Text(body="One"), ANA)
    assert (throttled.http_status, throttled.error_class) == (429, E.THROTTLE)
    assert (await apple.send(m.Text(body="Two"), ANA)).ok
