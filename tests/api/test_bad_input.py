"""Bad input answers 422 saying what is wrong and where, and writes nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import Tenant
from threadline.contacts.models import Contact, ContactURN


async def counts(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with sessions() as session:
        contacts = await session.scalar(select(func.count()).select_from(Contact))
        urns = await session.scalar(select(func.count()).select_from(ContactURN))
    return int(contacts or 0), int(urns or 0)


def problem(response: Any, where: str) -> str:
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["error"] == "invalid_input"
    assert error["where"] == where
    assert error["message"]
    message: str = error["message"]
    return message


MALFORMED_URNS: list[tuple[str, str]] = [
    ("whatsapp:abc", "phone number"),
    ("tel:+1234", "not a valid phone number"),
    ("tel:+15555550123", "not a valid phone number"),
    ("fax:123", "unknown scheme 'fax'"),
    ("mailto:not-an-email", "not a valid email address"),
    ("instagram:jane_doe", "must be numeric"),
    ("messenger:123:456", "PSID) must be numeric"),
    ("+5511999990000", "missing scheme"),
    ("", "empty URN"),
]


async def test_malformed_urns_point_at_their_index_and_write_nothing(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    for bad, says in MALFORMED_URNS:
        response = await tenant.client.post(
            "/api/v1/contacts",
            json={"name": "Ana", "urns": ["whatsapp:+5511999990000", "mailto:a@example.com", bad]},
        )
        message = problem(response, "urns[2]")
        assert says in message, (bad, message)
    assert await counts(sessions) == (0, 0)


async def test_malformed_urn_on_the_single_address_routes(tenant: Tenant) -> None:
    created = await tenant.client.post("/api/v1/contacts", json={"name": "Ana"})
    cid = created.json()["id"]
    added = await tenant.client.post(f"/api/v1/contacts/{cid}/urns", json={"urn": "tel:+1234"})
    assert "not a valid phone number" in problem(added, "urn")
    removed = await tenant.client.delete(f"/api/v1/contacts/{cid}/urns/fax:1")
    assert "unknown scheme" in problem(removed, "urn")
    searched = await tenant.client.get("/api/v1/contacts", params={"urn": "whatsapp:abc"})
    assert "phone number" in problem(searched, "urn")
    assert (await tenant.client.get(f"/api/v1/contacts/{cid}")).json()["urns"] == []


UNKNOWN_FIELDS: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/api/v1/contacts", {"name": "Ana", "nickname": "Aninha"}, "nickname"),
    ("POST", "/api/v1/contacts", {"name": "Ana", "urn": "tel:+5511999990000"}, "urn"),
    ("POST", "/api/v1/topics", {"key": "news", "name": "News", "color": "red"}, "color"),
    ("POST", "/api/v1/fields", {"key": "city", "type": "text"}, "type"),
    ("POST", "/api/v1/api-keys", {"name": "k", "scopes": ["read"]}, "scopes"),
    ("PATCH", "/api/v1/workspace/settings", {"quiet_hour": {"start": "09:00"}}, "quiet_hour"),
]


async def test_unknown_fields_are_refused_by_name(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    for method, path, body, name in UNKNOWN_FIELDS:
        response = await tenant.client.request(method, path, json=body)
        assert response.status_code == 422, (path, response.text)
        error = response.json()
        assert error["where"] == name, (path, error)
        assert f"unknown field '{name}'" in error["message"], (path, error)
    assert await counts(sessions) == (0, 0)
    assert [t["key"] for t in (await tenant.client.get("/api/v1/topics")).json()] == ["marketing"]
    assert (await tenant.client.get("/api/v1/fields")).json() == []
    assert len((await tenant.client.get("/api/v1/api-keys")).json()) == 1


async def test_unknown_nested_fields_are_refused(tenant: Tenant) -> None:
    created = await tenant.client.post("/api/v1/contacts", json={"name": "Ana"})
    response = await tenant.client.post(
        f"/api/v1/contacts/{created.json()['id']}/consent",
        json={
            "action": "grant",
            "channel": "whatsapp",
            "topic": "marketing",
            "source": "widget",
            "disclosure": {"text": "Yes", "version": "1", "lang": "en"},
        },
    )
    assert "unknown field 'lang'" in problem(response, "disclosure.lang")


async def test_invalid_json_is_422(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    for content in (b'{"name": "Ana", ', b"not json at all", b"{'name': 'Ana'}"):
        response = await tenant.client.post(
            "/api/v1/contacts", content=content, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, response.text
        error = response.json()
        assert error["error"] == "invalid_input"
        assert "JSON" in error["message"]
        assert error["where"] == "body"
    assert await counts(sessions) == (0, 0)


async def test_a_body_that_is_not_an_object_is_422(tenant: Tenant) -> None:
    response = await tenant.client.post("/api/v1/contacts", json=["Ana"])
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_input"


WRONG_TYPES: list[tuple[dict[str, Any], str]] = [
    ({"name": 123}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"urns": "tel:+5511999990000"}, "urns"),
    ({"urns": [5511999990000]}, "urns[0]"),
    ({"tags": "vip"}, "tags"),
    ({"tags": ["vip", ""]}, "tags[1]"),
    ({"tags": [" "]}, "tags[0]"),
    ({"fields": ["city"]}, "fields"),
    ({"interests": [{"a": 1}]}, "interests[0]"),
    ({"urns": [f"mailto:p{i}@example.com" for i in range(21)]}, "urns"),
]


async def test_wrong_types_are_refused(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    for body, where in WRONG_TYPES:
        response = await tenant.client.post("/api/v1/contacts", json=body)
        problem(response, where)
    assert await counts(sessions) == (0, 0)


async def test_query_parameters_out_of_range(tenant: Tenant) -> None:
    created = await tenant.client.post("/api/v1/contacts", json={"name": "Ana"})
    cid = created.json()["id"]
    cases: list[tuple[str, dict[str, str], str]] = [
        ("/api/v1/contacts", {"limit": "0"}, "limit"),
        ("/api/v1/contacts", {"limit": "501"}, "limit"),
        ("/api/v1/contacts", {"limit": "ten"}, "limit"),
        ("/api/v1/contacts", {"query": "x" * 201}, "query"),
        ("/api/v1/contacts/CID/events", {"limit": "0"}, "limit"),
        ("/api/v1/contacts/CID/events", {"limit": "1001"}, "limit"),
    ]
    for path, params, where in cases:
        url = path.replace("CID", cid)
        problem(await tenant.client.get(url, params=params), where)
        fine = await tenant.client.get(url, params={"limit": "500"})
        assert fine.status_code == 200, (url, fine.text)


async def test_bad_time_zones_are_refused(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    for zone in ("Mars/Olympus_Mons", "EST5EDT/../../etc", ""):
        created = await tenant.client.post(
            "/api/v1/contacts", json={"name": "Ana", "timezone": zone}
        )
        assert f"unknown time zone '{zone}'" in problem(created, "timezone")
    assert await counts(sessions) == (0, 0)

    ok = await tenant.client.post(
        "/api/v1/contacts", json={"name": "Ana", "timezone": "America/Sao_Paulo"}
    )
    cid = ok.json()["id"]
    patched = await tenant.client.patch(f"/api/v1/contacts/{cid}", json={"timezone": "Nowhere"})
    problem(patched, "timezone")
    assert (await tenant.client.get(f"/api/v1/contacts/{cid}")).json()[
        "timezone"
    ] == "America/Sao_Paulo"

    setting = await tenant.client.patch(
        "/api/v1/workspace/settings", json={"default_timezone": "Mars/Olympus_Mons"}
    )
    assert "unknown time zone" in problem(setting, "default_timezone")
    workspace = (await tenant.client.get("/api/v1/workspace")).json()
    assert workspace["settings"]["default_timezone"] == "UTC"


async def test_errors_name_what_and_where_for_enum_values(tenant: Tenant) -> None:
    created = await tenant.client.post(
        "/api/v1/contacts", json={"name": "Ana", "urns": ["whatsapp:+5511999990000"]}
    )
    response = await tenant.client.post(
        "/api/v1/policy/explain",
        json={"contact_id": created.json()["id"], "channel": "telegram", "purpose": "service"},
    )
    message = problem(response, "channel")
    assert "whatsapp" in message
