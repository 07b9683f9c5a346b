"""Contacts over HTTP: create, search, page, edit, addresses, merge and erasure."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import Tenant
from threadline.consent.models import Suppression
from threadline.contacts.models import Contact
from threadline.models import Base

BR = "+5511999990000"
BR_2 = "+5511999990001"
LONDON = "+442079460000"
DC = "+12025550123"
DISCLOSURE = {"text": "Yes, send me offers on WhatsApp. Reply STOP to opt out.", "version": "v1"}


async def create(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/contacts", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def define_field(client: httpx.AsyncClient, key: str, value_type: str) -> None:
    response = await client.post("/api/v1/fields", json={"key": key, "value_type": value_type})
    assert response.status_code == 201, response.text


async def count_contacts(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Contact)) or 0)


# --- create -----------------------------------------------------------------------------------


async def test_create_canonicalises_every_spelling_of_an_address(tenant: Tenant) -> None:
    body = await create(
        tenant.client,
        name="  Ana Souza ",
        urns=[
            "WhatsApp:+55 (11) 99999-0000",
            " tel:+55 11 99999-0000 ",
            "mailto:Ana.Souza@EXAMPLE.com",
            "messenger:123456",
            "instagram:789",
            "whatsapp:5511999990000",  # the same address again, spelled differently
        ],
    )
    assert body["name"] == "Ana Souza"
    assert body["urns"] == [
        "whatsapp:5511999990000",
        "tel:+5511999990000",
        "mailto:Ana.Souza@example.com",
        "messenger:123456",
        "instagram:789",
    ]
    # Another spelling of the same number now belongs to Ana.
    clash = await tenant.client.post("/api/v1/contacts", json={"urns": ["tel:+55-11-9999-90000"]})
    assert clash.status_code == 409, clash.text
    assert body["id"] in clash.json()["message"]


async def test_timezone_is_derived_from_the_phone_number_unless_given(tenant: Tenant) -> None:
    london = await create(tenant.client, urns=[f"tel:{LONDON}"])
    washington = await create(tenant.client, urns=[f"whatsapp:{DC}"])
    chosen = await create(tenant.client, urns=[f"tel:{BR}"], timezone="Europe/Lisbon")
    no_phone = await create(tenant.client, urns=["mailto:someone@example.com"])
    assert london["timezone"] == "Europe/London"
    assert washington["timezone"] == "America/New_York"
    assert chosen["timezone"] == "Europe/Lisbon"
    assert no_phone["timezone"] is None


async def test_custom_fields_are_typed_by_their_definition(tenant: Tenant) -> None:
    await define_field(tenant.client, "loyalty_points", "number")
    await define_field(tenant.client, "birthday", "date")
    await define_field(tenant.client, "vip", "boolean")
    await define_field(tenant.client, "city", "text")
    listed = await tenant.client.get("/api/v1/fields")
    assert [f["key"] for f in listed.json()] == ["birthday", "city", "loyalty_points", "vip"]

    body = await create(
        tenant.client,
        urns=[f"tel:{BR}"],
        fields={"loyalty_points": "120", "birthday": "1990-04-01", "vip": "yes", "city": "SP"},
        tags=["vip", " customer ", "vip"],
        interests=["shoes", "bags", "shoes"],
    )
    assert body["fields"] == {
        "loyalty_points": 120,
        "birthday": "1990-04-01",
        "vip": True,
        "city": "SP",
    }
    assert body["tags"] == ["customer", "vip"]
    assert body["interests"] == ["bags", "shoes"]
    fetched = await tenant.client.get(f"/api/v1/contacts/{body['id']}")
    assert fetched.json() == body


async def test_duplicate_field_definition_conflicts(tenant: Tenant) -> None:
    await define_field(tenant.client, "city", "text")
    again = await tenant.client.post("/api/v1/fields", json={"key": "city", "value_type": "number"})
    assert again.status_code == 409
    assert again.json()["where"] == "key"


async def test_field_of_the_wrong_type_is_refused_naming_the_field(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await define_field(tenant.client, "loyalty_points", "number")
    await define_field(tenant.client, "birthday", "date")
    for fields, key in (
        ({"loyalty_points": "lots"}, "loyalty_points"),
        ({"loyalty_points": True}, "loyalty_points"),
        ({"birthday": "01/04/1990"}, "birthday"),
    ):
        response = await tenant.client.post("/api/v1/contacts", json={"fields": fields})
        assert response.status_code == 422, response.text
        error = response.json()
        assert error["error"] == "invalid_input"
        assert error["where"] == f"fields.{key}"
        assert key in error["message"]
    assert await count_contacts(sessions) == 0


async def test_unknown_field_is_refused(tenant: Tenant) -> None:
    await define_field(tenant.client, "city", "text")
    response = await tenant.client.post("/api/v1/contacts", json={"fields": {"ctiy": "Rio"}})
    assert response.status_code == 422
    error = response.json()
    assert error["where"] == "fields.ctiy"
    assert "unknown field 'ctiy'" in error["message"]
    assert "city" in error["message"]  # the known fields are listed to spot the typo


# --- list and search --------------------------------------------------------------------------


async def test_search_by_query_tag_and_urn(tenant: Tenant) -> None:
    ana = await create(tenant.client, name="Ana Souza", urns=[f"whatsapp:{BR}"], tags=["vip"])
    bob = await create(tenant.client, name="Bob", urns=["mailto:bob@shop.example"], tags=["lead"])
    carla = await create(tenant.client, name="Carla", urns=[f"tel:{LONDON}"], tags=["vip"])

    async def ids(**params: str) -> list[str]:
        response = await tenant.client.get("/api/v1/contacts", params=params)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["items"]]

    assert await ids() == [ana["id"], bob["id"], carla["id"]]
    assert await ids(query="SOUZA") == [ana["id"]]
    assert await ids(query="shop.example") == [bob["id"]]  # matches an address too
    assert await ids(query="44207946") == [carla["id"]]
    assert await ids(tag="vip") == [ana["id"], carla["id"]]
    assert await ids(tag="vip", query="carla") == [carla["id"]]
    assert await ids(tag="nobody") == []
    # The urn filter accepts any spelling of the address.
    assert await ids(urn="whatsapp:+55 11 99999-0000") == [ana["id"]]
    assert await ids(urn=f"tel:{BR}") == []


async def test_cursor_pagination_walks_every_contact_once(tenant: Tenant) -> None:
    created = [(await create(tenant.client, name=f"Person {i:02d}"))["id"] for i in range(23)]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 10}
        if cursor:
            params["after"] = cursor
        page = (await tenant.client.get("/api/v1/contacts", params=params)).json()
        pages += 1
        assert len(page["items"]) <= 10
        seen.extend(c["id"] for c in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 10, "pagination does not terminate"
    assert pages == 3
    assert seen == created  # creation order, nothing missed, nothing twice


async def test_exact_page_has_no_empty_next_page(tenant: Tenant) -> None:
    for i in range(4):
        await create(tenant.client, name=f"P{i}")
    first = (await tenant.client.get("/api/v1/contacts", params={"limit": 2})).json()
    second = (
        await tenant.client.get(
            "/api/v1/contacts", params={"limit": 2, "after": first["next_cursor"]}
        )
    ).json()
    assert len(second["items"]) == 2
    assert second["next_cursor"] is None


# --- update and addresses ---------------------------------------------------------------------


async def test_patch_changes_only_what_is_given(tenant: Tenant) -> None:
    await define_field(tenant.client, "city", "text")
    await define_field(tenant.client, "vip", "boolean")
    body = await create(
        tenant.client,
        name="Ana",
        urns=[f"tel:{BR}"],
        fields={"city": "SP", "vip": False},
        tags=["lead"],
        language="pt",
    )
    response = await tenant.client.patch(
        f"/api/v1/contacts/{body['id']}",
        json={"name": "Ana Souza", "fields": {"vip": True, "city": None}, "tags": ["customer"]},
    )
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["name"] == "Ana Souza"
    assert patched["fields"] == {"vip": True}  # None clears a field
    assert patched["tags"] == ["customer"]
    assert patched["language"] == "pt"
    assert patched["urns"] == [f"tel:{BR}"]
    assert patched["timezone"] == "America/Sao_Paulo"
    assert (await tenant.client.get(f"/api/v1/contacts/{body['id']}")).json() == patched

    bad = await tenant.client.patch(
        f"/api/v1/contacts/{body['id']}", json={"fields": {"vip": "maybe"}}
    )
    assert bad.status_code == 422
    assert bad.json()["where"] == "fields.vip"


async def test_add_and_remove_an_address(tenant: Tenant) -> None:
    body = await create(tenant.client, name="Ana", urns=["mailto:ana@example.com"])
    assert body["timezone"] is None
    added = await tenant.client.post(
        f"/api/v1/contacts/{body['id']}/urns", json={"urn": "whatsapp:+55 11 99999 0000"}
    )
    assert added.status_code == 200, added.text
    assert added.json()["urns"] == ["mailto:ana@example.com", "whatsapp:5511999990000"]
    assert added.json()["timezone"] == "America/Sao_Paulo"  # learnt from the new number

    again = await tenant.client.post(
        f"/api/v1/contacts/{body['id']}/urns", json={"urn": f"whatsapp:{BR}"}
    )
    assert again.status_code == 200
    assert again.json()["urns"] == ["mailto:ana@example.com", "whatsapp:5511999990000"]

    removed = await tenant.client.delete(f"/api/v1/contacts/{body['id']}/urns/whatsapp:{BR}")
    assert removed.status_code == 200, removed.text
    assert removed.json()["urns"] == ["mailto:ana@example.com"]
    gone = await tenant.client.delete(f"/api/v1/contacts/{body['id']}/urns/whatsapp:{BR}")
    assert gone.status_code == 404
    search = await tenant.client.get("/api/v1/contacts", params={"urn": f"whatsapp:{BR}"})
    assert search.json()["items"] == []


async def test_address_owned_by_another_contact_conflicts_naming_the_owner(
    tenant: Tenant,
) -> None:
    owner = await create(tenant.client, name="Owner", urns=[f"whatsapp:{BR}"])
    other = await create(tenant.client, name="Other")
    response = await tenant.client.post(
        f"/api/v1/contacts/{other['id']}/urns", json={"urn": "whatsapp:+55 11 99999-0000"}
    )
    assert response.status_code == 409
    error = response.json()
    assert error["error"] == "conflict"
    assert owner["id"] in error["message"]
    assert error["where"] == "urn"
    on_create = await tenant.client.post(
        "/api/v1/contacts", json={"urns": ["mailto:x@example.com", f"whatsapp:{BR}"]}
    )
    assert on_create.status_code == 409
    assert owner["id"] in on_create.json()["message"]
    assert on_create.json()["where"] == "urns[1]"
    # Nothing moved.
    assert (await tenant.client.get(f"/api/v1/contacts/{other['id']}")).json()["urns"] == []


# --- merge ------------------------------------------------------------------------------------


async def test_merge_moves_addresses_tags_events_and_consent(tenant: Tenant) -> None:
    client = tenant.client
    keep = await create(client, name="Ana", urns=["mailto:ana@example.com"], tags=["customer"])
    dup = await create(
        client, name="Ana S.", urns=[f"whatsapp:{BR}"], tags=["vip", "customer"], language="pt"
    )
    event = await client.post(
        "/api/v1/events",
        json={
            "idempotency_key": "order-1",
            "kind": "purchase",
            "contact_id": dup["id"],
            "value": "19.90",
            "currency": "BRL",
        },
    )
    assert event.status_code == 201, event.text
    grant = await client.post(
        f"/api/v1/contacts/{dup['id']}/consent",
        json={
            "action": "grant",
            "channel": "whatsapp",
            "topic": "marketing",
            "source": "widget",
            "disclosure": DISCLOSURE,
        },
    )
    assert grant.status_code == 201, grant.text
    wrote = await client.post(
        f"/api/v1/contacts/{dup['id']}/inbound",
        json={"channel": "whatsapp", "text": "oi", "timestamp": "2026-03-10T14:00:00Z"},
    )
    assert wrote.status_code == 200, wrote.text

    merged = await client.post(
        "/api/v1/contacts/merge", json={"keep_id": keep["id"], "merge_id": dup["id"]}
    )
    assert merged.status_code == 200, merged.text
    answer = merged.json()
    body = answer["contact"]
    assert body["id"] == keep["id"]
    moved = {table: n for table, n in answer["moved"].items() if n}
    assert moved == {
        "contact_urns": 1,
        "contact_tags": 1,  # "vip"; its "customer" was the kept contact's already
        "contact_events": 1,
        "consent_events": 1,
        "conversations": 1,  # the window the inbound "oi" opened
    }
    assert answer["combined"] == {"contact_tags": 1, "conversations": 0}
    assert body["name"] == "Ana"  # the kept contact's values win
    assert body["language"] == "pt"  # ...and fill what it lacked
    assert body["timezone"] == "America/Sao_Paulo"
    assert sorted(body["urns"]) == sorted(["mailto:ana@example.com", f"whatsapp:{BR[1:]}"])
    assert body["tags"] == ["customer", "vip"]

    events = (await client.get(f"/api/v1/contacts/{keep['id']}/events")).json()
    assert [e["id"] for e in events] == [event.json()["id"]]
    assert events[0]["contact_id"] == keep["id"]
    history = (await client.get(f"/api/v1/contacts/{keep['id']}/consent/history")).json()
    assert [h["id"] for h in history] == [grant.json()["id"]]
    state = (await client.get(f"/api/v1/contacts/{keep['id']}/consent")).json()
    assert {"channel": "whatsapp", "topic": "marketing", "status": "granted"} in state
    windows = (await client.get(f"/api/v1/contacts/{keep['id']}/conversations")).json()
    assert [(w["channel"], w["open"]) for w in windows] == [("whatsapp", True)]

    for path in ("", "/events", "/consent", "/consent/history", "/conversations"):
        gone = await client.get(f"/api/v1/contacts/{dup['id']}{path}")
        assert gone.status_code == 404, path
    found = await client.get("/api/v1/contacts", params={"urn": f"whatsapp:{BR}"})
    assert [c["id"] for c in found.json()["items"]] == [keep["id"]]


async def test_merge_refuses_a_contact_into_itself_and_unknown_ids(tenant: Tenant) -> None:
    ana = await create(tenant.client, name="Ana")
    itself = await tenant.client.post(
        "/api/v1/contacts/merge", json={"keep_id": ana["id"], "merge_id": ana["id"]}
    )
    assert itself.status_code == 422
    assert itself.json()["where"] == "merge_id"
    unknown = await tenant.client.post(
        "/api/v1/contacts/merge", json={"keep_id": ana["id"], "merge_id": "con_nope"}
    )
    assert unknown.status_code == 404
    assert (await tenant.client.get(f"/api/v1/contacts/{ana['id']}")).status_code == 200


# --- erasure ----------------------------------------------------------------------------------


async def test_erase_deletes_the_person_and_keeps_only_a_hash(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    client = tenant.client
    ana = await create(
        client, name="Ana Souza", urns=[f"whatsapp:{BR}", "mailto:ana.souza@example.com"]
    )
    for path, body in (
        ("/api/v1/events", {"idempotency_key": "e1", "kind": "custom", "name": "visit"}),
        (
            f"/api/v1/contacts/{ana['id']}/consent",
            {
                "action": "grant",
                "channel": "whatsapp",
                "topic": "marketing",
                "source": "widget",
                "address": f"whatsapp:{BR[1:]}",
                "disclosure": DISCLOSURE,
            },
        ),
        (
            f"/api/v1/contacts/{ana['id']}/inbound",
            {
                "channel": "whatsapp",
                "text": "Oi, sou a Ana Souza",
                "timestamp": "2026-03-10T14:00Z",
            },
        ),
    ):
        if path == "/api/v1/events":
            body["contact_id"] = ana["id"]
        response = await client.post(path, json=body)
        assert response.status_code in (200, 201), response.text
    erased = await client.delete(f"/api/v1/contacts/{ana['id']}")
    assert erased.status_code == 204
    assert erased.content == b""
    assert (await client.get(f"/api/v1/contacts/{ana['id']}")).status_code == 404
    assert (await client.get(f"/api/v1/contacts/{ana['id']}/events")).status_code == 404
    assert (await client.get("/api/v1/contacts", params={"query": "souza"})).json()["items"] == []
    assert (await client.delete(f"/api/v1/contacts/{ana['id']}")).status_code == 404

    # The address cannot come back, in any spelling, by create or by adding it to someone.
    again = await client.post("/api/v1/contacts", json={"urns": ["whatsapp:+55 11 99999-0000"]})
    assert again.status_code == 409, again.text
    assert "suppressed" in again.json()["message"]
    other = await create(client, name="Other")
    added = await client.post(
        f"/api/v1/contacts/{other['id']}/urns", json={"urn": "mailto:ana.souza@example.com"}
    )
    assert added.status_code == 409
    assert "suppressed" in added.json()["message"]

    async with sessions() as session:
        rows = list(await session.scalars(select(Suppression)))
        raw = (await session.execute(text("SELECT * FROM suppressions"))).all()
        everything = {
            table.name: (await session.execute(select(table))).all()
            for table in Base.metadata.sorted_tables
        }
    expected = {
        hashlib.sha256(f"whatsapp:{BR[1:]}".encode()).hexdigest(),
        hashlib.sha256(b"mailto:ana.souza@example.com").hexdigest(),
    }
    assert {r.address_sha256 for r in rows} == expected
    assert {r.reason for r in rows} == {"erasure request"}
    plaintexts = ("5511999990000", "ana.souza", "example.com", "souza")
    dump = repr(raw).lower()
    for plaintext in plaintexts:
        assert plaintext not in dump, f"suppressions table leaks {plaintext!r}"
    # Nothing else about her survives either: events, consent lines, conversations, addresses.
    for name, table_rows in everything.items():
        dumped = repr(table_rows).lower()
        assert ana["id"] not in dumped, f"{name} still refers to the erased contact"
        for plaintext in plaintexts:
            assert plaintext not in dumped, f"{name} still holds {plaintext!r}"
