"""The emulator speaks the Messenger Platform: `POST /{v}/me/messages` with a Page token, the
24-hour / 7-day-after-an-ad / HUMAN_AGENT windows, notification-messages tokens, shape limits,
throughput and the Graph error envelope; simulated people post signed webhooks.

As in test_emulator.py, the emulator runs in-process (ASGI transport, lifespan run here) and
posts its webhooks over real HTTP to a small receiver served on a local port, which answers the
verification handshake and records every delivery with its signature. The Instagram tests
reuse this harness."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse

from threadline.emulator.app import create_emulator

PAGE = "1234567890"
IG = "17841400000000001"
TOKEN = "page-token"
SECRET = "page-app-secret"
APP_ID = "1517776481860111"
VERIFY = "verify-me"
SEND = "/v21.0/me/messages"
ANA = "5678000000000001"
BEN = "5678000000000002"
HOUR = 3600.0
DAY = 24 * HOUR

Item = dict[str, Any]


# -- a webhook receiver on a real port -----------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def signed(body: bytes, header: str | None) -> bool:
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return header is not None and hmac.compare_digest(expected, header)


@dataclass
class Receiver:
    """Answers Meta's verification handshake; records every webhook POST."""

    posts: list[tuple[bytes, str | None]] = field(default_factory=list)
    verified: int = 0

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/hook")
        async def verify(request: Request) -> Response:
            q = request.query_params
            if q.get("hub.mode") != "subscribe" or q.get("hub.verify_token") != VERIFY:
                return Response(status_code=403)
            self.verified += 1
            return PlainTextResponse(q.get("hub.challenge", ""))

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            self.posts.append((await request.body(), request.headers.get("x-hub-signature-256")))
            return Response(status_code=200)

        return app

    def payloads(self) -> list[dict[str, Any]]:
        """Every delivery, signature-checked, in arrival order."""
        for body, header in self.posts:
            assert signed(body, header), (body, header)
        return [json.loads(body) for body, _ in self.posts]

    def items(self) -> list[Item]:
        return [i for p in self.payloads() for e in p["entry"] for i in e["messaging"]]

    async def wait_for(
        self, match: Callable[[Item], bool], count: int = 1, within: float = 5.0
    ) -> list[Item]:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            found = [i for i in self.items() if match(i)]
            if len(found) >= count:
                return found
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no webhook matched in {within} s; got {self.items()}")
            await asyncio.sleep(0.02)


# -- the emulator under test ---------------------------------------------------------------
@dataclass
class Meta:
    http: httpx.AsyncClient
    receiver: Receiver
    account: str

    async def control(self, path: str, body: Any = None, status: int = 200) -> Any:
        r = await self.http.post(f"/_emulator{path}", json=body)
        assert r.status_code == status, r.text
        return r.json()

    async def get(self, path: str) -> Any:
        r = await self.http.get(f"/_emulator{path}")
        assert r.status_code == 200, r.text
        return r.json()

    async def add_person(self, person: str, **settings: Any) -> None:
        await self.control(f"/pages/{self.account}/people", {"id": person, **settings})

    async def person(self, person: str, action: str, body: Any = None) -> dict[str, Any]:
        """A simulated person acts; the answer is the webhook body posted."""
        path = f"/pages/{self.account}/people/{person}/{action}"
        payload: dict[str, Any] = await self.control(path, body if body is not None else {})
        return payload

    async def says(self, person: str, text: str = "Hi", **spec: Any) -> dict[str, Any]:
        return await self.person(person, "send", {"text": text, **spec})

    async def advance(self, seconds: float) -> None:
        await self.control("/clock/advance", {"seconds": seconds})

    async def send(
        self, body: dict[str, Any], *, token: str = TOKEN, header: bool = False
    ) -> httpx.Response:
        if header:
            auth = {"Authorization": f"Bearer {token}"}
            return await self.http.post(SEND, json=body, headers=auth)
        return await self.http.post(SEND, json=body, params={"access_token": token})

    async def reply(
        self, person: str, text: str = "Hello", messaging_type: str = "RESPONSE", **extra: Any
    ) -> httpx.Response:
        message = {"text": text, **extra.pop("message", {})}
        body = {"recipient": {"id": person}, "messaging_type": messaging_type, "message": message}
        return await self.send({**body, **extra})

    async def inbox(self, person: str) -> Any:
        return await self.get(f"/pages/{self.account}/people/{person}/inbox")


@asynccontextmanager
async def meta_emulator(kind: str = "messenger", **account: Any) -> AsyncIterator[Meta]:
    app = create_emulator(7)
    receiver = Receiver()
    async with AsyncExitStack() as stack:
        callback = await stack.enter_async_context(serving(receiver.app())) + "/hook"
        await stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx.ASGITransport(app=app)
        http = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://emulator.test", timeout=10)
        )
        account_id = PAGE if kind == "messenger" else IG
        meta = Meta(http, receiver, account_id)
        spec = {
            "kind": kind,
            "id": account_id,
            "page_id": PAGE if kind == "instagram" else None,
            "access_token": TOKEN,
            "app_secret": SECRET,
            "app_id": APP_ID,
            "callback_url": callback,
            "verify_token": VERIFY,
            **account,
        }
        answer = await meta.control("/pages", spec)
        assert answer["verified"] is True and receiver.verified == 1
        yield meta


def refusal(response: httpx.Response) -> tuple[int, int | None]:
    """The Graph error envelope, checked; (code, error_subcode)."""
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "OAuthException"
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fbtrace_id"], str) and error["fbtrace_id"]
    return error["code"], error.get("error_subcode")


def covers(ours: Any, fixture: Any, ignore: frozenset[str] = frozenset()) -> bool:
    """Every key of the captured payload is in ours, recursively, with the same JSON type."""
    if isinstance(fixture, dict):
        return isinstance(ours, dict) and all(
            k in ours and covers(ours[k], v, ignore) for k, v in fixture.items() if k not in ignore
        )
    if isinstance(fixture, list):
        return isinstance(ours, list) and (not fixture or covers(ours[0], fixture[0], ignore))
    return type(ours) is type(fixture) or (fixture is None) or (ours is None)


# Captured payloads beside the checkout (../shared/fixtures), read at test time, never copied.
# Resolved here rather than through tests/conftest.py so these tests need no product import.
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"


def fixture(channel: str, name: str) -> Any:
    path = FIXTURES / channel / f"courier__{name}.json"
    if not path.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing; CI must run beside ../shared")
        pytest.skip(f"{path} is not present beside the checkout")
    return json.loads(path.read_text())


@pytest.fixture
async def messenger() -> AsyncIterator[Meta]:
    async with meta_emulator("messenger") as m:
        await m.add_person(ANA, name="Ana")
        yield m


def echo_of(mid: str) -> Callable[[Item], bool]:
    return lambda i: i.get("message", {}).get("is_echo") is True and i["message"]["mid"] == mid


# -- people write: signed webhooks in the Page's shape -------------------------------------
async def test_a_person_writes_and_the_page_gets_a_signed_messages_webhook(
    messenger: Meta,
) -> None:
    body = await messenger.says(ANA, "Hello World")
    (item,) = await messenger.receiver.wait_for(lambda i: "message" in i)
    assert messenger.receiver.payloads() == [body]  # exactly what the control API returned
    assert body["object"] == "page" and body["entry"][0]["id"] == PAGE
    assert item["sender"] == {"id": ANA} and item["recipient"] == {"id": PAGE}
    assert item["message"]["text"] == "Hello World" and item["message"]["mid"].startswith("m_")
    assert item["timestamp"] > 10**12 and body["entry"][0]["time"] > 10**12  # milliseconds
    assert covers(body, fixture("messenger", "hello_msg"))


async def test_people_events_match_the_captured_shapes(messenger: Meta) -> None:
    image = {"type": "image", "url": "https://image-url/foo.png"}
    assert covers(await messenger.says(ANA, attachment=image), fixture("messenger", "attachment"))
    referral = {"source": "ADS", "ref": "postback ref", "ad_id": "ad id"}
    tap = {"title": "postback title", "payload": "get_started", "referral": referral}
    assert covers(
        await messenger.person(ANA, "postback", tap), fixture("messenger", "postback_referral")
    )
    arrived = await messenger.person(
        ANA, "referral", {"source": "SHORTLINK", "ref": "x", "ad_id": "1"}
    )
    # courier's capture adds sender.user_ref (chat plugin); an m.me referral has none.
    assert covers(arrived, fixture("messenger", "referral"), ignore=frozenset({"user_ref"}))
    quick = await messenger.says(ANA, "Red", quick_reply="RED")
    assert quick["entry"][0]["messaging"][0]["message"]["quick_reply"] == {"payload": "RED"}


# -- the 24-hour window --------------------------------------------------------------------
async def test_a_reply_within_24_hours_is_accepted(messenger: Meta) -> None:
    await messenger.says(ANA)
    await messenger.advance(23 * HOUR)
    r = await messenger.reply(ANA)
    assert r.status_code == 200, r.text
    assert r.json()["recipient_id"] == ANA and r.json()["message_id"].startswith("m_")


async def test_after_25_hours_a_reply_is_refused_with_10_2018278(messenger: Meta) -> None:
    await messenger.says(ANA)
    await messenger.advance(25 * HOUR)
    for messaging_type in ("RESPONSE", "UPDATE"):
        assert refusal(await messenger.reply(ANA, messaging_type=messaging_type)) == (10, 2018278)
    assert await messenger.inbox(ANA) == []


async def test_human_agent_is_allowed_on_day_6_and_refused_on_day_8(messenger: Meta) -> None:
    await messenger.says(ANA)
    await messenger.advance(6 * DAY)
    agent = {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    assert (await messenger.reply(ANA, **agent)).status_code == 200
    await messenger.advance(2 * DAY)
    assert refusal(await messenger.reply(ANA, **agent)) == (10, 2018278)


@pytest.mark.parametrize("tag", ["CONFIRMED_EVENT_UPDATE", "ACCOUNT_UPDATE", "NEWS", None])
async def test_tags_other_than_human_agent_are_refused_with_100(
    messenger: Meta, tag: str | None
) -> None:
    await messenger.says(ANA)
    assert refusal(await messenger.reply(ANA, messaging_type="MESSAGE_TAG", tag=tag)) == (
        100,
        None,
    )


async def test_an_ad_referral_opens_seven_days_for_free_form(messenger: Meta) -> None:
    await messenger.add_person(BEN)
    ad = {"source": "ADS", "ad_id": "6045246247433", "ref": "spring"}
    await messenger.says(ANA, "Is this in stock?", referral=ad)
    await messenger.person(BEN, "referral", {"source": "SHORTLINK", "ref": "mme"})
    await messenger.advance(6 * DAY)
    assert (await messenger.reply(ANA)).status_code == 200
    assert refusal(await messenger.reply(BEN)) == (10, 2018278)  # a link: 24 h only
    await messenger.advance(1 * DAY + HOUR)
    assert refusal(await messenger.reply(ANA)) == (10, 2018278)


async def test_a_person_who_never_wrote_is_outside_the_window(messenger: Meta) -> None:
    assert refusal(await messenger.reply(ANA)) == (10, 2018278)


# -- notification-messages tokens ----------------------------------------------------------
async def test_a_subscription_token_sends_outside_the_window_until_optout(
    messenger: Meta,
) -> None:
    body = await messenger.person(ANA, "optin", {"title": "Weekly deals", "frequency": "WEEKLY"})
    optin = body["entry"][0]["messaging"][0]["optin"]
    assert covers(body, fixture("messenger", "notification_messages_optin"))
    assert optin["type"] == "notification_messages" and optin["title"] == "Weekly deals"
    assert optin["notification_messages_frequency"] == "WEEKLY"
    token = optin["notification_messages_token"]
    await messenger.advance(3 * DAY)
    by_token = {"recipient": {"notification_messages_token": token}, "message": {"text": "Deal"}}
    r = await messenger.send({**by_token, "messaging_type": "UPDATE"})
    assert r.status_code == 200, r.text
    assert "recipient_id" not in r.json() and r.json()["message_id"].startswith("m_")
    assert (await messenger.send(by_token)).status_code == 200  # no messaging_type needed
    assert refusal(await messenger.reply(ANA, messaging_type="UPDATE")) == (10, 2018278)

    stop = await messenger.person(ANA, "optout")
    assert stop["entry"][0]["messaging"][0]["optin"]["notification_messages_status"] == (
        "STOP_NOTIFICATIONS"
    )
    assert covers(stop, fixture("messenger", "notification_messages_optout"))
    assert refusal(await messenger.send(by_token)) == (100, None)
    assert [e["via"] for e in await messenger.inbox(ANA)] == ["notification_messages_token"] * 2


async def test_an_unknown_token_is_refused_with_100(messenger: Meta) -> None:
    body = {"recipient": {"notification_messages_token": "999"}, "message": {"text": "Deal"}}
    assert refusal(await messenger.send(body)) == (100, None)


# -- shapes --------------------------------------------------------------------------------
def _quick(n: int, title: str = "Red") -> dict[str, Any]:
    replies = [{"content_type": "text", "title": title, "payload": f"P{i}"} for i in range(n)]
    return {"text": "Pick one", "quick_replies": replies}


def _buttons(n: int, text: str = "Pick one") -> dict[str, Any]:
    buttons = [{"type": "postback", "title": f"B{i}", "payload": f"P{i}"} for i in range(n)]
    payload = {"template_type": "button", "text": text, "buttons": buttons}
    return {"attachment": {"type": "template", "payload": payload}}


def _generic(n: int) -> dict[str, Any]:
    elements = [{"title": f"Item {i}", "subtitle": "Nice"} for i in range(n)]
    payload = {"template_type": "generic", "elements": elements}
    return {"attachment": {"type": "template", "payload": payload}}


FILE = {"attachment": {"type": "file", "payload": {"url": "https://x/y.pdf"}}}


@pytest.mark.parametrize(
    ("message", "accepted"),
    [
        ({"text": "x" * 2000}, True),
        ({"text": "x" * 2001}, False),
        (_quick(13), True),
        (_quick(14), False),
        (_quick(1, title="x" * 21), False),
        (_buttons(3), True),
        (_buttons(4), False),
        (_buttons(0), False),
        (_buttons(1, text="x" * 641), False),
        (_generic(10), True),
        (_generic(11), False),
        ({"text": "Hi", **FILE}, False),  # text or attachment, not both
        (FILE, True),
    ],
)
async def test_shape_limits(messenger: Meta, message: dict[str, Any], accepted: bool) -> None:
    await messenger.says(ANA)
    body = {"recipient": {"id": ANA}, "messaging_type": "RESPONSE", "message": message}
    r = await messenger.send(body)
    if accepted:
        assert r.status_code == 200, r.text
    else:
        assert refusal(r) == (100, None)


async def test_a_message_without_messaging_type_is_refused_but_actions_need_none(
    messenger: Meta,
) -> None:
    await messenger.says(ANA)
    r = await messenger.send({"recipient": {"id": ANA}, "message": {"text": "Hi"}})
    assert refusal(r) == (100, None)
    for action in ("typing_on", "typing_off", "mark_seen"):
        r = await messenger.send({"recipient": {"id": ANA}, "sender_action": action})
        assert r.status_code == 200 and r.json() == {"recipient_id": ANA}
    react = {"message_id": "m_x", "reaction": "love"}
    r = await messenger.send({"recipient": {"id": ANA}, "sender_action": "react", "payload": react})
    assert refusal(r) == (100, None)  # Messenger's Send API does not react
    actions = [e.get("sender_action") for e in await messenger.inbox(ANA)]
    assert actions == ["typing_on", "typing_off", "mark_seen"]


# -- who may be addressed, and how fast -----------------------------------------------------
async def test_unknown_token_is_190_and_unknown_recipient_is_100_2018001(messenger: Meta) -> None:
    await messenger.says(ANA)
    body = {"recipient": {"id": ANA}, "messaging_type": "RESPONSE", "message": {"text": "Hi"}}
    assert refusal(await messenger.send(body, token="wrong")) == (190, None)
    assert (await messenger.send(body, header=True)).status_code == 200  # Bearer works too
    stranger = {**body, "recipient": {"id": "999"}}
    assert refusal(await messenger.send(stranger)) == (100, 2018001)


async def test_a_person_who_turned_messages_off_gets_551(messenger: Meta) -> None:
    await messenger.says(ANA)
    await messenger.control(f"/pages/{PAGE}/people/{ANA}", {"accepts_messages": False})
    assert refusal(await messenger.reply(ANA)) == (551, 1545041)


async def test_more_than_mps_sends_in_a_second_get_613() -> None:
    async with meta_emulator("messenger", mps=5) as m:
        await m.add_person(ANA)
        await m.says(ANA)
        answers = [await m.reply(ANA, f"n{i}") for i in range(6)]
    assert [a.status_code for a in answers[:5]] == [200] * 5
    assert refusal(answers[5]) == (613, None)


# -- what follows an accepted send ----------------------------------------------------------
async def test_echo_carries_metadata_and_delivery_and_read_watermarks_follow(
    messenger: Meta,
) -> None:
    await messenger.says(ANA)
    r = await messenger.reply(ANA, "Your order shipped", message={"metadata": "order:42"})
    mid = r.json()["message_id"]
    (echo,) = await messenger.receiver.wait_for(echo_of(mid))
    assert echo["sender"] == {"id": PAGE} and echo["recipient"] == {"id": ANA}
    assert echo["message"]["metadata"] == "order:42"
    assert echo["message"]["app_id"] == int(APP_ID)
    assert echo["message"]["text"] == "Your order shipped"
    (delivery,) = await messenger.receiver.wait_for(lambda i: "delivery" in i)
    (read,) = await messenger.receiver.wait_for(lambda i: "read" in i)
    assert delivery["delivery"] == {"mids": [mid], "watermark": echo["timestamp"]}
    assert read["read"] == {"watermark": echo["timestamp"]}
    assert delivery["sender"] == {"id": ANA} and read["recipient"] == {"id": PAGE}
    assert read["timestamp"] >= delivery["timestamp"] >= echo["timestamp"]
    payloads = messenger.receiver.payloads()
    assert any(covers(p, fixture("messenger", "echo")) for p in payloads[1:])
    # `seq` in courier's capture is no longer sent by Meta.
    dlr = fixture("messenger", "dlr")
    assert any(covers(p, dlr, frozenset({"seq"})) for p in payloads if "delivery" in str(p))


async def test_a_person_who_does_not_read_sends_no_read() -> None:
    async with meta_emulator("messenger", read_delay=0.05) as m:
        await m.add_person(ANA, reads=False)
        await m.says(ANA)
        mid = (await m.reply(ANA)).json()["message_id"]
        await m.receiver.wait_for(lambda i: "delivery" in i)
        await asyncio.sleep(0.2)
        assert [i for i in m.receiver.items() if "read" in i] == []
        assert len(await m.receiver.wait_for(echo_of(mid))) == 1


async def test_inbox_and_request_log_show_exactly_what_was_sent(messenger: Meta) -> None:
    said = await messenger.says(ANA)
    their_mid = said["entry"][0]["messaging"][0]["message"]["mid"]
    quoted = {"reply_to": {"mid": their_mid}}
    await messenger.reply(ANA, "Sure", message=quoted)
    await messenger.reply(ANA, "Sure", message={"reply_to": {"mid": "m_unknown"}})
    (entry,) = await messenger.inbox(ANA)
    assert entry["messaging_type"] == "RESPONSE" and entry["tag"] is None
    assert entry["message"] == {"text": "Sure", **quoted} and entry["mid"].startswith("m_")
    log = await messenger.get(f"/pages/{PAGE}/requests")
    assert [(r["result"], r["code"]) for r in log] == [("accepted", None), ("error", 100)]
    assert log[0]["body"]["message"] == {"text": "Sure", **quoted}
    assert log[0]["auth"] == "query" and "access_token" not in log[0]["query"]
    assert log[0]["message_id"] == entry["mid"]
