"""Contact events over HTTP: validation per kind, addressing, idempotent ingestion."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import T0, Tenant
from threadline.contacts.models import Contact, ContactEvent

BR = "+5511999990000"
LONDON = "+442079460000"


async def contact(client: httpx.AsyncClient, phone: str = BR) -> str:
    response = await client.post("/api/v1/contacts", json={"urns": [f"whatsapp:{phone}"]})
    assert response.status_code == 201, response.text
    contact_id: str = response.json()["id"]
    return contact_id


async def count(sessions: async_sessionmaker[AsyncSession], model: type[Any]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


VALID: dict[str, dict[str, Any]] = {
    "purchase": {"value": "129.90", "currency": "BRL", "properties": {"order_id": "A-1"}},
    "order_status": {"properties": {"order_id": "A-1", "status": "shipped"}},
    "cart_updated": {"properties": {"cart_id": "c-9", "items": 2}},
    "appointment_booked": {"properties": {"starts_at": "2026-03-20T14:30:00-03:00"}},
    "custom": {"name": "webinar_attended", "properties": {"webinar": "spring"}},
}


async def test_each_kind_is_stored_and_listed(tenant: Tenant) -> None:
    cid = await contact(tenant.client)
    stored = []
    for kind, fields in VALID.items():
        response = await tenant.client.post(
            "/api/v1/events",
            json={"idempotency_key": f"{kind}-1", "kind": kind, "contact_id": cid, **fields},
        )
        assert response.status_code == 201, (kind, response.text)
        body = response.json()
        assert (body["kind"], body["contact_id"]) == (kind, cid)
        assert body["properties"] == fields.get("properties", {}), kind
        assert datetime.fromisoformat(body["occurred_at"]) == T0  # defaults to now
        stored.append(body)
    purchase = stored[0]
    assert Decimal(purchase["value"]) == Decimal("129.90")
    assert purchase["currency"] == "BRL"
    assert stored[-1]["name"] == "webinar_attended"
    listed = (await tenant.client.get(f"/api/v1/contacts/{cid}/events")).json()
    assert sorted(listed, key=lambda e: e["id"]) == stored


INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("purchase", {"currency": "BRL"}, "value"),
    ("purchase", {"value": "10"}, "value"),
    ("purchase", {"value": "-1", "currency": "BRL"}, "value"),
    ("purchase", {"value": "10", "currency": "brl"}, "currency"),
    ("purchase", {"value": "ten", "currency": "BRL"}, "value"),
    # More precision or magnitude than the ledger stores must not be rounded silently.
    ("purchase", {"value": "1.23456", "currency": "BRL"}, "value"),
    ("purchase", {"value": "100000000000", "currency": "BRL"}, "value"),
    ("order_status", {"properties": {"status": "shipped"}}, "properties.order_id"),
    ("order_status", {"properties": {"order_id": "A-1", "status": ""}}, "properties.status"),
    ("cart_updated", {"properties": {}}, "properties.cart_id"),
    ("appointment_booked", {"properties": {}}, "properties.starts_at"),
    (
        "appointment_booked",
        {"properties": {"starts_at": "next tuesday"}},
        "properties.starts_at",
    ),
    ("custom", {}, "name"),
    ("custom", {"name": ""}, "name"),
    ("refund", {}, "kind"),
]


async def test_invalid_events_are_refused_and_not_stored(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cid = await contact(tenant.client)
    for kind, fields, where in INVALID:
        response = await tenant.client.post(
            "/api/v1/events",
            json={"idempotency_key": "k1", "kind": kind, "contact_id": cid, **fields},
        )
        assert response.status_code == 422, (kind, fields, response.text)
        assert response.json()["where"] == where, (kind, fields, response.json())
    assert await count(sessions, ContactEvent) == 0


async def test_event_by_urn_finds_the_contact_in_any_spelling(tenant: Tenant) -> None:
    cid = await contact(tenant.client)
    response = await tenant.client.post(
        "/api/v1/events",
        json={
            "idempotency_key": "cart-1",
            "kind": "cart_updated",
            "urn": "whatsapp:+55 (11) 99999-0000",
            "properties": {"cart_id": "c-1"},
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["contact_id"] == cid


async def test_event_by_unknown_urn_creates_the_contact(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    response = await tenant.client.post(
        "/api/v1/events",
        json={
            "idempotency_key": "order-7",
            "kind": "purchase",
            "urn": "mailto:new.buyer@example.com",
            "value": "10",
            "currency": "GBP",
        },
    )
    assert response.status_code == 201, response.text
    new_id = response.json()["contact_id"]
    created = (await tenant.client.get(f"/api/v1/contacts/{new_id}")).json()
    assert created["urns"] == ["mailto:new.buyer@example.com"]
    assert await count(sessions, Contact) == 1
    invalid = await tenant.client.post(
        "/api/v1/events",
        json={"idempotency_key": "order-8", "kind": "custom", "name": "x", "urn": "tel:+1555"},
    )
    assert invalid.status_code == 422
    assert invalid.json()["where"] == "urn"
    assert await count(sessions, Contact) == 1


async def test_event_for_an_unknown_contact_is_404(tenant: Tenant) -> None:
    response = await tenant.client.post(
        "/api/v1/events",
        json={"idempotency_key": "k", "kind": "custom", "name": "x", "contact_id": "con_nope"},
    )
    assert response.status_code == 404
    assert (await tenant.client.get("/api/v1/contacts/con_nope/events")).status_code == 404


async def test_replay_with_the_same_key_and_body_returns_the_stored_event(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cid = await contact(tenant.client)
    body = {
        "idempotency_key": "order-42",
        "kind": "purchase",
        "contact_id": cid,
        "value": "99.90",
        "currency": "BRL",
        "occurred_at": "2026-03-09T12:00:00-03:00",
        "properties": {"order_id": "42", "items": [{"sku": "X", "qty": 1}]},
    }
    first = await tenant.client.post("/api/v1/events", json=body)
    assert first.status_code == 201, first.text
    for replay in (body, {**body, "value": "99.9"}, {**body, "occurred_at": "2026-03-09T15:00Z"}):
        again = await tenant.client.post("/api/v1/events", json=replay)
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
    assert await count(sessions, ContactEvent) == 1


async def test_replay_by_urn_without_occurred_at_is_still_the_same_event(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    body = {
        "idempotency_key": "cart-5",
        "kind": "cart_updated",
        "urn": f"whatsapp:{BR}",
        "properties": {"cart_id": "c-5"},
    }
    first = await tenant.client.post("/api/v1/events", json=body)
    again = await tenant.client.post("/api/v1/events", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert await count(sessions, ContactEvent) == 1
    assert await count(sessions, Contact) == 1


async def test_the_same_key_with_a_different_body_conflicts(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await contact(tenant.client)
    await contact(tenant.client, LONDON)
    body = {
        "idempotency_key": "order-42",
        "kind": "purchase",
        "urn": f"whatsapp:{BR}",
        "value": "99.90",
        "currency": "BRL",
        "occurred_at": "2026-03-09T12:00:00-03:00",
        "properties": {"order_id": "42"},
    }
    first = await tenant.client.post("/api/v1/events", json=body)
    assert first.status_code == 201, first.text
    for change in (
        {"value": "100"},
        {"currency": "USD"},
        {"kind": "custom", "name": "other"},
        {"properties": {"order_id": "43"}},
        {"occurred_at": "2026-03-09T12:00:01-03:00"},
        {"urn": f"whatsapp:{LONDON}"},  # another person's address
        {"urn": "mailto:stranger@example.com"},  # nobody's address
    ):
        clash = await tenant.client.post("/api/v1/events", json={**body, **change})
        assert clash.status_code == 409, (change, clash.text)
        assert clash.json()["where"] == "idempotency_key"
        assert "order-42" in clash.json()["message"]
    assert await count(sessions, ContactEvent) == 1
    assert await count(sessions, Contact) == 2  # the stranger was not created either


async def test_the_same_key_for_another_contact_conflicts(tenant: Tenant) -> None:
    ana = await contact(tenant.client)
    bob = await contact(tenant.client, LONDON)
    body = {"idempotency_key": "visit-1", "kind": "custom", "name": "visit"}
    first = await tenant.client.post("/api/v1/events", json={**body, "contact_id": ana})
    assert first.status_code == 201
    clash = await tenant.client.post("/api/v1/events", json={**body, "contact_id": bob})
    assert clash.status_code == 409
    assert (await tenant.client.get(f"/api/v1/contacts/{bob}/events")).json() == []


async def test_malformed_event_requests(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cid = await contact(tenant.client)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"kind": "custom", "name": "x", "contact_id": "CID"}, "idempotency_key"),
        (
            {"idempotency_key": "", "kind": "custom", "name": "x", "contact_id": "CID"},
            "idempotency_key",
        ),
        ({"idempotency_key": "k", "kind": "custom", "name": "x"}, "contact_id"),
        (
            {
                "idempotency_key": "k",
                "kind": "custom",
                "name": "x",
                "contact_id": "CID",
                "urn": f"whatsapp:{BR}",
            },
            "contact_id",
        ),
        (
            {
                "idempotency_key": "k",
                "kind": "custom",
                "name": "x",
                "contact_id": "CID",
                "occurred_at": "2026-03-09T12:00:00",
            },
            "occurred_at",
        ),
    ]
    for body, where in cases:
        payload = {k: (cid if v == "CID" else v) for k, v in body.items()}
        response = await tenant.client.post("/api/v1/events", json=payload)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["where"] == where, (body, response.json())
    assert await count(sessions, ContactEvent) == 0


async def test_list_events_newest_first_and_by_kind(tenant: Tenant) -> None:
    cid = await contact(tenant.client)
    other = await contact(tenant.client, LONDON)
    for days, kind, extra in (
        (3, "custom", {"name": "signup"}),
        (1, "purchase", {"value": "5", "currency": "BRL"}),
        (2, "custom", {"name": "visit"}),
    ):
        response = await tenant.client.post(
            "/api/v1/events",
            json={
                "idempotency_key": f"e-{days}",
                "kind": kind,
                "contact_id": cid,
                "occurred_at": (T0 - timedelta(days=days)).isoformat(),
                **extra,
            },
        )
        assert response.status_code == 201, response.text
    await tenant.client.post(
        "/api/v1/events",
        json={"idempotency_key": "o-1", "kind": "custom", "name": "x", "contact_id": other},
    )
    listed = (await tenant.client.get(f"/api/v1/contacts/{cid}/events")).json()
    assert [e["idempotency_key"] for e in listed] == ["e-1", "e-2", "e-3"]
    custom = await tenant.client.get(f"/api/v1/contacts/{cid}/events", params={"kind": "custom"})
    assert [e["name"] for e in custom.json()] == ["visit", "signup"]
    limited = await tenant.client.get(f"/api/v1/contacts/{cid}/events", params={"limit": 1})
    assert [e["idempotency_key"] for e in limited.json()] == ["e-1"]
