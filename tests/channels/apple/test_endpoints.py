"""`POST /webhooks/apple/message` on the real app: Apple's requests are verified with the
business's MSP secret (JWT, aud = MSP id) before anything is stored, stored once (Apple's
message id), gzip bodies taken, and foreign, forged or broken ones refused.

The router is mounted here by the fixture (the app mounts it once the registry knows
Apple); the channel row is written directly, as registering an Apple account through the
service needs the registry too."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import T0
from threadline.app import create_app
from threadline.channels import codec
from threadline.channels import service as channels
from threadline.channels.apple.endpoints import router
from threadline.channels.events import (
    ChannelEvent,
    InboundMessage,
    Sender,
    Suppression,
    SuppressionReason,
)
from threadline.channels.models import ChannelAccount
from threadline.config import Settings
from threadline.inbox.models import InboxEvent
from threadline.kit.clock import FrozenClock
from threadline.kit.ids import new_id
from threadline.workspaces.service import create_workspace

KEY = bytes(range(32))
SECRET = base64.b64encode(KEY).decode()
MSP = "msp-0c7e"
BUSINESS = "8d2a1f0e-4c1b-4f57-9a53-3b6f1c2d9e10"
PERSON = "urn:mbid:AQAAY7Lq9Xh2"
PATH = "/webhooks/apple/message"


@pytest.fixture
async def client(
    settings: Settings,
    clock: FrozenClock,
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, clock)
    app.include_router(router)
    async with sessions() as session, session.begin():
        created = await create_workspace(session, "Apple Shop", T0)
        secrets = channels.ChannelSecrets(access_token=SECRET, app_secret=SECRET, verify_token="")
        session.add(
            ChannelAccount(
                id=new_id("chn"),
                workspace_id=created.workspace.id,
                kind="apple",
                name="Apple Shop",
                address=BUSINESS,
                account_id=MSP,
                base_url="https://mspgw.push.apple.com",
                api_version="v1",
                secrets=channels.seal(settings.secret_box(), secrets),
                throughput_mps=20,
                config={},
                created_at=T0,
                updated_at=T0,
            )
        )
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://threadline.test") as http,
    ):
        yield http


def token(key: bytes = KEY, aud: str = MSP, iat: int | None = None) -> str:
    issued = int(T0.timestamp()) if iat is None else iat
    return jwt.encode({"aud": aud, "iat": issued}, key, algorithm="HS256")


def apple(kind: str = "text", message_id: str = "5B3C2A0E-0001", **fields: Any) -> dict[str, Any]:
    body = {"v": 1, "id": message_id, "type": kind, "sourceId": PERSON, "destinationId": BUSINESS}
    return {**body, **fields}


async def post(
    client: httpx.AsyncClient,
    body: Any,
    *,
    auth: str | None = "good",
    business: str | None = BUSINESS,
    compress: bool = False,
    extra: dict[str, str] | None = None,
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **(extra or {})}
    if auth == "good":
        headers["Authorization"] = f"Bearer {token()}"
    elif auth is not None:
        headers["Authorization"] = auth
    if business is not None:
        headers["destination-id"] = business
    if isinstance(body, dict):
        headers["id"] = str(body.get("id", ""))
        headers["source-id"] = PERSON
    if compress:
        content = gzip.compress(content)
        headers["Content-Encoding"] = "gzip"
    return await client.post(PATH, content=content, headers=headers)


async def stored(sessions: async_sessionmaker[AsyncSession]) -> list[ChannelEvent]:
    async with sessions() as session:
        rows = (await session.scalars(select(InboxEvent).order_by(InboxEvent.id))).all()
    return [codec.load(row.payload) for row in rows]


async def test_a_message_is_verified_stored_once_and_acknowledged(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    body = apple(body="Hi! Is my order on its way?")
    extra = {"device-agent": "iPhone OS", "capability-list": "QUICK,LIST"}
    first = await post(client, body, extra=extra)
    assert first.status_code == 200, first.text
    assert first.json() == {"stored": 1, "duplicates": 0}
    (event,) = await stored(sessions)
    assert isinstance(event, InboundMessage)
    assert (event.account, event.external_id, event.kind, event.text) == (
        BUSINESS,
        body["id"],
        "text",
        "Hi! Is my order on its way?",
    )
    assert event.sender == Sender(address=PERSON, user_id=PERSON)
    assert event.timestamp == T0
    assert event.raw["headers"] == {"device-agent": "iPhone OS", "capability-list": "QUICK,LIST"}

    again = await post(client, body, extra=extra)
    assert again.status_code == 200
    assert again.json() == {"stored": 0, "duplicates": 1}
    assert len(await stored(sessions)) == 1


async def test_a_gzip_body_is_taken(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    answer = await post(client, apple(body="Compressed"), compress=True)
    assert answer.status_code == 200, answer.text
    (event,) = await stored(sessions)
    assert isinstance(event, InboundMessage) and event.text == "Compressed"


async def test_gzip_without_the_header_is_recognised(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    content = gzip.compress(json.dumps(apple(body="Magic")).encode())
    answer = await post(client, content)
    assert answer.status_code == 200, answer.text
    assert len(await stored(sessions)) == 1


async def test_close_is_stored_as_a_suppression(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    answer = await post(client, apple("close", message_id="5B3C2A0E-0002"))
    assert answer.status_code == 200, answer.text
    assert await stored(sessions) == [
        Suppression(
            account=BUSINESS,
            address=PERSON,
            reason=SuppressionReason.CLOSED,
            timestamp=T0,
            detail="the person closed the conversation",
            reference="5B3C2A0E-0002",
        )
    ]


@pytest.mark.parametrize(
    "auth",
    [
        None,
        "Bearer not-a-jwt",
        f"Bearer {token(key=bytes(range(1, 33)))}",
        f"Bearer {token(aud='another-msp')}",
        f"Bearer {token(iat=int(T0.timestamp()) - 3600)}",
        f"Basic {SECRET}",
    ],
    ids=["missing", "garbage", "forged", "other-msp", "stale", "basic"],
)
async def test_a_bad_token_is_401_and_stores_nothing(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], auth: str | None
) -> None:
    answer = await post(client, apple(body="Hi"), auth=auth)
    assert answer.status_code == 401, answer.text
    assert await stored(sessions) == []


async def test_an_unknown_business_is_404(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    body = {**apple(body="Hi"), "destinationId": "someone-else"}
    answer = await post(client, body, business="someone-else")
    assert answer.status_code == 404, answer.text
    assert await stored(sessions) == []


@pytest.mark.parametrize(
    ("body", "business"),
    [
        (b"not json", BUSINESS),
        (b"\x1f\x8b broken gzip", BUSINESS),
        ([1, 2], BUSINESS),
        ({"type": "text", "body": "Hi"}, None),  # names no business
        ({"v": 1, "id": "x", "sourceId": PERSON, "destinationId": BUSINESS}, BUSINESS),  # no type
        ({**apple(body="Hi"), "destinationId": "another"}, BUSINESS),  # header and body disagree
    ],
    ids=["not-json", "broken-gzip", "not-an-object", "no-business", "no-type", "disagree"],
)
async def test_a_bad_body_is_400(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    body: Any,
    business: str | None,
) -> None:
    answer = await post(client, body, business=business)
    assert answer.status_code == 400, answer.text
    assert await stored(sessions) == []
