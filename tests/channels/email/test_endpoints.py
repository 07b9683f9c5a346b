"""POST /webhooks/email stores a signed raw message's events once, for the account it was
for; the unsubscribe link's page changes nothing, its POST (RFC 8058 one-click or the
page's button) stores a Suppression. Rows land in the inbox table, as every webhook's do.

The router is mounted on the project's app here (the app does not mount it yet)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.conftest import T0
from threadline.app import create_app
from threadline.channels import codec
from threadline.channels import service as channels
from threadline.channels.email.endpoints import router
from threadline.channels.email.signature import signature
from threadline.channels.email.tokens import unsubscribe_token
from threadline.channels.events import (
    ChannelEvent,
    InboundMessage,
    StatusUpdate,
    Suppression,
)
from threadline.channels.models import ChannelAccount
from threadline.config import Settings
from threadline.inbox.models import InboxEvent
from threadline.kit.clock import FrozenClock
from threadline.kit.ids import new_id
from threadline.workspaces.service import create_workspace

SHOP = "shop@example.com"
SALES = "sales@example.com"
SECRETS = {SHOP: "shop-secret", SALES: "sales-secret"}


@dataclass
class Setup:
    client: httpx.AsyncClient
    channels: dict[str, str]  # address → channel id


@pytest.fixture
async def setup(
    settings: Settings,
    clock: FrozenClock,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Setup]:
    app = create_app(settings, clock)
    if not any(isinstance(r, APIRoute) and r.path == "/webhooks/email" for r in app.routes):
        app.include_router(router)
    ids: dict[str, str] = {}
    async with sessions() as session, session.begin():
        created = await create_workspace(session, "Mail Shop", T0)
        for address, secret in SECRETS.items():
            row = ChannelAccount(
                id=new_id("chn"),
                workspace_id=created.workspace.id,
                kind="email",
                name=address,
                address=address,
                account_id="example.com",
                base_url="smtp://shop@relay.example.com:587",
                api_version="",
                secrets=channels.seal(
                    settings.secret_box(), channels.ChannelSecrets("smtp-pw", secret, "")
                ),
                throughput_mps=20,
                config={"from_name": "Corner Shop", "public_url": "https://crm.example.com"},
                created_at=T0,
                updated_at=T0,
            )
            session.add(row)
            ids[address] = row.id
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://threadline.test") as client,
    ):
        yield Setup(client, ids)


async def stored(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, ChannelEvent]]:
    async with sessions() as session:
        rows = (await session.scalars(select(InboxEvent).order_by(InboxEvent.id))).all()
    return [(row.channel_id, codec.load(row.payload)) for row in rows]


def mail(*lines: str) -> bytes:
    return "\r\n".join(lines).encode()


REPLY = mail(
    "From: Ana <ana@example.net>",
    f"To: Corner Shop <{SHOP}>",
    "Subject: Re: Which colour?",
    "Message-ID: <CAB1@mail.example.net>",
    "In-Reply-To: <msg_1@example.com>",
    "",
    "2",
    "",
    "On Tue, 10 Mar 2026 at 15:00, Corner Shop <shop@example.com> wrote:",
    "> Which colour?",
)


async def post(
    client: httpx.AsyncClient,
    body: bytes,
    secret: str | None = SECRETS[SHOP],
    **headers: str,
) -> httpx.Response:
    sent = {"Content-Type": "message/rfc822", **headers}
    if secret is not None:
        sent["X-Threadline-Signature"] = signature(secret, body)
    return await client.post("/webhooks/email", content=body, headers=sent)


async def test_a_signed_reply_is_stored_once(
    setup: Setup, sessions: async_sessionmaker[AsyncSession]
) -> None:
    first = await post(setup.client, REPLY)
    assert first.status_code == 200, first.text
    assert first.json() == {"stored": 1, "duplicates": 0}
    again = await post(setup.client, REPLY)
    assert again.json() == {"stored": 0, "duplicates": 1}
    ((channel_id, event),) = await stored(sessions)
    assert channel_id == setup.channels[SHOP]
    assert isinstance(event, InboundMessage)
    assert (event.account, event.text, event.reply_to) == (SHOP, "2", "msg_1@example.com")
    assert event.timestamp == T0


async def test_the_envelope_recipient_picks_the_account(
    setup: Setup, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Our address only in Bcc: the relay names it, and signs with that account's secret."""
    bcc = mail("From: ana@example.net", "To: someone@example.org", "Message-ID: <b1@x>", "", "hi")
    answer = await post(
        setup.client, bcc, SECRETS[SALES], **{"X-Threadline-Recipient": f"<{SALES}>"}
    )
    assert answer.status_code == 200, answer.text
    ((channel_id, event),) = await stored(sessions)
    assert channel_id == setup.channels[SALES]
    assert isinstance(event, InboundMessage) and event.account == SALES


async def test_of_two_of_our_addresses_the_signature_says_which(
    setup: Setup, sessions: async_sessionmaker[AsyncSession]
) -> None:
    both = mail("From: ana@example.net", f"To: {SHOP}, {SALES}", "Message-ID: <t@x>", "", "hi")
    answer = await post(setup.client, both, SECRETS[SALES])
    assert answer.status_code == 200, answer.text
    ((channel_id, _),) = await stored(sessions)
    assert channel_id == setup.channels[SALES]


async def test_a_bad_signature_is_refused_and_stores_nothing(
    setup: Setup, sessions: async_sessionmaker[AsyncSession]
) -> None:
    for secret in ("wrong", None):
        answer = await post(setup.client, REPLY, secret)
        assert answer.status_code == 401
        assert "X-Threadline-Signature" in answer.json()["message"]
    assert await stored(sessions) == []


async def test_mail_for_an_address_that_is_not_ours_is_404(setup: Setup) -> None:
    other = mail("From: ana@example.net", "To: info@elsewhere.example", "", "hi")
    answer = await post(setup.client, other)
    assert answer.status_code == 404
    assert "info@elsewhere.example" in answer.json()["message"]


@pytest.mark.parametrize("body", [b"", b'{"entry": []}', b"just words"])
async def test_what_is_not_an_email_is_400(setup: Setup, body: bytes) -> None:
    answer = await post(setup.client, body)
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_request"


async def test_a_bounce_is_stored_as_a_failed_status_and_a_suppression(
    setup: Setup, sessions: async_sessionmaker[AsyncSession]
) -> None:
    dsn = mail(
        "From: MAILER-DAEMON@relay.example.com",
        f"To: {SHOP}",
        "Subject: Undelivered Mail Returned to Sender",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"',
        "",
        "--r",
        "Content-Type: text/plain",
        "",
        "Your message could not be delivered.",
        "--r",
        "Content-Type: message/delivery-status",
        "",
        "Reporting-MTA: dns; relay.example.com",
        "",
        "Final-Recipient: rfc822; nobody@example.net",
        "Action: failed",
        "Status: 5.1.1",
        "",
        "--r",
        "Content-Type: text/rfc822-headers",
        "",
        f"From: {SHOP}",
        "Message-ID: <msg_7@example.com>",
        "",
        "--r--",
        "",
    )
    answer = await post(setup.client, dsn)
    assert answer.json() == {"stored": 2, "duplicates": 0}
    kinds = [type(event) for _, event in await stored(sessions)]
    assert sorted(k.__name__ for k in kinds) == [StatusUpdate.__name__, Suppression.__name__]


# -- unsubscribe ---------------------------------------------------------------------------
def link(address: str = "ana@example.net", sender: str = SHOP, secret: str | None = None) -> str:
    token = unsubscribe_token(secret or SECRETS[sender], address, "msg_7", sender=sender)
    return f"/email/unsubscribe/{token}"


async def test_the_page_asks_and_changes_nothing(
    setup: Setup, sessions: async_sessionmaker[AsyncSession]
) -> None:
    page = await setup.client.get(link())
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "ana@example.net" in page.text and "Corner Shop" in page.text
    assert '<form method="post">' in page.text
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text
    assert await stored(sessions) == []


async def test_one_click_stores_a_suppression_once(
    setup: Setup, sessions: async_sessionmaker[AsyncSession]
) -> None:
    answer = await setup.client.post(
        link(),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200, answer.text
    assert "no more emails" in answer.text
    again = await setup.client.post(link(), content=b"List-Unsubscribe=One-Click")
    assert again.status_code == 200
    ((channel_id, event),) = await stored(sessions)
    assert channel_id == setup.channels[SHOP]
    assert event == Suppression(
        account=SHOP,
        address="ana@example.net",
        reason="unsubscribe",
        timestamp=T0,
        detail="one-click",
        reference="msg_7@example.com",
    )


async def test_an_empty_post_from_the_page_counts_too(
    setup: Setup, sessions: async_sessionmaker[AsyncSession]
) -> None:
    answer = await setup.client.post(link(sender=SALES))
    assert answer.status_code == 200
    ((channel_id, event),) = await stored(sessions)
    assert channel_id == setup.channels[SALES]
    assert isinstance(event, Suppression) and event.detail == "page"


@pytest.mark.parametrize(
    "path",
    [
        link(secret="forged"),  # signed with a secret that is not the account's
        link(sender="gone@example.com", secret="x"),  # an account that does not exist
        "/email/unsubscribe/not-a-token",
        link()[:-3],  # cut short
    ],
)
async def test_a_bad_token_is_400(
    setup: Setup, sessions: async_sessionmaker[AsyncSession], path: str
) -> None:
    for method in ("GET", "POST"):
        answer = await setup.client.request(method, path)
        assert answer.status_code == 400
        assert "not valid" in answer.text
    assert await stored(sessions) == []
