"""Every captured Messenger and Instagram webhook, posted signed to /webhooks/messenger and
/webhooks/instagram as the platform would: what the receiver stores is exactly what
expected.py says the parser finds (once, however often the platform retries), and a forged
or foreign delivery stores nothing.

The pages and accounts are registered from each fixture's entry ids; the fixtures are read
from ../shared/fixtures at test time, never copied here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.instagram.expected import EXPECTED as INSTAGRAM_EXPECTED
from tests.channels.messenger.expected import EXPECTED as MESSENGER_EXPECTED
from tests.channels.meta.compare import Expected, comparable, fixture_names, load_fixture
from tests.conftest import T0, Tenant
from threadline.channels import codec
from threadline.channels import service as channels
from threadline.channels.events import ChannelEvent
from threadline.channels.kinds import Channel
from threadline.channels.meta.signature import signature
from threadline.config import Settings
from threadline.inbox.models import InboxEvent

SECRET = "fixture-app-secret"
VERIFY = "fixture-verify-token"
LINKED_PAGE = "990000000000001"  # the page an Instagram account is linked to
EXPECTATIONS: dict[str, Expected] = {
    "messenger": MESSENGER_EXPECTED,
    "instagram": INSTAGRAM_EXPECTED,
}
CASES = [
    (channel, name)
    for channel, expected in EXPECTATIONS.items()
    for name in fixture_names(channel, expected)
]


def entry_ids(payload: Any) -> list[str]:
    entries = payload.get("entry") if isinstance(payload, dict) else None
    ids = [str(e["id"]) for e in entries or [] if isinstance(e, dict) and e.get("id")]
    return sorted(set(ids))


async def register(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    workspace_id: str,
    kind: Channel,
    ids: Sequence[str],
) -> None:
    common: dict[str, Any] = {"access_token": "t", "app_secret": SECRET, "verify_token": VERIFY}
    async with sessions() as session, session.begin():
        for account in ids:
            spec = (
                channels.messenger_page(account, **common)
                if kind is Channel.MESSENGER
                else channels.instagram_account(account, LINKED_PAGE, **common)
            )
            await channels.add(session, workspace_id, spec, settings.secret_box(), T0)


async def post(
    client: httpx.AsyncClient, kind: str, body: bytes, secret: str | None = SECRET
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Hub-Signature-256"] = signature(secret, body)
    return await client.post(f"/webhooks/{kind}", content=body, headers=headers)


async def stored_events(sessions: async_sessionmaker[AsyncSession]) -> list[ChannelEvent]:
    async with sessions() as session:
        rows = (await session.scalars(select(InboxEvent).order_by(InboxEvent.id))).all()
    return [codec.load(row.payload) for row in rows]


async def stored_count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(InboxEvent)) or 0)


def unique(events: Sequence[ChannelEvent]) -> list[ChannelEvent]:
    """The expected events as the inbox keeps them: a repeat of the same event (the platform
    delivering one message twice in a batch) is one row."""
    kept: list[ChannelEvent] = []
    for event in comparable(events):
        if event not in kept:
            kept.append(event)
    return kept


@pytest.mark.parametrize(("channel", "name"), CASES, ids=[f"{c}/{n}" for c, n in CASES])
async def test_each_fixture_posted_signed_stores_exactly_its_events(
    channel: str,
    name: str,
    tenant: Tenant,
    app_client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    payload = load_fixture(channel, name)
    want = EXPECTATIONS[channel].get(name)
    if want is None:
        pytest.fail(f"{channel}/{name} has no entry in tests/channels/{channel}/expected.py")
    ids = entry_ids(payload)
    await register(sessions, settings, tenant.id, Channel(channel), ids)
    body = json.dumps(payload).encode()

    first = await post(app_client, channel, body)
    if not ids:
        # Nothing names the page, so nothing can check the signature: refused, not guessed.
        assert first.status_code == 400, first.text
        assert "entry" in first.json()["message"]
        assert await stored_count(sessions) == 0
        return
    if isinstance(want, type):
        assert first.status_code == 400, first.text
        assert first.json()["message"]
        assert await stored_count(sessions) == 0
        return
    assert first.status_code == 200, first.text
    stored = await stored_events(sessions)
    assert sorted(map(repr, comparable(stored))) == sorted(map(repr, unique(want)))
    assert first.json() == {"stored": len(stored), "duplicates": len(want) - len(stored)}

    again = await post(app_client, channel, body)
    assert again.status_code == 200
    assert again.json() == {"stored": 0, "duplicates": len(want)}
    assert await stored_count(sessions) == len(stored)


@pytest.mark.parametrize("channel", ["messenger", "instagram"])
async def test_a_forged_or_unsigned_delivery_is_401_and_stores_nothing(
    channel: str,
    tenant: Tenant,
    app_client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    payload = load_fixture(channel, "courier__hello_msg.json")
    await register(sessions, settings, tenant.id, Channel(channel), entry_ids(payload))
    body = json.dumps(payload).encode()
    forged = await post(app_client, channel, body, secret="not-the-app-secret")
    unsigned = await post(app_client, channel, body, secret=None)
    tampered = await app_client.post(
        f"/webhooks/{channel}",
        content=body.replace(b"Hello", b"Jello"),
        headers={"X-Hub-Signature-256": signature(SECRET, body)},
    )
    assert [r.status_code for r in (forged, unsigned, tampered)] == [401, 401, 401]
    assert "X-Hub-Signature-256" in forged.json()["message"]
    assert await stored_count(sessions) == 0


@pytest.mark.parametrize("channel", ["messenger", "instagram"])
async def test_a_delivery_for_an_account_that_is_not_ours_is_404_naming_it(
    channel: str,
    tenant: Tenant,
    app_client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    await register(sessions, settings, tenant.id, Channel(channel), ["111111111111111"])
    payload = load_fixture(channel, "courier__hello_msg.json")
    answer = await post(app_client, channel, json.dumps(payload).encode())
    assert answer.status_code == 404
    assert entry_ids(payload)[0] in answer.json()["message"]
    assert await stored_count(sessions) == 0


@pytest.mark.parametrize("channel", ["messenger", "instagram"])
async def test_a_body_that_is_not_json_is_400(channel: str, app_client: httpx.AsyncClient) -> None:
    answer = await app_client.post(f"/webhooks/{channel}", content=b"{not json")
    assert answer.status_code == 400
    assert answer.json()["message"] == "body is not JSON"


@pytest.mark.parametrize("channel", ["messenger", "instagram"])
async def test_the_subscription_handshake_echoes_the_challenge_only_for_our_token(
    channel: str,
    tenant: Tenant,
    app_client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    await register(sessions, settings, tenant.id, Channel(channel), ["222222222222222"])
    params = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}
    ours = await app_client.get(
        f"/webhooks/{channel}", params={**params, "hub.verify_token": VERIFY}
    )
    theirs = await app_client.get(
        f"/webhooks/{channel}", params={**params, "hub.verify_token": "guess"}
    )
    incomplete = await app_client.get(f"/webhooks/{channel}", params={"hub.mode": "subscribe"})
    assert (ours.status_code, ours.text) == (200, "1158201444")
    assert theirs.status_code == 403
    assert incomplete.status_code == 400 and "hub.challenge" in incomplete.json()["message"]
