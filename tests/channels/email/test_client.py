"""The client sends over real SMTP: an aiosmtpd server on a local port receives exactly what
was composed (DKIM signature intact), refusals become classified errors, an unreachable
relay is a retry, and the media of a person's message are read back."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import aiohttp
import dkim
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.channels.whatsapp.harness import free_port
from threadline.channels import messages as m
from threadline.channels.adapter import AccountAccess, Envelope
from threadline.channels.email.client import EmailClient, data_url_bytes, relay_of
from threadline.channels.email.render import render
from threadline.channels.errors import ErrorClass

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(_class=EmailMessage, policy=policy.default).parsebytes(self.content)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Relay:
    """An SMTP server's handler: records messages, answers RCPT and DATA as told."""

    rcpt_answers: dict[str, str] = field(default_factory=dict)
    data_answer: str = "250 2.0.0 Ok: queued"
    data_delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    sessions: int = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        answer = self.rcpt_answers.get(address.lower())
        if answer is not None:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.data_delay)
        if self.data_answer.startswith("250"):
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
            )
        return self.data_answer


@dataclass
class Running:
    relay: Relay
    port: int
    logins: list[tuple[bytes, bytes]]


def authenticator(logins: list[tuple[bytes, bytes]]) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        # handled=False: aiosmtpd answers 235 or 535 itself.
        return AuthResult(success=data.password == b"right", handled=False)

    return check


@pytest.fixture
def smtp() -> Iterator[Running]:
    relay = Relay()
    logins: list[tuple[bytes, bytes]] = []
    port = free_port()
    controller = Controller(
        relay,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator(logins),
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield Running(relay, port, logins)
    finally:
        controller.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def access(port: int, **changes: Any) -> AccountAccess:
    base = AccountAccess(
        base_url=f"smtp://127.0.0.1:{port}",
        api_version="",
        address="shop@example.com",
        access_token="",
        account_id="example.com",
        signing_secret="secret",
        settings={
            "from_name": "Corner Shop",
            "postal_address": "1 Main Street",
            "public_url": "https://crm.example.com",
        },
    )
    return replace(base, **changes)


def client(http: aiohttp.ClientSession, account: AccountAccess) -> EmailClient:
    return EmailClient(http, account, timeout=5, clock=lambda: NOW)


def body(to: str = "ana@example.net", **envelope: Any) -> dict[str, Any]:
    return render(m.Text(body="Your order has shipped."), Envelope(to=to, **envelope))


async def test_a_send_reaches_the_relay_as_composed(
    smtp: Running, http: aiohttp.ClientSession
) -> None:
    sender = client(http, access(smtp.port))
    outcome = await sender.send(body(callback_data="msg_1"))
    assert outcome.ok and outcome.provider_id == "msg_1@example.com"
    assert outcome.error is None
    (got,) = smtp.relay.received
    assert got.mail_from == "shop@example.com"
    assert got.rcpt_tos == ["ana@example.net"]
    msg = got.message
    assert msg["Message-ID"] == "<msg_1@example.com>"
    assert msg["From"] == "Corner Shop <shop@example.com>"
    assert msg["Subject"] == "Your order has shipped."
    plain = msg.get_body(preferencelist=("plain",))
    assert plain is not None and plain.get_content().strip() == "Your order has shipped."
    await sender.aclose()


async def test_sessions_are_kept_between_sends(smtp: Running, http: aiohttp.ClientSession) -> None:
    sender = client(http, access(smtp.port))
    for n in range(3):
        assert (await sender.send(body(callback_data=f"msg_{n}"))).ok
    assert len(smtp.relay.received) == 3
    assert smtp.relay.sessions == 1
    await sender.aclose()


async def test_a_signed_message_arrives_verifiable(
    smtp: Running, http: aiohttp.ClientSession, key: rsa.RSAPrivateKey
) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    account = access(smtp.port, private_key=pem)
    account = replace(account, settings={**account.settings, "dkim_selector": "s1"})
    outcome = await client(http, account).send(
        body(purpose="marketing", callback_data="msg_5", subject="Sale")
    )
    assert outcome.ok
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"s1._domainkey.example.com."
        return b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    (got,) = smtp.relay.received
    assert got.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert dkim.verify(got.content, dnsfunc=dns)


async def test_a_refused_recipient_is_undeliverable(
    smtp: Running, http: aiohttp.ClientSession
) -> None:
    smtp.relay.rcpt_answers["nobody@example.net"] = (
        "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown"
    )
    sender = client(http, access(smtp.port))
    outcome = await sender.send(body(to="nobody@example.net"))
    assert not outcome.ok
    assert outcome.error_class is ErrorClass.UNDELIVERABLE
    assert outcome.error is not None
    assert (outcome.error.code, outcome.error.subcode) == (550, 50101)
    assert "User unknown" in outcome.error.title
    assert not outcome.outcome_unknown
    # The session survives the refusal (RSET) and carries the next message.
    assert (await sender.send(body())).ok
    assert smtp.relay.sessions == 1
    await sender.aclose()


@pytest.mark.parametrize(
    ("answer", "error_class", "codes"),
    [
        ("452 4.2.2 Mailbox full, try later", ErrorClass.RETRY, (452, 40202)),
        ("450 4.2.1 Receiving mail too quickly", ErrorClass.PAIR_LIMIT, (450, 40201)),
        ("421 4.7.28 Unusual rate of mail", ErrorClass.THROTTLE, (421, 40728)),
        (
            "550 5.7.26 Unauthenticated email is not accepted (DMARC)",
            ErrorClass.POLICY_BLOCK,
            (550, 50726),
        ),
        ("553 Mailbox name not allowed", ErrorClass.UNDELIVERABLE, (553, None)),
    ],
)
async def test_rcpt_answers_are_classified(
    smtp: Running,
    http: aiohttp.ClientSession,
    answer: str,
    error_class: ErrorClass,
    codes: tuple[int, int | None],
) -> None:
    smtp.relay.rcpt_answers["ana@example.net"] = answer
    outcome = await client(http, access(smtp.port)).send(body())
    assert outcome.error_class is error_class
    assert outcome.error is not None
    assert (outcome.error.code, outcome.error.subcode) == codes


async def test_a_message_too_large_is_an_invalid_request(
    smtp: Running, http: aiohttp.ClientSession
) -> None:
    smtp.relay.data_answer = "552 Message size exceeds fixed maximum message size"
    outcome = await client(http, access(smtp.port)).send(body())
    assert outcome.error_class is ErrorClass.INVALID_REQUEST
    assert outcome.error is not None and outcome.error.code == 552


async def test_a_wrong_password_is_auth(smtp: Running, http: aiohttp.ClientSession) -> None:
    wrong = access(smtp.port, base_url=f"smtp://shop%40example.com@127.0.0.1:{smtp.port}")
    outcome = await client(http, replace(wrong, access_token="wrong")).send(body())
    assert outcome.error_class is ErrorClass.AUTH
    assert outcome.error is not None and outcome.error.code == 535
    # aiosmtplib tries each mechanism the relay offers (PLAIN, LOGIN) before giving up.
    assert set(smtp.logins) == {(b"shop@example.com", b"wrong")}
    good = await client(http, replace(wrong, access_token="right")).send(body())
    assert good.ok


async def test_an_unreachable_relay_is_a_retry(http: aiohttp.ClientSession) -> None:
    outcome = await client(http, access(free_port())).send(body())
    assert not outcome.ok
    assert outcome.error_class is ErrorClass.RETRY
    assert not outcome.outcome_unknown
    assert outcome.error is not None and "unreachable" in outcome.error.title


async def test_no_answer_to_data_is_an_unknown_outcome(
    smtp: Running, http: aiohttp.ClientSession
) -> None:
    """The relay took the message but did not say so in time: it may go out, so the
    dispatcher must reconcile rather than send again blindly."""
    smtp.relay.data_delay = 1.0
    outcome = await EmailClient(http, access(smtp.port), timeout=0.3).send(body())
    assert outcome.error_class is ErrorClass.RETRY
    assert outcome.outcome_unknown
    assert outcome.error is not None and "may have gone" in outcome.error.title


async def test_marketing_without_postal_address_never_reaches_the_relay(
    smtp: Running, http: aiohttp.ClientSession
) -> None:
    account = access(smtp.port)
    account = replace(account, settings={**account.settings, "postal_address": ""})
    outcome = await client(http, account).send(body(purpose="marketing"))
    assert outcome.error_class is ErrorClass.INVALID_REQUEST
    assert outcome.error is not None and "postal address" in outcome.error.title
    assert smtp.relay.received == [] and smtp.relay.sessions == 0


async def _files(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name == "missing.pdf":
        raise web.HTTPNotFound()
    if name == "broken.pdf":
        raise web.HTTPServiceUnavailable()
    return web.Response(body=b"%PDF-1.4 invoice", content_type="application/pdf")


@pytest.fixture
async def files() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/files/{name}", _files)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_media_are_downloaded_and_attached(
    smtp: Running, http: aiohttp.ClientSession, files: str
) -> None:
    content = m.Media(kind="document", link=f"{files}/files/invoice.pdf", caption="Invoice")
    outcome = await client(http, access(smtp.port)).send(
        render(content, Envelope(to="ana@example.net"))
    )
    assert outcome.ok
    msg = smtp.relay.received[0].message
    (attached,) = list(msg.iter_attachments())
    assert attached.get_filename() == "invoice.pdf"
    assert attached.get_content_type() == "application/pdf"
    assert attached.get_content() == b"%PDF-1.4 invoice"


@pytest.mark.parametrize("name", ["missing.pdf", "broken.pdf"])
async def test_media_that_cannot_be_fetched_goes_as_its_link(
    smtp: Running, http: aiohttp.ClientSession, files: str, name: str
) -> None:
    """A file whose host answers 404 or 500 must not hold the mail (and the person's next
    ones) back for retries: it goes as a link, as the other channels would show it."""
    url = f"{files}/files/{name}"
    content = m.Media(kind="document", link=url, filename=name)
    outcome = await client(http, access(smtp.port)).send(
        render(content, Envelope(to="ana@example.net"))
    )
    assert outcome.ok
    (received,) = smtp.relay.received
    assert list(received.message.iter_attachments()) == []
    plain = received.message.get_body(preferencelist=("plain",))
    assert plain is not None and f"{name}: {url}" in plain.get_content()


async def test_fetch_media_reads_data_and_http_urls(
    http: aiohttp.ClientSession, files: str
) -> None:
    reader = client(http, access(free_port()))
    assert await reader.fetch_media({"url": "data:image/png;base64,iVBORw0K"}) == (
        b"\x89PNG\r\n",
        "image/png",
    )
    assert await reader.fetch_media({"url": f"{files}/files/a.pdf"}) == (
        b"%PDF-1.4 invoice",
        "application/pdf",
    )
    with pytest.raises(ValueError, match="too large"):
        await reader.fetch_media({"url": None, "filename": "big.zip"})


def test_relay_urls() -> None:
    relay = relay_of("smtps://shop%40example.com@mail.example.com")
    assert (relay.host, relay.port, relay.implicit_tls, relay.username) == (
        "mail.example.com",
        465,
        True,
        "shop@example.com",
    )
    assert relay_of("smtp://relay:2525").port == 2525
    assert relay_of("smtp://relay").port == 587
    with pytest.raises(ValueError):
        relay_of("https://graph.facebook.com")
    assert data_url_bytes("data:,hello%20there") == (b"hello there", "text/plain")


async def test_a_relay_url_that_is_not_smtp_stops_the_channel(
    http: aiohttp.ClientSession,
) -> None:
    outcome = await client(http, access(1, base_url="https://graph.facebook.com")).send(body())
    assert outcome.error_class is ErrorClass.AUTH
    assert outcome.error is not None and "not an SMTP URL" in outcome.error.title
