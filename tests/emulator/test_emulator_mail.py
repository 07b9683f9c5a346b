"""The emulator's mail side against Threadline's own email code, over real SMTP and HTTP:
Threadline's client sends into simulated mailboxes; people reply, bounce, complain, refuse
and click the one-click unsubscribe, and what the emulator posts to /webhooks/email is
verified and stored by Threadline's receiver, exactly as a relay's posts would be.

The emulator runs in-process (its lifespan starts the SMTP relay in the test's loop);
Threadline is served on a local port, because the emulator posts to it over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.whatsapp.harness import free_port, serving
from tests.conftest import T0
from threadline.app import create_app
from threadline.channels import codec
from threadline.channels import messages as m
from threadline.channels import service as channels
from threadline.channels.adapter import AccountAccess, Envelope
from threadline.channels.email.client import EmailClient
from threadline.channels.email.endpoints import router as email_router
from threadline.channels.email.render import render
from threadline.channels.errors import ErrorClass
from threadline.channels.events import ChannelEvent, InboundMessage, StatusUpdate, Suppression
from threadline.channels.models import ChannelAccount
from threadline.channels.outcome import SendOutcome
from threadline.config import Settings
from threadline.emulator.app import create_emulator
from threadline.emulator.mail import MailEmulator
from threadline.inbox.models import InboxEvent
from threadline.kit.clock import FrozenClock
from threadline.kit.ids import new_id
from threadline.workspaces.service import create_workspace

SHOP = "shop@example.com"
SECRET = "shop-channel-secret"


@dataclass
class World:
    emulator: httpx.AsyncClient
    threadline_url: str
    access: AccountAccess
    client: EmailClient
    sessions: async_sessionmaker[AsyncSession]

    async def send(self, to: str, text: str, **envelope: Any) -> SendOutcome:
        return await self.client.send(render(m.Text(body=text), Envelope(to=to, **envelope)))

    async def mailbox(self, address: str) -> list[dict[str, Any]]:
        r = await self.emulator.get(f"/_emulator/mail/mailboxes/{address}")
        r.raise_for_status()
        messages: list[dict[str, Any]] = r.json()["messages"]
        return messages

    async def behave(self, address: str, behaviour: str) -> None:
        r = await self.emulator.post(
            f"/_emulator/mail/mailboxes/{address}/behaviour", json={"behaviour": behaviour}
        )
        r.raise_for_status()

    async def stored(self) -> list[ChannelEvent]:
        async with self.sessions() as session:
            rows = (await session.scalars(select(InboxEvent).order_by(InboxEvent.id))).all()
        return [codec.load(row.payload) for row in rows]

    async def until(self, check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
        deadline = asyncio.get_running_loop().time() + within
        while not await check():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("condition not reached in time")
            await asyncio.sleep(0.02)

    async def hooks(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (await self.emulator.get("/_emulator/mail/hooks")).json()
        return items


@pytest.fixture
async def world(
    settings: Settings, clock: FrozenClock, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[World]:
    app = create_app(settings, clock)
    if not any(isinstance(r, APIRoute) and r.path == "/webhooks/email" for r in app.routes):
        app.include_router(email_router)
    emulator_app = create_emulator(seed=3)
    transport = httpx.ASGITransport(app=emulator_app)
    async with (
        serving(app) as threadline_url,
        emulator_app.router.lifespan_context(emulator_app),
        httpx.AsyncClient(transport=transport, base_url="http://emulator.test") as emulator,
        aiohttp.ClientSession() as http,
    ):
        info = (await emulator.get("/_emulator/mail")).json()
        settings_json = {
            "from_name": "Corner Shop",
            "postal_address": "1 Main Street, Springfield",
            "public_url": threadline_url,
        }
        async with sessions() as session, session.begin():
            created = await create_workspace(session, "Mail Shop", T0)
            session.add(
                ChannelAccount(
                    id=new_id("chn"),
                    workspace_id=created.workspace.id,
                    kind="email",
                    name=SHOP,
                    address=SHOP,
                    account_id="example.com",
                    base_url=info["url"],
                    api_version="",
                    secrets=channels.seal(
                        settings.secret_box(), channels.ChannelSecrets("", SECRET, "")
                    ),
                    throughput_mps=20,
                    config=settings_json,
                    created_at=T0,
                    updated_at=T0,
                )
            )
        r = await emulator.post(
            "/_emulator/mail/domains",
            json={
                "address": SHOP,
                "inbound_url": f"{threadline_url}/webhooks/email",
                "secret": SECRET,
            },
        )
        r.raise_for_status()
        access = AccountAccess(
            base_url=info["url"],
            api_version="",
            address=SHOP,
            access_token="",
            account_id="example.com",
            signing_secret=SECRET,
            settings=settings_json,
        )
        client = EmailClient(http, access, timeout=5)
        try:
            yield World(emulator, threadline_url, access, client, sessions)
        finally:
            await client.aclose()


async def test_mail_lands_in_the_recipients_mailbox(world: World) -> None:
    outcome = await world.send("Ana@Example.net", "Your order has shipped.", callback_data="msg_1")
    assert outcome.ok and outcome.provider_id == "msg_1@example.com"
    (got,) = await world.mailbox("ana@example.net")
    assert got["mail_from"] == SHOP
    assert got["message_id"] == "msg_1@example.com"
    assert got["subject"] == "Your order has shipped."
    assert got["headers"]["From"] == "Corner Shop <shop@example.com>"
    assert got["text"].strip() == "Your order has shipped."
    assert "<p>Your order has shipped.</p>" in got["html"]
    assert await world.mailbox("ben@example.net") == []


async def test_a_reply_is_threaded_and_stored_by_threadline(world: World) -> None:
    await world.send("ana@example.net", "Which colour?\n\n1. Red\n2. Blue", callback_data="msg_2")
    r = await world.emulator.post(
        "/_emulator/mail/mailboxes/ana@example.net/reply", json={"text": "2", "name": "Ana"}
    )
    r.raise_for_status()
    answer = r.json()
    assert answer["status"] == 200 and answer["answer"] == {"stored": 1, "duplicates": 0}
    (event,) = await world.stored()
    assert isinstance(event, InboundMessage)
    assert event.account == SHOP
    assert event.sender.address == "ana@example.net" and event.sender.name == "Ana"
    assert event.text == "2"  # the quoted original is not read
    assert event.reply_to == "msg_2@example.com"
    assert event.raw["subject"] == "Re: Which colour?"
    assert event.raw["references"] == ["msg_2@example.com"]
    assert event.external_id == answer["message_id"]


async def test_a_bounce_fails_the_message_and_suppresses_the_address(world: World) -> None:
    await world.behave("nobody@example.net", "bounce")
    outcome = await world.send("nobody@example.net", "Hello", callback_data="msg_3")
    assert outcome.ok  # the relay took it; the bounce comes later
    assert await world.mailbox("nobody@example.net") == []

    async def bounced() -> bool:
        return any(h["kind"] == "bounce" and h["status"] == 200 for h in await world.hooks())

    await world.until(bounced)
    update, suppression = await world.stored()
    assert isinstance(update, StatusUpdate) and isinstance(suppression, Suppression)
    assert (update.external_id, update.status, update.recipient) == (
        "msg_3@example.com",
        "failed",
        "nobody@example.net",
    )
    assert update.callback_data == "msg_3"
    assert (update.errors[0].code, update.errors[0].subcode) == (550, 50101)
    assert (suppression.address, suppression.reason, suppression.reference) == (
        "nobody@example.net",
        "hard_bounce",
        "msg_3@example.com",
    )


async def test_a_complaint_suppresses_the_person(world: World) -> None:
    await world.behave("ben@example.net", "complain")
    assert (await world.send("ben@example.net", "Sale!", purpose="marketing")).ok
    assert len(await world.mailbox("ben@example.net")) == 1

    async def complained() -> bool:
        return any(h["kind"] == "complaint" and h["status"] == 200 for h in await world.hooks())

    await world.until(complained)
    (event,) = await world.stored()
    assert isinstance(event, Suppression)
    assert (event.account, event.address, event.reason) == (SHOP, "ben@example.net", "complaint")


async def test_a_rejected_recipient_is_refused_at_rcpt(world: World) -> None:
    await world.behave("gone@example.net", "reject")
    outcome = await world.send("gone@example.net", "Hello")
    assert outcome.error_class is ErrorClass.UNDELIVERABLE
    assert outcome.error is not None
    assert (outcome.error.code, outcome.error.subcode) == (550, 50101)
    assert await world.mailbox("gone@example.net") == []


async def test_one_click_unsubscribe_reaches_threadline(world: World) -> None:
    await world.send("ana@example.net", "Spring sale", purpose="marketing", callback_data="msg_4")
    (got,) = await world.mailbox("ana@example.net")
    assert got["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "1 Main Street, Springfield" in got["text"]
    r = await world.emulator.post("/_emulator/mail/mailboxes/ana@example.net/unsubscribe", json={})
    r.raise_for_status()
    clicked = r.json()
    assert clicked["status"] == 200
    assert clicked["url"].startswith(f"{world.threadline_url}/email/unsubscribe/")
    (event,) = await world.stored()
    assert isinstance(event, Suppression)
    assert (event.address, event.reason, event.detail, event.reference) == (
        "ana@example.net",
        "unsubscribe",
        "one-click",
        "msg_4@example.com",
    )


async def test_a_service_message_has_no_unsubscribe_to_click(world: World) -> None:
    await world.send("ana@example.net", "Receipt")
    r = await world.emulator.post("/_emulator/mail/mailboxes/ana@example.net/unsubscribe", json={})
    assert r.status_code == 409


async def test_unknown_messages_and_mailboxes(world: World) -> None:
    r = await world.emulator.post(
        "/_emulator/mail/mailboxes/ana@example.net/reply", json={"text": "hi"}
    )
    assert r.status_code == 404
    await world.send("ana@example.net", "One", callback_data="msg_5")
    await world.send("ana@example.net", "Two", callback_data="msg_6")
    r = await world.emulator.post(
        "/_emulator/mail/mailboxes/ana@example.net/reply",
        json={"text": "About the first", "message_id": "<msg_5@example.com>"},
    )
    r.raise_for_status()
    (event,) = await world.stored()
    assert isinstance(event, InboundMessage) and event.reply_to == "msg_5@example.com"


async def test_the_smtp_port_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("THREADLINE_EMULATOR_SMTP_PORT", str(port))
    mail = MailEmulator.from_env()
    await mail.start()
    try:
        assert mail.port == port and mail.url == f"smtp://127.0.0.1:{port}"
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
        await writer.wait_closed()
    finally:
        await mail.stop()
