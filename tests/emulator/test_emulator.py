"""The platform emulator enforces the WhatsApp Cloud API's rules and speaks its wire format.

The emulator runs in-process (ASGI transport), or, for tests that use Threadline's own
WhatsAppClient (aiohttp, which has no in-process transport), served on a real local port.
Tests about webhooks register the number with the callback URL of a tiny receiver served on a
real local port, because the emulator posts webhooks over HTTP; every webhook the receiver
accepts is checked for its signature and parsed with Threadline's own parser, so these tests
also prove the two agree."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import httpx
import pytest
from fastapi import FastAPI, Request, Response

from tests.channels.whatsapp.harness import serving
from threadline.channels import messages as m
from threadline.channels.errors import ErrorClass
from threadline.channels.events import (
    ChannelEvent,
    InboundMessage,
    MarketingPreference,
    NumberQualityChange,
    Pricing,
    StatusUpdate,
)
from threadline.channels.http import http_session
from threadline.channels.meta import signature
from threadline.channels.whatsapp.client import WhatsAppClient
from threadline.channels.whatsapp.render import render
from threadline.channels.whatsapp.webhooks import parse
from threadline.emulator.app import create_emulator
from threadline.emulator.runtime import Runtime

PNID = "106540352242922"
WABA = "102290129340398"
DISPLAY = "15550783881"
TOKEN = "emulator-token"
SECRET = "emulator-app-secret"
VERSION = "v21.0"
MESSAGES = f"/{VERSION}/{PNID}/messages"
BASE = "http://emulator.test"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

ANA = "5511900000001"
BEN = "5511900000002"
CAROL = "5511900000003"
DAN = "5511900000004"


# -- a webhook receiver on a real port -----------------------------------------------------
@dataclass
class Delivery:
    body: bytes
    signature: str | None
    answered: int


@dataclass
class Receiver:
    """Records every webhook POST and answers from `answers` (then 200)."""

    answers: list[int] = field(default_factory=list)
    calls: list[Delivery] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            body = await request.body()
            answer = self.answers.pop(0) if self.answers else 200
            self.calls.append(Delivery(body, request.headers.get("x-hub-signature-256"), answer))
            return Response(status_code=answer)

        return app

    def events(self) -> list[ChannelEvent]:
        """Every accepted delivery, signature-checked and parsed, in arrival order."""
        out: list[ChannelEvent] = []
        for call in self.calls:
            if call.answered != 200:
                continue
            assert signature.valid(SECRET, call.body, call.signature), call
            out.extend(parse(json.loads(call.body)))
        return out

    async def wait_for(
        self, done: Callable[[list[ChannelEvent]], bool], within: float = 5.0
    ) -> list[ChannelEvent]:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            events = self.events()
            if done(events):
                return events
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"webhook not received in {within} s; got {events}")
            await asyncio.sleep(0.02)

    async def statuses(
        self, message_id: str, until: frozenset[str] = frozenset({"sent", "delivered", "read"})
    ) -> list[StatusUpdate]:
        """Statuses of one message, in timestamp order, once it was read or failed (users
        here read everything). Webhooks may arrive out of order; timestamps may not."""

        def of(events: list[ChannelEvent]) -> list[StatusUpdate]:
            found = [
                e for e in events if isinstance(e, StatusUpdate) and e.external_id == message_id
            ]
            return sorted(found, key=lambda s: s.timestamp)

        def done(events: list[ChannelEvent]) -> bool:
            seen = {s.status for s in of(events)}
            return "failed" in seen or until <= seen

        return of(await self.wait_for(done))

    async def inbound(self, message_id: str) -> InboundMessage:
        def find(events: list[ChannelEvent]) -> InboundMessage | None:
            return next(
                (
                    e
                    for e in events
                    if isinstance(e, InboundMessage) and e.external_id == message_id
                ),
                None,
            )

        found = find(await self.wait_for(lambda ev: find(ev) is not None))
        assert found is not None
        return found


# -- the emulator under test ---------------------------------------------------------------
@dataclass
class Emu:
    app: FastAPI
    http: httpx.AsyncClient
    receiver: Receiver
    session: aiohttp.ClientSession | None = None  # only when served on a real port

    @property
    def runtime(self) -> Runtime:
        rt: Runtime = self.app.state.emulator
        return rt

    def client(self) -> WhatsAppClient:
        assert self.session is not None, "WhatsAppClient needs emulator(served=True)"
        return WhatsAppClient(
            self.session,
            base_url=str(self.http.base_url),
            api_version=VERSION,
            phone_number_id=PNID,
            access_token=TOKEN,
        )

    async def control(self, path: str, body: dict[str, Any]) -> Any:
        r = await self.http.post(f"/_emulator{path}", json=body)
        assert r.status_code == 200, r.text
        return r.json()

    async def add_user(self, wa_id: str, **behaviour: Any) -> None:
        await self.control("/users", {"wa_id": wa_id, "read": 1.0, **behaviour})

    async def add_template(
        self, name: str, category: str, body: str = "Hello {{1}}", status: str = "APPROVED"
    ) -> None:
        await self.control(
            "/templates",
            {"waba_id": WABA, "name": name, "category": category, "status": status, "body": body},
        )

    async def post(
        self, content: m.Content, to: str, *, callback_data: str | None = None
    ) -> httpx.Response:
        body = render(content, to, callback_data=callback_data)
        return await self.http.post(MESSAGES, json=body, headers=AUTH)

    async def send(self, content: m.Content, to: str, **kwargs: Any) -> str:
        r = await self.post(content, to, **kwargs)
        assert r.status_code == 200, r.text
        message_id: str = r.json()["messages"][0]["id"]
        return message_id

    async def user_says(self, wa_id: str, **spec: Any) -> str:
        answer = await self.control(f"/users/{wa_id}/send", {"phone_number_id": PNID, **spec})
        message_id: str = answer["id"]
        return message_id


@asynccontextmanager
async def emulator(
    seed: int = 7,
    *,
    webhooks: Receiver | None = None,
    throttle_http_status: int = 429,
    served: bool = False,
    **number: Any,
) -> AsyncIterator[Emu]:
    app = create_emulator(seed, throttle_http_status=throttle_http_status)
    async with AsyncExitStack() as stack:
        callback = None
        if webhooks is not None:
            callback = await stack.enter_async_context(serving(webhooks.app())) + "/hook"
        # Either way the lifespan runs, so the webhook sender starts (hooks.start()) and stops
        # (hooks.stop()) with the test; the clients close before the app stops.
        session: aiohttp.ClientSession | None = None
        transport: httpx.ASGITransport | None = None
        if served:
            url = await stack.enter_async_context(serving(app))
            session = await stack.enter_async_context(http_session(timeout=10))
        else:
            # ASGITransport does not run the lifespan: run it here.
            await stack.enter_async_context(app.router.lifespan_context(app))
            url, transport = BASE, httpx.ASGITransport(app=app)
        http = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url=url, timeout=10)
        )
        emu = Emu(app, http, webhooks or Receiver(), session)
        await emu.control(
            "/numbers",
            {
                "phone_number_id": PNID,
                "waba_id": WABA,
                "display_phone_number": DISPLAY,
                "access_token": TOKEN,
                "app_secret": SECRET,
                "callback_url": callback,
                **number,
            },
        )
        yield emu


@pytest.fixture
async def emu() -> AsyncIterator[Emu]:
    """No callback URL: nothing is posted anywhere."""
    async with emulator() as e:
        yield e


@pytest.fixture
async def served() -> AsyncIterator[Emu]:
    """On a real port, for Threadline's WhatsAppClient (aiohttp); no callback URL."""
    async with emulator(served=True) as e:
        yield e


@pytest.fixture
async def hooked() -> AsyncIterator[Emu]:
    """With a webhook receiver."""
    async with emulator(webhooks=Receiver()) as e:
        yield e


def graph_code(response: httpx.Response) -> int:
    error = response.json()["error"]
    assert error["type"] == "OAuthException"
    assert error["error_data"]["messaging_product"] == "whatsapp"
    code: int = error["code"]
    return code


def codes(statuses: list[StatusUpdate]) -> list[tuple[str, tuple[int, ...]]]:
    return [(s.status, tuple(e.code for e in s.errors)) for s in statuses]


HELLO = m.Text(body="Hello")


def tpl(name: str, *params: str) -> m.Template:
    return m.Template(name=name, body=list(params))


# -- authentication ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}]
)
async def test_send_without_the_right_bearer_token_is_401_code_190(
    emu: Emu, headers: dict[str, str]
) -> None:
    await emu.add_user(ANA)
    r = await emu.http.post(MESSAGES, json=render(HELLO, ANA), headers=headers)
    assert r.status_code == 401
    assert graph_code(r) == 190
    assert emu.runtime.state.users[ANA].inbox == []


# -- templates -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "code"),
    [
        (tpl("nope", "Ana"), 132001),
        (m.Template(name="promo", language="pt_BR", body=["Ana"]), 132001),
        (tpl("pending_one", "Ana"), 132001),
        (tpl("paused_one", "Ana"), 132015),
        (tpl("disabled_one", "Ana"), 132016),
        (tpl("promo"), 132000),
        (tpl("promo", "Ana", "extra"), 132000),
        (m.Template(name="named", body={"first_name": "Ana"}), 132000),
        (m.Template(name="named", body={"first_name": "Ana", "coupon": "X"}), 132000),
        (tpl("named", "Ana", "X1"), 132000),
    ],
    ids=[
        "unknown-name",
        "unknown-language",
        "not-approved",
        "paused",
        "disabled",
        "too-few-params",
        "too-many-params",
        "named-missing",
        "named-wrong-name",
        "named-sent-positional",
    ],
)
async def test_template_problems_are_refused(emu: Emu, content: m.Template, code: int) -> None:
    await emu.add_user(ANA)
    await emu.add_template("promo", "MARKETING", "Hi {{1}}, spring sale!")
    await emu.add_template("named", "UTILITY", "Hi {{first_name}}, your code is {{code}}")
    await emu.add_template("pending_one", "UTILITY", "Hi {{1}}", status="PENDING")
    await emu.add_template("paused_one", "MARKETING", "Hi {{1}}", status="PAUSED")
    await emu.add_template("disabled_one", "MARKETING", "Hi {{1}}", status="DISABLED")
    r = await emu.post(content, ANA)
    assert r.status_code == 400
    assert graph_code(r) == code
    assert emu.runtime.state.users[ANA].inbox == []


async def test_matching_templates_are_accepted_with_message_status(emu: Emu) -> None:
    await emu.add_user(ANA)
    await emu.add_template("promo", "MARKETING", "Hi {{1}}, spring sale!")
    await emu.add_template("named", "UTILITY", "Hi {{first_name}}, your code is {{code}}")
    for content in (
        tpl("promo", "Ana"),
        m.Template(name="named", body={"code": "1", "first_name": "A"}),
    ):
        r = await emu.post(content, ANA)
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["messaging_product"] == "whatsapp"
        assert answer["contacts"] == [{"input": ANA, "wa_id": ANA}]
        assert answer["messages"][0]["message_status"] == "accepted"
        assert answer["messages"][0]["id"].startswith("wamid.")
    assert [item["template"]["name"] for item in emu.runtime.state.users[ANA].inbox] == [
        "promo",
        "named",
    ]


# -- throughput, pair rate, messaging limit ------------------------------------------------
@pytest.mark.parametrize("http_status", [429, 400])
async def test_sixth_send_within_a_second_exceeds_5_mps(http_status: int) -> None:
    async with emulator(mps=5, throttle_http_status=http_status, served=True) as emu:
        await emu.add_template("notice", "UTILITY")
        users = [f"55119000001{i:02d}" for i in range(6)]
        for user in users:
            await emu.add_user(user)
        answers = [await emu.post(tpl("notice", "x"), user) for user in users]
        assert [r.status_code for r in answers] == [200] * 5 + [http_status]
        assert graph_code(answers[5]) == 130429
        outcome = await emu.client().send(render(tpl("notice", "x"), users[5]))
        assert outcome.error_class == ErrorClass.THROTTLE
        if http_status == 429:
            await asyncio.sleep(1.0)  # the per-second budget refills
            assert (await emu.post(tpl("notice", "x"), users[5])).status_code == 200


async def test_eleventh_rapid_send_to_one_person_hits_the_pair_limit(emu: Emu) -> None:
    await emu.add_template("notice", "UTILITY")
    await emu.add_user(ANA)
    await emu.add_user(BEN)
    answers = [await emu.post(tpl("notice", str(i)), ANA) for i in range(11)]
    assert [r.status_code for r in answers] == [200] * 10 + [429]
    assert graph_code(answers[10]) == 131056
    # Only that pair is limited: another person still gets messages.
    assert (await emu.post(tpl("notice", "x"), BEN)).status_code == 200
    assert len(emu.runtime.state.users[ANA].inbox) == 10


async def test_messaging_limit_counts_distinct_business_initiated_recipients() -> None:
    async with emulator(tier=2) as emu:
        await emu.add_template("notice", "UTILITY")
        for user in (ANA, BEN, CAROL, DAN):
            await emu.add_user(user)
        assert (await emu.post(tpl("notice", "1"), ANA)).status_code == 200
        assert (await emu.post(tpl("notice", "2"), BEN)).status_code == 200
        third = await emu.post(tpl("notice", "3"), CAROL)
        assert third.status_code == 429
        assert graph_code(third) == 131048
        # Someone already reached does not count twice...
        assert (await emu.post(tpl("notice", "4"), ANA)).status_code == 200
        # ...and replying inside a customer service window is not business-initiated.
        await emu.user_says(DAN, text="Hi!")
        assert (await emu.post(HELLO, DAN)).status_code == 200
        assert emu.runtime.state.users[CAROL].inbox == []


# -- failures reported later, by status webhook --------------------------------------------
async def test_free_form_message_outside_the_window_fails_with_131047(hooked: Emu) -> None:
    await hooked.add_user(ANA)  # never wrote to the business
    message_id = await hooked.send(HELLO, ANA)
    statuses = await hooked.receiver.statuses(message_id)
    assert codes(statuses) == [("failed", (131047,))]
    assert statuses[0].recipient == ANA
    assert statuses[0].pricing is None
    assert hooked.runtime.state.users[ANA].inbox == []


async def test_clock_advance_closes_the_customer_service_window(hooked: Emu) -> None:
    await hooked.add_user(ANA)
    await hooked.user_says(ANA, text="Hi")
    first = await hooked.send(HELLO, ANA)
    before = datetime.now(UTC)
    answer = await hooked.control("/clock/advance", {"seconds": 24 * 3600 - 60})
    assert datetime.fromisoformat(answer["now"]) - before >= timedelta(hours=23, minutes=59)
    still_open = await hooked.send(HELLO, ANA)
    await hooked.control("/clock/advance", {"seconds": 120})
    closed = await hooked.send(HELLO, ANA)
    assert [s.status for s in await hooked.receiver.statuses(first)] == [
        "sent",
        "delivered",
        "read",
    ]
    assert [s.status for s in await hooked.receiver.statuses(still_open)][-1] == "read"
    assert codes(await hooked.receiver.statuses(closed)) == [("failed", (131047,))]


async def test_marketing_to_someone_who_stopped_it_fails_with_131050(hooked: Emu) -> None:
    await hooked.add_template("promo", "MARKETING")
    await hooked.add_template("receipt", "UTILITY")
    await hooked.add_user(ANA, marketing_stopped=True)
    promo = await hooked.send(tpl("promo", "Ana"), ANA)
    receipt = await hooked.send(tpl("receipt", "Ana"), ANA)
    assert codes(await hooked.receiver.statuses(promo)) == [("failed", (131050,))]
    assert [s.status for s in await hooked.receiver.statuses(receipt)] == [
        "sent",
        "delivered",
        "read",
    ]


async def test_marketing_stop_and_resume_emit_user_preferences(hooked: Emu) -> None:
    await hooked.add_template("promo", "MARKETING")
    await hooked.add_user(ANA)
    await hooked.control(f"/users/{ANA}/marketing", {"phone_number_id": PNID, "value": "stop"})
    events = await hooked.receiver.wait_for(lambda ev: len(ev) == 1)
    stop = events[0]
    assert isinstance(stop, MarketingPreference)
    assert (stop.account, stop.address, stop.value) == (PNID, ANA, "stop")
    assert stop.timestamp.utcoffset() == timedelta(0)
    refused = await hooked.send(tpl("promo", "Ana"), ANA)
    assert codes(await hooked.receiver.statuses(refused)) == [("failed", (131050,))]

    await hooked.control(f"/users/{ANA}/marketing", {"phone_number_id": PNID, "value": "resume"})
    preferences = await hooked.receiver.wait_for(
        lambda ev: len([e for e in ev if isinstance(e, MarketingPreference)]) == 2
    )
    assert [e.value for e in preferences if isinstance(e, MarketingPreference)] == [
        "stop",
        "resume",
    ]
    welcome_back = await hooked.send(tpl("promo", "Ana"), ANA)
    assert [s.status for s in await hooked.receiver.statuses(welcome_back)][-1] == "read"


async def test_per_user_marketing_limit_fails_with_131049(hooked: Emu) -> None:
    await hooked.add_template("promo", "MARKETING")
    await hooked.add_user(ANA)
    await hooked.add_user(BEN)
    faults = await hooked.control("/faults", {"per_user_marketing_limit": 1})
    assert faults["per_user_marketing_limit"] == 1
    first = await hooked.send(tpl("promo", "Ana"), ANA)
    second = await hooked.send(tpl("promo", "Ana"), ANA)
    other = await hooked.send(tpl("promo", "Ben"), BEN)
    assert [s.status for s in await hooked.receiver.statuses(first)][-1] == "read"
    assert codes(await hooked.receiver.statuses(second)) == [("failed", (131049,))]
    assert [s.status for s in await hooked.receiver.statuses(other)][-1] == "read"


async def test_unknown_or_unreachable_people_fail_with_131026(hooked: Emu) -> None:
    await hooked.add_template("notice", "UTILITY")
    await hooked.add_user(BEN, unreachable=True)
    unknown = await hooked.send(tpl("notice", "x"), "5511988880000")
    unreachable = await hooked.send(tpl("notice", "x"), BEN)
    assert codes(await hooked.receiver.statuses(unknown)) == [("failed", (131026,))]
    assert codes(await hooked.receiver.statuses(unreachable)) == [("failed", (131026,))]


async def test_marketing_to_us_numbers_is_refused_with_130497(hooked: Emu) -> None:
    us = "15557654321"
    await hooked.add_template("promo", "MARKETING")
    await hooked.add_template("receipt", "UTILITY")
    await hooked.add_user(us)
    promo = await hooked.send(tpl("promo", "Sam"), us)
    receipt = await hooked.send(tpl("receipt", "Sam"), us)
    assert codes(await hooked.receiver.statuses(promo)) == [("failed", (130497,))]
    assert [s.status for s in await hooked.receiver.statuses(receipt)][-1] == "read"


# -- statuses and pricing ------------------------------------------------------------------
def _pmp(category: str, kind: str) -> Pricing:
    return Pricing(model="PMP", category=category, type=kind, billable=kind == "regular")


@pytest.mark.parametrize(
    ("opening", "content", "pricing"),
    [
        ({"text": "Hi"}, HELLO, _pmp("service", "free_customer_service")),
        ({"text": "Hi"}, tpl("receipt", "A"), _pmp("utility", "free_customer_service")),
        (None, tpl("receipt", "A"), _pmp("utility", "regular")),
        (None, tpl("promo", "A"), _pmp("marketing", "regular")),
        ({"text": "Hi"}, tpl("promo", "A"), _pmp("marketing", "regular")),
        (
            {"text": "Saw your ad", "referral": {"source_id": "AD1", "source_type": "ad"}},
            tpl("promo", "A"),
            _pmp("referral_conversion", "free_entry_point"),
        ),
    ],
    ids=[
        "service-in-window",
        "utility-in-window",
        "utility-outside-window",
        "marketing",
        "marketing-in-window",
        "after-ctwa-referral",
    ],
)
async def test_sent_delivered_read_carry_pmp_pricing(
    hooked: Emu, opening: dict[str, Any] | None, content: m.Content, pricing: Pricing
) -> None:
    await hooked.add_template("promo", "MARKETING")
    await hooked.add_template("receipt", "UTILITY")
    await hooked.add_user(ANA)
    if opening is not None:
        await hooked.user_says(ANA, **opening)
    message_id = await hooked.send(content, ANA, callback_data="campaign-42")
    statuses = await hooked.receiver.statuses(message_id)
    assert [s.status for s in statuses] == ["sent", "delivered", "read"]
    assert {s.pricing for s in statuses} == {pricing}
    assert {(s.recipient, s.account, s.callback_data) for s in statuses} == {
        (ANA, PNID, "campaign-42")
    }
    times = [s.timestamp for s in statuses]
    assert times[0] < times[1] < times[2]
    assert all(t.utcoffset() == timedelta(0) for t in times)


async def test_a_voice_message_that_is_listened_to_gets_played(hooked: Emu) -> None:
    await hooked.add_user(ANA, read=1.0)
    await hooked.user_says(ANA, text="Send me the audio guide")
    voice = m.Media(kind="audio", link="https://example.com/guide.ogg")
    message_id = await hooked.send(voice, ANA)
    statuses = await hooked.receiver.statuses(
        message_id, until=frozenset({"sent", "delivered", "read", "played"})
    )
    assert [s.status for s in statuses] == ["sent", "delivered", "read", "played"]


# -- simulated people write to the business ------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"type": "text", "text": "Hi there"}, {"kind": "text", "text": "Hi there"}),
        (
            {"type": "button", "text": "Yes please", "payload": "YES"},
            {"kind": "button", "text": "Yes please", "payload": "YES"},
        ),
        (
            {"type": "button_reply", "text": "Confirm", "payload": "ok"},
            {"kind": "interactive/button_reply", "text": "Confirm", "payload": "ok"},
        ),
        (
            {"type": "list_reply", "text": "09:00", "payload": "slot-9"},
            {"kind": "interactive/list_reply", "text": "09:00", "payload": "slot-9"},
        ),
        (
            {"type": "location", "latitude": -23.5, "longitude": -46.6, "name": "Home"},
            {
                "kind": "location",
                "location": {
                    "latitude": -23.5,
                    "longitude": -46.6,
                    "name": "Home",
                    "address": None,
                    "url": None,
                },
            },
        ),
        (
            {"type": "text", "text": "About that", "context": "wamid.EARLIER"},
            {"kind": "text", "reply_to": "wamid.EARLIER"},
        ),
    ],
    ids=["text", "button", "button_reply", "list_reply", "location", "reply"],
)
async def test_user_messages_arrive_as_signed_webhooks_we_parse(
    hooked: Emu, spec: dict[str, Any], expected: dict[str, Any]
) -> None:
    await hooked.add_user(ANA, name="Ana Lima")
    message_id = await hooked.user_says(ANA, **spec)
    message = await hooked.receiver.inbound(message_id)
    assert (message.account, message.sender.address, message.sender.name) == (
        PNID,
        ANA,
        "Ana Lima",
    )
    for name, value in expected.items():
        assert getattr(message, name) == value, name
    assert abs(message.timestamp - datetime.now(UTC)) < timedelta(seconds=5)
    call = hooked.receiver.calls[0]
    assert call.signature == signature.signature(SECRET, call.body)
    assert not signature.valid("another-secret", call.body, call.signature)
    payload = json.loads(call.body)
    assert payload["object"] == "whatsapp_business_account"
    assert payload["entry"][0]["id"] == WABA
    assert payload["entry"][0]["changes"][0]["field"] == "messages"


async def test_referral_carries_a_ctwa_click_id(hooked: Emu) -> None:
    await hooked.add_user(ANA)
    message_id = await hooked.user_says(
        ANA, text="Saw your ad", referral={"source_id": "AD1", "source_url": "https://fb.me/a"}
    )
    message = await hooked.receiver.inbound(message_id)
    assert message.referral is not None
    assert message.referral["source_id"] == "AD1"
    assert message.referral["source_type"] == "ad"
    assert message.referral["ctwa_clid"]


async def test_inbound_image_media_is_retrievable_with_the_token() -> None:
    # Served on a real port: the client's download_media follows the emulator's media URL.
    async with emulator(webhooks=Receiver(), served=True) as hooked:
        await hooked.add_user(ANA)
        message_id = await hooked.user_says(ANA, type="image", text="jpeg-bytes")
        message = await hooked.receiver.inbound(message_id)
        assert message.kind == "image"
        assert message.media is not None
        assert message.media.mime_type == "image/jpeg"
        assert message.media.sha256 == hashlib.sha256(b"jpeg-bytes").hexdigest()
        media_path = f"/{VERSION}/{message.media.media_id}"

        info = await hooked.http.get(media_path, headers=AUTH)
        assert info.status_code == 200
        assert info.json() | {"url": None} == {
            "messaging_product": "whatsapp",
            "url": None,
            "mime_type": "image/jpeg",
            "sha256": message.media.sha256,
            "file_size": len(b"jpeg-bytes"),
            "id": message.media.media_id,
        }
        url = info.json()["url"]
        download = await hooked.http.get(url, headers=AUTH)
        assert (download.status_code, download.content) == (200, b"jpeg-bytes")
        assert download.headers["content-type"].startswith("image/jpeg")
        assert (await hooked.http.get(media_path)).status_code == 401
        assert (await hooked.http.get(url)).status_code == 401
        assert await hooked.client().download_media(str(message.media.media_id)) == (
            b"jpeg-bytes",
            "image/jpeg",
        )


# -- webhook delivery ----------------------------------------------------------------------
async def test_failed_webhook_deliveries_are_retried_until_accepted() -> None:
    receiver = Receiver(answers=[500, 500])
    async with emulator(webhooks=receiver) as emu:
        await emu.add_user(ANA)
        message_id = await emu.user_says(ANA, text="Anyone there?")
        message = await receiver.inbound(message_id)
        assert message.text == "Anyone there?"
        assert [c.answered for c in receiver.calls] == [500, 500, 200]
        assert len({c.body for c in receiver.calls}) == 1
        assert all(signature.valid(SECRET, c.body, c.signature) for c in receiver.calls)
        hooks = emu.runtime.hooks
        # The receiver records a delivery before its 200 reaches the sender: let it land.
        for _ in range(500):  # up to 5 s
            if hooks.delivered:
                break
            await asyncio.sleep(0.01)
        assert (hooks.delivered, hooks.failed_attempts, hooks.pending) == (1, 2, 0)


async def test_number_quality_and_limit_changes_emit_signed_updates(hooked: Emu) -> None:
    async def change(**settings: Any) -> Any:
        return (await hooked.control(f"/numbers/{PNID}", settings))["events"]

    assert await change(quality="RED") == ["FLAGGED"]
    assert await change(tier=1000) == ["UPGRADE"]
    assert await change(quality="GREEN") == ["UNFLAGGED"]
    assert await change(quality="GREEN") == []  # no change, no webhook
    assert await change(quality="RED", tier=250) == ["FLAGGED", "DOWNGRADE"]  # one per change
    events = await hooked.receiver.wait_for(lambda ev: len(ev) >= 5)
    assert events[:3] == [
        NumberQualityChange(WABA, DISPLAY, "FLAGGED", "TIER_250", "TIER_250"),
        NumberQualityChange(WABA, DISPLAY, "UPGRADE", "TIER_1K", "TIER_250"),
        NumberQualityChange(WABA, DISPLAY, "UNFLAGGED", "TIER_1K", "TIER_1K"),
    ]
    # The last two are posted together, so they may arrive in either order.
    assert sorted(events[3:], key=lambda e: str(getattr(e, "event", ""))) == [
        NumberQualityChange(WABA, DISPLAY, "DOWNGRADE", "TIER_250", "TIER_1K"),
        NumberQualityChange(WABA, DISPLAY, "FLAGGED", "TIER_250", "TIER_1K"),
    ]
    number = await hooked.http.get(f"/{VERSION}/{PNID}", headers=AUTH)
    assert number.json()["quality_rating"] == "RED"
    assert number.json()["messaging_limit_tier"] == "TIER_250"
    assert hooked.runtime.hooks.pending == 0


# -- faults and the request log ------------------------------------------------------------
async def test_error_rate_fault_answers_500_with_131000(served: Emu) -> None:
    await served.add_user(ANA)
    await served.user_says(ANA, text="Hi")
    await served.control("/faults", {"error_rate": 1.0})
    r = await served.post(HELLO, ANA)
    assert (r.status_code, graph_code(r)) == (500, 131000)
    outcome = await served.client().send(render(HELLO, ANA))
    assert (outcome.error_class, outcome.http_status) == (ErrorClass.RETRY, 500)
    await served.control("/faults", {"error_rate": 0.0})
    assert (await served.post(HELLO, ANA)).status_code == 200
    assert len(served.runtime.state.users[ANA].inbox) == 1


async def test_throttle_burst_fault_throttles_the_next_sends_only(served: Emu) -> None:
    await served.add_user(ANA)
    await served.user_says(ANA, text="Hi")
    await served.control("/faults", {"throttle_burst": 2})
    client = served.client()
    outcomes = [await client.send(render(HELLO, ANA)) for _ in range(3)]
    assert [(o.error.code if o.error else None) for o in outcomes] == [130429, 130429, None]
    assert [o.error_class for o in outcomes] == [ErrorClass.THROTTLE, ErrorClass.THROTTLE, None]
    assert outcomes[2].ok
    assert [o.http_status for o in outcomes] == [429, 429, 200]


async def test_request_log_records_every_call_with_result_and_code(emu: Emu) -> None:
    await emu.add_user(ANA)
    await emu.user_says(ANA, text="Hi")
    await emu.http.post(MESSAGES, json=render(HELLO, ANA))  # no token
    accepted = await emu.send(HELLO, ANA, callback_data="cb-1")
    await emu.post(tpl("missing", "x"), ANA)
    await emu.http.post(MESSAGES, json=render(m.MarkRead(message_id="wamid.IN"), ANA), headers=AUTH)
    log = (await emu.http.get("/_emulator/requests")).json()
    assert [(r["method"], r["path"], r["to"], r["type"], r["result"], r["code"]) for r in log] == [
        ("POST", MESSAGES, None, None, "error", 190),
        ("POST", MESSAGES, ANA, "text", "accepted", None),
        ("POST", MESSAGES, ANA, "template", "error", 132001),
        ("POST", MESSAGES, None, "mark_read", "accepted", None),
    ]
    assert log[1]["message_id"] == accepted
    assert log[1]["callback_data"] == "cb-1"
    assert all(datetime.fromisoformat(r["at"]).tzinfo is not None for r in log)
    stats = (await emu.http.get("/_emulator/stats")).json()
    assert (stats["requests"], stats["accepted"], stats["errors"]) == (4, 2, 2)


# -- reproducibility -----------------------------------------------------------------------
async def _scenario(seed: int) -> list[Any]:
    """Sends under random faults and random readers; returns everything observable."""
    async with emulator(seed) as emu:
        await emu.add_template("promo", "MARKETING")
        for user in (ANA, BEN, CAROL):
            await emu.add_user(user, read=0.5, reply=0.5)
        opening = await emu.user_says(ANA, text="Hi", referral={"source_id": "AD"})
        await emu.control("/faults", {"error_rate": 0.5})
        seen: list[Any] = [opening]
        for i in range(12):
            r = await emu.post(tpl("promo", str(i)), (ANA, BEN, CAROL)[i % 3])
            seen.append((r.status_code, r.json()))
        state = emu.runtime.state
        seen.append(
            [(u.wa_id, u.last_inbound_at is not None, len(u.inbox)) for u in state.users.values()]
        )
        return seen


async def test_same_seed_same_behaviour() -> None:
    first, again, other = await _scenario(11), await _scenario(11), await _scenario(12)
    assert first == again
    assert first != other
    outcomes = [item[0] for item in first[1:13]]
    assert set(outcomes) == {200, 500}, "the fault must have hit some sends and spared others"
