"""The emulator plays a Twilio-compatible SMS provider (REST API 2010-04-01): form-encoded
sends with HTTP Basic auth, Twilio's refusal codes, segment counting, a per-number rate limit,
signed status callbacks, carrier behaviours per phone, default opt-out management, inbound
messages posted to the number's sms_url, and deliveries that wait for the emulator clock.

As in the other emulator tests, the emulator runs in-process (ASGI transport, its lifespan run
here) and posts over real HTTP to a small form receiver on a local port, which records every
POST with its X-Twilio-Signature. Signatures are recomputed here with hmac/hashlib, apart from
the emulator's code, and the emulator's signer is checked against Twilio's published vector."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from tests.channels.whatsapp.harness import serving
from threadline.emulator.app import create_emulator
from threadline.emulator.sms_hooks import signature

ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "sms-auth-token"
BUSINESS = "+15017122661"
ANA = "+5511987650001"
BEN = "+447700900123"
MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
FINAL = frozenset({"delivered", "undelivered", "failed"})
Form = dict[str, str]


# -- a form receiver on a real port --------------------------------------------------------
@dataclass
class Hit:
    path: str
    url: str
    pairs: list[tuple[str, str]]
    signature: str | None

    @property
    def form(self) -> Form:
        return dict(self.pairs)


@dataclass
class FormReceiver:
    """Records every form POST; answers TwiML with the statuses in `answers` (then 200)."""

    answers: list[int] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/{path:path}")
        async def hook(path: str, request: Request) -> Response:
            pairs = parse_qsl((await request.body()).decode(), keep_blank_values=True)
            header = request.headers.get("x-twilio-signature")
            self.hits.append(Hit("/" + path, str(request.url), pairs, header))
            status = self.answers.pop(0) if self.answers else 200
            return Response("<Response/>", status_code=status, media_type="text/xml")

        return app

    async def wait_for(
        self, match: Callable[[Hit], bool], done: Callable[[list[Hit]], bool], within: float = 5.0
    ) -> list[Hit]:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            found = [h for h in self.hits if match(h)]
            if done(found):
                return found
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no callback matched in {within} s; got {self.hits}")
            await asyncio.sleep(0.02)


def twilio_signature(url: str, pairs: list[tuple[str, str]], token: str = TOKEN) -> str:
    """Recomputed here: base64(HMAC-SHA1(token, URL + each key and value, sorted by key))."""
    text = url + "".join(key + value for key, value in sorted(pairs))
    return base64.b64encode(hmac.new(token.encode(), text.encode(), hashlib.sha1).digest()).decode()


def assert_signed(hit: Hit, url: str) -> None:
    assert hit.url == url  # the full URL, query included, is what was signed
    assert hit.signature == twilio_signature(url, hit.pairs), hit


# -- the emulator under test ---------------------------------------------------------------
@dataclass
class Sms:
    app: FastAPI
    http: httpx.AsyncClient
    receiver: FormReceiver
    base: str  # the receiver's URL

    async def control(self, path: str, body: dict[str, Any]) -> Any:
        r = await self.http.post(f"/_emulator/sms{path}", json=body)
        assert r.status_code == 200, r.text
        return r.json()

    async def look(self, path: str) -> Any:
        r = await self.http.get(path)
        assert r.status_code == 200, r.text
        return r.json()

    async def post(self, auth: tuple[str, str] | None = (ACCOUNT, TOKEN), **form: Any) -> Any:
        return await self.http.post(MESSAGES, data=form, auth=auth or httpx.USE_CLIENT_DEFAULT)

    async def send(self, to: str = ANA, body: str = "Hello", **form: Any) -> str:
        r = await self.post(To=to, From=BUSINESS, Body=body, **form)
        assert r.status_code == 201, r.text
        sid: str = r.json()["sid"]
        return sid

    async def person(self, phone: str, **behaviour: Any) -> None:
        await self.control(f"/people/{phone}", behaviour)

    async def texts(self, phone: str, body: str, **extra: Any) -> dict[str, Any]:
        answer: dict[str, Any] = await self.control(
            f"/people/{phone}/send", {"to": BUSINESS, "body": body, **extra}
        )
        return answer

    async def statuses(self, sid: str, count: int | None = None) -> list[Hit]:
        """Status callbacks of one message, once it reached a final status (or `count`)."""

        def done(hits: list[Hit]) -> bool:
            if count is not None:
                return len(hits) >= count
            return any(h.form["MessageStatus"] in FINAL for h in hits)

        return await self.receiver.wait_for(
            lambda h: h.path.startswith("/status") and h.form.get("MessageSid") == sid, done
        )

    async def logged(self, sid: str) -> dict[str, Any]:
        found: dict[str, Any] = next(
            m for m in await self.look("/_emulator/sms/messages") if m["sid"] == sid
        )
        return found

    async def inbox(self, phone: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = await self.look(f"/_emulator/sms/people/{phone}/inbox")
        return items


@asynccontextmanager
async def sms_emulator(**number: Any) -> AsyncIterator[Sms]:
    app = create_emulator(seed=3)
    receiver = FormReceiver()
    async with AsyncExitStack() as stack:
        base = await stack.enter_async_context(serving(receiver.app()))
        # ASGITransport does not run the lifespan (which runs the SMS callback sender).
        await stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx.ASGITransport(app=app)
        http = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://emulator.test", timeout=10)
        )
        sms = Sms(app, http, receiver, base)
        await sms.control("/accounts", {"account_sid": ACCOUNT, "auth_token": TOKEN})
        spec = {"account_sid": ACCOUNT, "number": BUSINESS, "sms_url": f"{base}/sms", **number}
        await sms.control("/numbers", spec)
        yield sms


@pytest.fixture
async def sms() -> AsyncIterator[Sms]:
    async with sms_emulator() as s:
        yield s


def refusal(response: httpx.Response, status: int = 400) -> int:
    """Twilio's error envelope, checked; the code."""
    assert response.status_code == status, response.text
    error = response.json()
    assert set(error) == {"code", "message", "more_info", "status"}
    assert error["status"] == status and error["message"]
    assert error["more_info"] == f"https://www.twilio.com/docs/errors/{error['code']}"
    code: int = error["code"]
    return code


def outcome(hits: list[Hit]) -> list[tuple[str, str | None]]:
    return [(h.form["MessageStatus"], h.form.get("ErrorCode")) for h in hits]


# -- the signature ---------------------------------------------------------------------------
def test_the_signer_reproduces_twilios_published_vector() -> None:
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert signature("12345", url, params.items()) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


# -- sends ------------------------------------------------------------------------------------
async def test_a_send_answers_201_with_the_queued_message(sms: Sms) -> None:
    r = await sms.post(To=ANA, From=BUSINESS, Body="Hello Ana")
    assert r.status_code == 201, r.text
    message = r.json()
    sid = message["sid"]
    assert re.fullmatch(r"SM[0-9a-f]{32}", sid)
    assert {k: message[k] for k in ("account_sid", "to", "from", "body", "status")} == {
        "account_sid": ACCOUNT,
        "to": ANA,
        "from": BUSINESS,
        "body": "Hello Ana",
        "status": "queued",
    }
    assert (message["num_segments"], message["num_media"]) == ("1", "0")
    assert message["direction"] == "outbound-api"
    assert parsedate_to_datetime(message["date_created"]).utcoffset() is not None
    assert (message["price"], message["price_unit"]) == (None, "USD")
    assert (message["error_code"], message["error_message"]) == (None, None)
    assert message["uri"] == f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}.json"
    fetched = await sms.http.get(message["uri"], auth=(ACCOUNT, TOKEN))
    assert fetched.status_code == 200 and fetched.json()["sid"] == sid
    missing = await sms.http.get(
        message["uri"].replace(sid, "SM" + "0" * 32), auth=(ACCOUNT, TOKEN)
    )
    assert refusal(missing, 404) == 20404


@pytest.mark.parametrize(
    ("body", "segments", "encoding"),
    [
        ("a" * 160, "1", "GSM-7"),
        ("a" * 161, "2", "GSM-7"),
        ("a" * 306, "2", "GSM-7"),
        ("a" * 307, "3", "GSM-7"),
        ("a" * 1600, "11", "GSM-7"),
        ("é" * 160, "1", "GSM-7"),  # in the GSM basic table
        ("{" * 80, "1", "GSM-7"),  # extension characters take two septets
        ("€" * 81, "2", "GSM-7"),
        ("a" * 152 + "€" + "a" * 152, "3", "GSM-7"),  # an escape pair is never split
        ("Açaí", "1", "UCS-2"),
        ("ã" * 70, "1", "UCS-2"),
        ("ã" * 71, "2", "UCS-2"),
        ("ã" * 134, "2", "UCS-2"),
        ("ã" * 135, "3", "UCS-2"),
        ("😀" * 35, "1", "UCS-2"),  # two UTF-16 units each
        ("😀" * 36, "2", "UCS-2"),
    ],
    ids=[
        "gsm-160",
        "gsm-161",
        "gsm-306",
        "gsm-307",
        "gsm-1600",
        "gsm-accented",
        "gsm-extension-80",
        "gsm-euro-81",
        "gsm-escape-not-split",
        "ucs2-short",
        "ucs2-70",
        "ucs2-71",
        "ucs2-134",
        "ucs2-135",
        "ucs2-emoji-35",
        "ucs2-emoji-36",
    ],
)
async def test_segments_are_counted_gsm7_or_ucs2(
    sms: Sms, body: str, segments: str, encoding: str
) -> None:
    r = await sms.post(To=ANA, From=BUSINESS, Body=body)
    assert r.status_code == 201, r.text
    assert r.json()["num_segments"] == segments
    logged = await sms.logged(r.json()["sid"])
    assert (logged["segments"], logged["encoding"]) == (int(segments), encoding)


@pytest.mark.parametrize(
    "auth",
    [None, (ACCOUNT, "wrong"), ("AC" + "f" * 32, TOKEN), (ACCOUNT, "")],
    ids=["missing", "wrong-token", "other-account", "empty-token"],
)
async def test_wrong_or_missing_auth_is_401_code_20003(
    sms: Sms, auth: tuple[str, str] | None
) -> None:
    r = await sms.post(auth=auth, To=ANA, From=BUSINESS, Body="Hello")
    assert r.status_code == 401
    assert r.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }
    assert await sms.inbox(ANA) == []


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"From": BUSINESS, "Body": "Hi"}, 21604),
        ({"To": "5511987650001", "From": BUSINESS, "Body": "Hi"}, 21211),
        ({"To": "+0123456789", "From": BUSINESS, "Body": "Hi"}, 21211),
        ({"To": ANA, "From": "+15550001111", "Body": "Hi"}, 21606),
        ({"To": ANA, "From": BUSINESS}, 21602),
        ({"To": ANA, "From": BUSINESS, "Body": ""}, 21602),
        ({"To": ANA, "From": BUSINESS, "Body": "x" * 1601}, 21617),
        ({"To": ANA, "From": BUSINESS, "MediaUrl": ["https://x.test/a.png"] * 11}, 21623),
    ],
    ids=[
        "no-to",
        "to-not-e164",
        "to-leading-zero",
        "unknown-from",
        "no-body-or-media",
        "empty-body",
        "body-too-long",
        "too-much-media",
    ],
)
async def test_invalid_sends_are_refused_with_twilios_codes(
    sms: Sms, form: dict[str, Any], code: int
) -> None:
    assert refusal(await sms.post(**form)) == code
    assert await sms.look("/_emulator/sms/messages") == []
    (logged,) = await sms.look("/_emulator/sms/requests")
    assert (logged["http_status"], logged["code"], logged["sid"]) == (400, code, None)


async def test_a_number_of_another_account_is_not_a_valid_from(sms: Sms) -> None:
    other, other_number = "AC" + "9" * 32, "+15017122699"
    await sms.control("/accounts", {"account_sid": other, "auth_token": "other-token"})
    await sms.control("/numbers", {"account_sid": other, "number": other_number})
    assert refusal(await sms.post(To=ANA, From=other_number, Body="Hi")) == 21606


async def test_media_only_send_is_accepted(sms: Sms) -> None:
    urls = ["https://cdn.test/a.png", "https://cdn.test/b.jpg"]
    r = await sms.post(To=ANA, From=BUSINESS, MediaUrl=urls)
    assert r.status_code == 201, r.text
    assert (r.json()["num_media"], r.json()["num_segments"]) == ("2", "1")


# -- throughput and faults ---------------------------------------------------------------------
async def test_over_the_numbers_rate_is_429_code_20429_until_the_clock_moves() -> None:
    async with sms_emulator(mps=2) as sms:
        await sms.send(body="one")
        await sms.send(body="two")
        r = await sms.post(To=ANA, From=BUSINESS, Body="three")
        assert refusal(r, 429) == 20429
        assert r.json()["message"] == "Too Many Requests"
        await sms.http.post("/_emulator/clock/advance", json={"seconds": 1})
        await sms.send(body="three, later")


async def test_sms_faults_are_apart_from_the_whatsapp_ones(sms: Sms) -> None:
    await sms.http.post("/_emulator/faults", json={"error_rate": 1.0})
    await sms.send(body="WhatsApp is down, SMS is not")
    await sms.control("/faults", {"throttle_burst": 1})
    assert refusal(await sms.post(To=ANA, From=BUSINESS, Body="x"), 429) == 20429
    await sms.send(body="the burst is over")
    await sms.control("/faults", {"error_rate": 1.0})
    assert refusal(await sms.post(To=ANA, From=BUSINESS, Body="x"), 500) == 20500


# -- status callbacks ----------------------------------------------------------------------------
async def test_status_callbacks_sent_then_delivered_arrive_signed(sms: Sms) -> None:
    url = f"{sms.base}/status?tenant=t1&channel=sms"
    sid = await sms.send(body="Your order shipped", StatusCallback=url)
    hits = await sms.statuses(sid)
    assert outcome(hits) == [("sent", None), ("delivered", None)]
    for hit in hits:
        assert_signed(hit, url)
        form = hit.form
        assert form["MessageSid"] == form["SmsSid"] == sid
        assert form["SmsStatus"] == form["MessageStatus"]
        assert (form["AccountSid"], form["From"], form["To"]) == (ACCOUNT, BUSINESS, ANA)
        assert form["ApiVersion"] == "2010-04-01"
        assert "ErrorCode" not in form
    tampered = [*hits[0].pairs[:-1], ("ApiVersion", "2099-01-01")]
    assert hits[0].signature != twilio_signature(url, tampered)
    logged = await sms.logged(sid)
    assert logged["status"] == "delivered"
    assert [c["status"] for c in logged["callbacks"]] == ["sent", "delivered"]
    assert {c["http_status"] for c in logged["callbacks"]} == {200}
    (received,) = await sms.inbox(ANA)
    assert (received["sid"], received["from"], received["body"]) == (
        sid,
        BUSINESS,
        "Your order shipped",
    )
    assert (received["status"], received["segments"], received["media"]) == ("delivered", 1, [])
    fetched = (await sms.http.get(f"{MESSAGES[:-5]}/{sid}.json", auth=(ACCOUNT, TOKEN))).json()
    assert fetched["status"] == "delivered" and fetched["date_sent"] is not None


async def test_a_number_s_default_status_callback_serves_sends_without_one() -> None:
    async with sms_emulator() as sms:
        url = f"{sms.base}/status-default"
        spec = {"account_sid": ACCOUNT, "number": BUSINESS, "status_callback": url}
        await sms.control("/numbers", spec)
        sid = await sms.send()
        hits = await sms.statuses(sid)
        assert outcome(hits) == [("sent", None), ("delivered", None)]
        assert_signed(hits[-1], url)


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ("unreachable", [("sent", None), ("undelivered", "30003")]),
        ("unknown", [("failed", "30005")]),
        ("landline", [("failed", "30006")]),
        ("filtered", [("sent", None), ("undelivered", "30007")]),
    ],
)
async def test_carrier_behaviour_of_the_recipient(
    sms: Sms, behaviour: str, expected: list[tuple[str, str | None]]
) -> None:
    await sms.person(ANA, behaviour=behaviour)
    url = f"{sms.base}/status"
    sid = await sms.send(StatusCallback=url)
    hits = await sms.statuses(sid)
    assert outcome(hits) == expected
    assert hits[-1].form["ErrorMessage"]
    assert_signed(hits[-1], url)
    logged = await sms.logged(sid)
    assert (logged["status"], str(logged["error_code"])) == expected[-1]
    assert await sms.inbox(ANA) == []


async def test_an_unregistered_10dlc_number_s_sends_fail_30034() -> None:
    async with sms_emulator(registered=False) as sms:
        sid = await sms.send(StatusCallback=f"{sms.base}/status")
        assert outcome(await sms.statuses(sid)) == [("failed", "30034")]
        assert await sms.inbox(ANA) == []


async def test_a_delayed_delivery_waits_for_the_emulator_clock(sms: Sms) -> None:
    await sms.person(ANA, delay_seconds=600)
    sid = await sms.send(StatusCallback=f"{sms.base}/status")
    assert outcome(await sms.statuses(sid, count=1)) == [("sent", None)]
    await asyncio.sleep(0.4)  # well past the usual delivery, in real time
    assert outcome(await sms.statuses(sid, count=1)) == [("sent", None)]
    assert (await sms.logged(sid))["status"] == "sent"
    assert await sms.inbox(ANA) == []
    await sms.http.post("/_emulator/clock/advance", json={"seconds": 600})
    assert outcome(await sms.statuses(sid)) == [("sent", None), ("delivered", None)]
    assert [m["sid"] for m in await sms.inbox(ANA)] == [sid]


async def test_a_message_never_delivered_stays_sent(sms: Sms) -> None:
    await sms.person(ANA, behaviour="never")
    sid = await sms.send(StatusCallback=f"{sms.base}/status")
    assert outcome(await sms.statuses(sid, count=1)) == [("sent", None)]
    await sms.http.post("/_emulator/clock/advance", json={"seconds": 86_400})
    await asyncio.sleep(0.4)
    assert outcome(await sms.statuses(sid, count=1)) == [("sent", None)]
    assert (await sms.logged(sid))["status"] == "sent"
    assert await sms.inbox(ANA) == []


# -- inbound -------------------------------------------------------------------------------------
async def test_a_person_texting_posts_the_signed_inbound_form(sms: Sms) -> None:
    media = ["https://media.test/cat.png", "https://media.test/menu.pdf"]
    answer = await sms.texts(BEN, "Hi there", media_urls=media)
    sid = answer["sid"]
    assert re.fullmatch(r"SM[0-9a-f]{32}", sid)
    assert (answer["http_status"], answer["response_body"]) == (200, "<Response/>")
    (hit,) = [h for h in sms.receiver.hits if h.path == "/sms"]
    assert_signed(hit, f"{sms.base}/sms")
    form = hit.form
    assert answer["params"] == form
    assert form["MessageSid"] == form["SmsSid"] == form["SmsMessageSid"] == sid
    assert (form["AccountSid"], form["From"], form["To"]) == (ACCOUNT, BEN, BUSINESS)
    assert (form["Body"], form["NumMedia"], form["NumSegments"]) == ("Hi there", "2", "1")
    assert (form["MediaUrl0"], form["MediaContentType0"]) == (media[0], "image/png")
    assert (form["MediaUrl1"], form["MediaContentType1"]) == (media[1], "application/pdf")
    assert (form["FromCountry"], form["ToCountry"]) == ("GB", "US")
    assert form["ApiVersion"] == "2010-04-01"
    assert "MessagingServiceSid" not in form and "OptOutType" not in form
    logged = await sms.logged(sid)
    assert (logged["direction"], logged["status"], logged["from"]) == ("inbound", "received", BEN)


async def test_the_control_answer_carries_threadline_s_http_status(sms: Sms) -> None:
    sms.receiver.answers.append(503)
    answer = await sms.texts(ANA, "Are you open?")
    assert answer["http_status"] == 503


async def test_keywords_are_plain_messages_without_opt_out_management(sms: Sms) -> None:
    answer = await sms.texts(ANA, "STOP")
    assert answer["opt_out_type"] is None and "OptOutType" not in answer["params"]
    assert await sms.inbox(ANA) == []
    await sms.send(body="Threadline answers STOP itself")


# -- opt-out management ------------------------------------------------------------------------
@pytest.mark.parametrize("word", ["STOP", "stopall", " Unsubscribe ", "cancel", "End", "QUIT"])
async def test_opt_out_management_stop_blocks_then_start_unblocks(word: str) -> None:
    async with sms_emulator(opt_out_management=True) as sms:
        answer = await sms.texts(ANA, word)
        assert answer["opt_out_type"] == "STOP" and answer["params"]["OptOutType"] == "STOP"
        assert answer["params"]["Body"] == word  # forwarded as the person wrote it
        (reply,) = await sms.inbox(ANA)
        assert reply["from"] == BUSINESS and reply["body"].startswith(
            "You have successfully been unsubscribed."
        )
        r = await sms.post(To=ANA, From=BUSINESS, Body="Still there?")
        assert refusal(r) == 21610
        assert r.json()["message"] == "Attempt to send to unsubscribed recipient"
        person = await sms.look(f"/_emulator/sms/people/{ANA}")
        assert person["unsubscribed_from"] == [BUSINESS]
        assert (await sms.texts(ANA, "Start"))["params"]["OptOutType"] == "START"
        assert "re-subscribed" in (await sms.inbox(ANA))[-1]["body"]
        await sms.send(body="Welcome back")


async def test_help_gets_the_provider_s_help_reply_and_other_text_passes() -> None:
    async with sms_emulator(opt_out_management=True) as sms:
        assert (await sms.texts(ANA, "help"))["params"]["OptOutType"] == "HELP"
        assert (await sms.texts(ANA, "INFO"))["opt_out_type"] == "HELP"
        assert [m["body"] for m in await sms.inbox(ANA)] == [
            "Reply STOP to unsubscribe. Msg&Data Rates May Apply."
        ] * 2
        answer = await sms.texts(ANA, "Please stop sending me offers")
        assert answer["opt_out_type"] is None and "OptOutType" not in answer["params"]
        await sms.send(body="Not a keyword: still subscribed")


# -- the provider's logs ------------------------------------------------------------------------
async def test_the_message_log_keeps_the_raw_form_fields(sms: Sms) -> None:
    callback = f"{sms.base}/status"
    media = ["https://cdn.test/a.png", "https://cdn.test/b.png"]
    r = await sms.post(
        To=ANA, From=BUSINESS, Body="Two photos", MediaUrl=media, StatusCallback=callback
    )
    assert r.status_code == 201, r.text
    logged = await sms.logged(r.json()["sid"])
    assert logged["form"] == [
        ["To", ANA],
        ["From", BUSINESS],
        ["Body", "Two photos"],
        ["MediaUrl", media[0]],
        ["MediaUrl", media[1]],
        ["StatusCallback", callback],
    ]
    assert (logged["media"], logged["status_callback"]) == (media, callback)
    to_ana = await sms.look(f"/_emulator/sms/messages?to=%2B{ANA[1:]}")
    assert [m["sid"] for m in to_ana] == [r.json()["sid"]]
    assert await sms.look("/_emulator/sms/messages?to=%2B10000000000") == []
