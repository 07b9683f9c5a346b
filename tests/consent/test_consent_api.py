"""The consent ledger over HTTP: opt-ins with their disclosure, revocations, double opt-in."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import T0, Tenant
from threadline.consent.models import ConsentEvent
from threadline.kit.clock import FrozenClock

BR = "+5511999990000"
DISCLOSURE_TEXT = "Yes, send me offers from Workspace A on WhatsApp. Reply STOP to opt out."
DISCLOSURE = {"text": DISCLOSURE_TEXT, "version": "2026-03-widget"}


async def contact(client: httpx.AsyncClient) -> str:
    response = await client.post(
        "/api/v1/contacts", json={"name": "Ana", "urns": [f"whatsapp:{BR}"]}
    )
    assert response.status_code == 201, response.text
    contact_id: str = response.json()["id"]
    return contact_id


async def consent(client: httpx.AsyncClient, contact_id: str, **body: Any) -> httpx.Response:
    payload: dict[str, Any] = {"channel": "whatsapp", "topic": "marketing", "source": "widget"}
    payload.update(body)
    return await client.post(f"/api/v1/contacts/{contact_id}/consent", json=payload)


async def state(client: httpx.AsyncClient, contact_id: str) -> dict[tuple[str, str], str]:
    response = await client.get(f"/api/v1/contacts/{contact_id}/consent")
    assert response.status_code == 200, response.text
    return {(row["channel"], row["topic"]): row["status"] for row in response.json()}


async def ledger_rows(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(ConsentEvent)) or 0)


async def test_grant_records_the_disclosure_the_person_saw(tenant: Tenant) -> None:
    cid = await contact(tenant.client)
    granted = await consent(
        tenant.client,
        cid,
        action="grant",
        disclosure=DISCLOSURE,
        evidence={"ip": "203.0.113.7", "page_url": "https://shop.example/checkout"},
    )
    assert granted.status_code == 201, granted.text
    body = granted.json()
    assert body["action"] == "grant"
    assert body["disclosure_text"] == DISCLOSURE_TEXT
    assert body["disclosure_version"] == "2026-03-widget"
    assert body["disclosure_sha256"] == hashlib.sha256(DISCLOSURE_TEXT.encode()).hexdigest()
    assert body["actor"] == "api"
    assert body["occurred_at"].startswith("2026-03-10T15:00:00")

    history = (await tenant.client.get(f"/api/v1/contacts/{cid}/consent/history")).json()
    assert len(history) == 1
    stored = history[0]
    assert stored["id"] == body["id"]
    assert stored["disclosure_text"] == DISCLOSURE_TEXT
    assert stored["disclosure_version"] == "2026-03-widget"
    assert stored["disclosure_sha256"] == hashlib.sha256(DISCLOSURE_TEXT.encode()).hexdigest()
    assert stored["evidence"] == {
        "ip": "203.0.113.7",
        "page_url": "https://shop.example/checkout",
    }
    assert await state(tenant.client, cid) == {("whatsapp", "marketing"): "granted"}


async def test_an_opt_in_without_its_disclosure_is_refused(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cid = await contact(tenant.client)
    for action in ("grant", "request"):
        response = await consent(tenant.client, cid, action=action)
        assert response.status_code == 422, response.text
        assert response.json()["where"] == "disclosure"
        assert "disclosure" in response.json()["message"]
    half = await consent(tenant.client, cid, action="grant", disclosure={"text": "Yes please"})
    assert half.status_code == 422
    assert half.json()["where"] == "disclosure.version"
    assert await ledger_rows(sessions) == 0
    assert await state(tenant.client, cid) == {}


INVALID_GRANTS: list[tuple[dict[str, str], str, str]] = [
    ({"topic": "newsletter"}, "topic", "newsletter"),
    ({"channel": "fax"}, "channel", "fax"),
    ({"source": "telepathy"}, "source", "telepathy"),
    ({"channel": "*"}, "channel", "every channel"),
    ({"topic": "*"}, "topic", "grant one at a time"),
    ({"topic": "marketing:*"}, "topic", "grant one at a time"),
    ({"action": "subscribe"}, "action", "grant"),
]


async def test_invalid_grants_are_refused(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cid = await contact(tenant.client)
    for change, where, named in INVALID_GRANTS:
        body: dict[str, Any] = {"action": "grant", "disclosure": DISCLOSURE, **change}
        response = await consent(tenant.client, cid, **body)
        assert response.status_code == 422, (change, response.text)
        error = response.json()
        assert error["where"] == where, (change, error)
        assert named in error["message"], (change, error)
    assert await ledger_rows(sessions) == 0


async def test_revoke_and_the_history_is_append_only_and_ordered(tenant: Tenant) -> None:
    cid = await contact(tenant.client)
    first = await consent(
        tenant.client,
        cid,
        action="grant",
        disclosure=DISCLOSURE,
        occurred_at=(T0 - timedelta(days=2)).isoformat(),
    )
    transactional = await consent(
        tenant.client,
        cid,
        action="grant",
        topic="transactional",
        source="checkout_checkbox",
        disclosure={"text": "Order updates by WhatsApp", "version": "1"},
        occurred_at=(T0 - timedelta(days=1)).isoformat(),
    )
    revoked = await consent(tenant.client, cid, action="revoke", source="api")
    assert [r.status_code for r in (first, transactional, revoked)] == [201, 201, 201]
    assert await state(tenant.client, cid) == {
        ("whatsapp", "marketing"): "revoked",
        ("whatsapp", "transactional"): "granted",
    }
    # Recorded later but occurred earlier: the history is in order of occurrence.
    late = await consent(
        tenant.client,
        cid,
        action="revoke",
        topic="transactional",
        source="agent",
        actor="agent@workspace-a.example",
        occurred_at=(T0 - timedelta(days=3)).isoformat(),
    )
    assert late.status_code == 201
    history = (await tenant.client.get(f"/api/v1/contacts/{cid}/consent/history")).json()
    assert [h["id"] for h in history] == [
        late.json()["id"],
        first.json()["id"],
        transactional.json()["id"],
        revoked.json()["id"],
    ]
    assert [h["action"] for h in history] == ["revoke", "grant", "grant", "revoke"]
    assert history[0]["actor"] == "agent@workspace-a.example"
    # A backdated revoke before the grant does not undo the later grant.
    assert (await state(tenant.client, cid))[("whatsapp", "transactional")] == "granted"
    # Earlier lines are untouched by what came after.
    assert history[1] == first.json()


async def test_wide_revoke_covers_every_channel_and_marketing_topic(tenant: Tenant) -> None:
    cid = await contact(tenant.client)
    topic = await tenant.client.post(
        "/api/v1/topics", json={"key": "newsletter", "name": "Newsletter"}
    )
    assert topic.status_code == 201
    for channel, key in (("whatsapp", "marketing"), ("sms", "newsletter"), ("sms", "marketing")):
        granted = await consent(
            tenant.client, cid, action="grant", channel=channel, topic=key, disclosure=DISCLOSURE
        )
        assert granted.status_code == 201
    await consent(
        tenant.client,
        cid,
        action="grant",
        channel="sms",
        topic="transactional",
        disclosure=DISCLOSURE,
    )
    wide = await consent(tenant.client, cid, action="revoke", channel="*", topic="marketing:*")
    assert wide.status_code == 201, wide.text
    current = await state(tenant.client, cid)
    assert current[("whatsapp", "marketing")] == "revoked"
    assert current[("sms", "marketing")] == "revoked"
    assert current[("sms", "newsletter")] == "revoked"
    assert current[("sms", "transactional")] == "granted"  # marketing:* spares transactional


async def test_double_opt_in_is_pending_until_the_contact_replies_start(tenant: Tenant) -> None:
    cid = await contact(tenant.client)
    requested = await consent(tenant.client, cid, action="request", disclosure=DISCLOSURE)
    assert requested.status_code == 201, requested.text
    assert requested.json()["expires_at"].startswith("2026-04-09T15:00:00")
    assert await state(tenant.client, cid) == {("whatsapp", "marketing"): "pending"}

    reply = await tenant.client.post(
        f"/api/v1/contacts/{cid}/inbound",
        json={"channel": "whatsapp", "text": "START", "timestamp": T0.isoformat()},
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["keyword"] == "opt_in"
    assert await state(tenant.client, cid) == {("whatsapp", "marketing"): "granted"}
    history = (await tenant.client.get(f"/api/v1/contacts/{cid}/consent/history")).json()
    assert [(h["action"], h["source"], h["actor"]) for h in history] == [
        ("request", "widget", "api"),
        ("confirm", "keyword", "contact"),
    ]


async def test_confirm_through_the_api(tenant: Tenant) -> None:
    cid = await contact(tenant.client)
    nothing = await consent(tenant.client, cid, action="confirm")
    assert nothing.status_code == 409
    assert nothing.json()["where"] == "action"
    await consent(tenant.client, cid, action="request", disclosure=DISCLOSURE)
    confirmed = await consent(tenant.client, cid, action="confirm", source="api")
    assert confirmed.status_code == 201, confirmed.text
    assert await state(tenant.client, cid) == {("whatsapp", "marketing"): "granted"}


async def test_a_double_opt_in_request_expires_after_30_days(
    tenant: Tenant, clock: FrozenClock
) -> None:
    cid = await contact(tenant.client)
    await consent(tenant.client, cid, action="request", disclosure=DISCLOSURE)
    clock.advance(timedelta(days=31))
    assert await state(tenant.client, cid) == {}
    late = await consent(tenant.client, cid, action="confirm", source="api")
    assert late.status_code == 409, late.text
    assert "30 days" in late.json()["message"]
    start = await tenant.client.post(
        f"/api/v1/contacts/{cid}/inbound",
        json={"channel": "whatsapp", "text": "START", "timestamp": clock.now().isoformat()},
    )
    assert start.status_code == 200
    assert start.json()["reply"] is None  # nothing to confirm any more
    assert await state(tenant.client, cid) == {}


async def test_topics_can_be_added_but_not_twice_nor_reserved(tenant: Tenant) -> None:
    listed = await tenant.client.get("/api/v1/topics")
    assert [t["key"] for t in listed.json()] == ["marketing"]
    created = await tenant.client.post(
        "/api/v1/topics",
        json={"key": "back_in_stock", "name": "Back in stock", "description": "Restock alerts"},
    )
    assert created.status_code == 201, created.text
    assert created.json() == {
        "key": "back_in_stock",
        "name": "Back in stock",
        "description": "Restock alerts",
    }
    duplicate = await tenant.client.post(
        "/api/v1/topics", json={"key": "back_in_stock", "name": "Again"}
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["where"] == "key"
    reserved = await tenant.client.post(
        "/api/v1/topics", json={"key": "transactional", "name": "Orders"}
    )
    assert reserved.status_code == 422
    assert reserved.json()["where"] == "key"
    bad_key = await tenant.client.post("/api/v1/topics", json={"key": "Back In", "name": "x"})
    assert bad_key.status_code == 422
    assert bad_key.json()["where"] == "key"
    listed = await tenant.client.get("/api/v1/topics")
    assert [t["key"] for t in listed.json()] == ["back_in_stock", "marketing"]
    # The new topic can now be granted.
    cid = await contact(tenant.client)
    granted = await consent(
        tenant.client, cid, action="grant", topic="back_in_stock", disclosure=DISCLOSURE
    )
    assert granted.status_code == 201


async def test_consent_of_an_unknown_contact_is_404(tenant: Tenant) -> None:
    for response in (
        await consent(tenant.client, "con_missing", action="grant", disclosure=DISCLOSURE),
        await tenant.client.get("/api/v1/contacts/con_missing/consent"),
        await tenant.client.get("/api/v1/contacts/con_missing/consent/history"),
    ):
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
