"""API keys, and the wall between workspaces: A can neither see nor touch B's data."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import T0, Tenant
from threadline.kit.ids import new_id
from threadline.models import Base
from threadline.templates.models import Template

BR = "+5511999990000"
BR_2 = "+5511999990001"
DISCLOSURE = {"text": "Yes, send me offers. Reply STOP to opt out.", "version": "v1"}


def app_of(client: httpx.AsyncClient) -> FastAPI:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    app = transport.app
    assert isinstance(app, FastAPI)
    return app


def api_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app serves under /api/v1, hidden from the schema or not."""
    routes: Sequence[Any]
    try:  # FastAPI >= 0.16x keeps included routers nested; this flattens them.
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI lists flat APIRoutes
        routes = app.routes
    else:
        routes = list(iter_route_contexts(app.routes))
    found = {
        (method, path)
        for route in routes
        if isinstance(path := getattr(route, "path", None), str) and path.startswith("/api/v1/")
        for method in (getattr(route, "methods", None) or ())
        if method != "HEAD"
    }
    # The published schema must agree: a route missing from one of them is a finding too.
    documented = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/api/v1/")
        for method in operations
    }
    assert documented <= found, sorted(documented - found)
    return found


# --- authentication ---------------------------------------------------------------------------


async def test_requests_without_a_valid_key_are_401(
    app_client: httpx.AsyncClient, tenant: Tenant
) -> None:
    cases: list[tuple[dict[str, str], str]] = [
        ({}, "Authorization: Bearer"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "Authorization: Bearer"),
        ({"Authorization": "Bearer"}, "Authorization: Bearer"),
        ({"Authorization": "Bearer tl_not-a-real-key"}, "invalid or revoked API key"),
        ({"Authorization": "tl_not-a-real-key"}, "Authorization: Bearer"),
    ]
    for headers, message in cases:
        response = await app_client.get("/api/v1/contacts", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"] == "Bearer"
        error = response.json()
        assert error["error"] == "unauthorized"
        assert message in error["message"], (headers, error)


async def test_the_key_of_workspace_a_with_a_wrong_scheme_is_refused(
    app_client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await app_client.get(
        "/api/v1/workspace", headers={"Authorization": f"Token {tenant.api_key}"}
    )
    assert response.status_code == 401
    ok = await app_client.get(
        "/api/v1/workspace", headers={"Authorization": f"bearer {tenant.api_key}"}
    )
    assert ok.status_code == 200


async def test_every_api_route_requires_a_key(
    app_client: httpx.AsyncClient, tenant: Tenant
) -> None:
    routes = api_routes(app_of(app_client))
    assert len(routes) >= 25
    for method, path in sorted(routes):
        url = re.sub(r"\{[^}]+\}", "x_1", path)
        response = await app_client.request(method, url)
        assert response.status_code == 401, (method, path, response.text)


async def test_a_new_key_is_shown_once_works_and_can_be_revoked(
    app_client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await tenant.client.post("/api/v1/api-keys", json={"name": "zapier"})
    assert created.status_code == 201, created.text
    body = created.json()
    key = body["key"]
    assert key.startswith("tl_")
    assert len(key) > 30
    assert body["hint"] == key[:7]
    assert body["name"] == "zapier"
    assert body["revoked_at"] is None

    as_new = {"Authorization": f"Bearer {key}"}
    me = await app_client.get("/api/v1/workspace", headers=as_new)
    assert me.status_code == 200
    assert me.json()["id"] == tenant.id

    listed = await tenant.client.get("/api/v1/api-keys")
    assert listed.status_code == 200
    assert [k["name"] for k in listed.json()] == ["initial key", "zapier"]
    assert key not in listed.text  # the secret is never shown again
    assert all("key" not in k for k in listed.json())
    assert listed.json()[1]["hint"] == key[:7]

    revoked = await tenant.client.delete(f"/api/v1/api-keys/{body['id']}")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    refused = await app_client.get("/api/v1/workspace", headers=as_new)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["message"]
    # The other key is unaffected.
    assert (await tenant.client.get("/api/v1/workspace")).status_code == 200
    listed = (await tenant.client.get("/api/v1/api-keys")).json()
    assert [k["revoked_at"] is not None for k in listed] == [False, True]


async def test_an_empty_key_name_is_refused(tenant: Tenant) -> None:
    response = await tenant.client.post("/api/v1/api-keys", json={"name": ""})
    assert response.status_code == 422
    assert response.json()["where"] == "name"


async def test_revoking_an_unknown_key_is_404(tenant: Tenant) -> None:
    response = await tenant.client.delete("/api/v1/api-keys/key_missing")
    assert response.status_code == 404


# --- isolation --------------------------------------------------------------------------------


@dataclass
class World:
    """What workspace B holds (and A must never reach), plus a contact of A's own."""

    b_contact: str
    b_contact_2: str
    b_urn: str
    b_event: str
    b_event_key: str
    b_consent: str
    b_key: str
    b_user: str
    b_channel: str
    b_message: str
    a_contact: str
    b_flow: str = ""
    b_session: str = ""
    b_ticket: str = ""
    b_template: str = ""
    b_broadcast: str = ""
    b_page: str = ""
    secrets: list[str] = field(default_factory=list)


async def _ok(response: httpx.Response, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def whatsapp_channel(phone_number_id: str, name: str) -> dict[str, str]:
    return {
        "phone_number_id": phone_number_id,
        "waba_id": "2000000001",
        "access_token": "b-secret-token" if name.startswith("Bravo") else "a-token",
        "app_secret": "app-secret",
        "verify_token": "verify-token",
        "name": name,
        # Never contacted by these tests; a closed local port if anything tried.
        "graph_url": "http://127.0.0.1:9",
    }


def meta_channel(**ids: str) -> dict[str, str]:
    return {
        **ids,
        "access_token": "a-token",
        "app_secret": "app-secret",
        "verify_token": "verify-token",
        "graph_url": "http://127.0.0.1:9",
    }


B_FLOW = """
format: 1
flow: bravo_flow
name: Bravo flow
triggers: [{api: true}]
start: hello
nodes:
  - {id: hello, type: say, text: Bravo secret greeting, next: size}
  - id: size
    type: ask
    text: Size?
    choices: [{id: s, title: Small}, {id: l, title: Large}]
    next: done
  - {id: done, type: end}
"""


async def build_world(a: Tenant, b: Tenant) -> World:
    bc = b.client
    await _ok(await bc.post("/api/v1/fields", json={"key": "b_city", "value_type": "text"}))
    await _ok(await bc.post("/api/v1/topics", json={"key": "b_news", "name": "B News"}))
    urn = f"whatsapp:{BR[1:]}"
    contact = await _ok(
        await bc.post(
            "/api/v1/contacts",
            json={
                "name": "Bea Bravo-Secret",
                "urns": [urn, "mailto:bea@bravo.example"],
                "fields": {"b_city": "Recife"},
                "tags": ["vip-bravo"],
            },
        )
    )
    second = await _ok(await bc.post("/api/v1/contacts", json={"name": "Bruno Bravo-Other"}))
    event = await _ok(
        await bc.post(
            "/api/v1/events",
            json={
                "idempotency_key": "b-order-1",
                "kind": "purchase",
                "contact_id": contact["id"],
                "value": "10",
                "currency": "BRL",
            },
        )
    )
    consent = await _ok(
        await bc.post(
            f"/api/v1/contacts/{contact['id']}/consent",
            json={
                "action": "grant",
                "channel": "whatsapp",
                "topic": "b_news",
                "source": "widget",
                "disclosure": DISCLOSURE,
            },
        )
    )
    await _ok(
        await bc.post(
            f"/api/v1/contacts/{contact['id']}/inbound",
            json={"channel": "whatsapp", "text": "hi", "timestamp": T0.isoformat()},
        ),
        200,
    )
    user = await _ok(
        await bc.post(
            "/api/v1/users",
            json={"email": "owner@bravo.example", "password": "correct horse", "role": "owner"},
        )
    )
    keys = await _ok(await bc.get("/api/v1/api-keys"), 200)
    channel = await _ok(
        await bc.post("/api/v1/channels/whatsapp", json=whatsapp_channel("1098765432", "Bravo WA"))
    )
    message = await _ok(
        await bc.post(
            "/api/v1/messages",
            json={
                "contact_id": contact["id"],
                "purpose": "service",
                "content": {"type": "text", "body": "Ola Bea, your order shipped"},
                "idempotency_key": "b-msg-1",
            },
        )
    )
    flow = await _ok(await bc.post("/api/v1/flows", json={"source": B_FLOW}))
    session = await _ok(
        await bc.post(f"/api/v1/flows/{flow['id']}/start", json={"contact_id": contact["id"]})
    )
    ticket = await _ok(
        await bc.post(
            f"/api/v1/contacts/{contact['id']}/tickets",
            json={"summary": "Bravo ticket secret", "team": "bravo-team"},
        )
    )
    await _ok(
        await bc.put("/api/v1/secrets/bravo_token", json={"value": "bravo-secret-value"}), 200
    )
    # A's own data: a contact reachable on WhatsApp, and a number to send from.
    mine = await _ok(
        await a.client.post(
            "/api/v1/contacts", json={"name": "Alice of A", "urns": [f"whatsapp:{BR_2}"]}
        )
    )
    await _ok(
        await a.client.post("/api/v1/channels/whatsapp", json=whatsapp_channel("1012345678", "A"))
    )
    world = World(
        b_contact=contact["id"],
        b_contact_2=second["id"],
        b_urn=urn,
        b_event=event["id"],
        b_event_key="b-order-1",
        b_consent=consent["id"],
        b_key=keys[0]["id"],
        b_user=user["id"],
        b_channel=channel["id"],
        b_message=message["id"],
        a_contact=mine["id"],
        b_flow=flow["id"],
        b_session=session["id"],
        b_ticket=ticket["id"],
    )
    broadcast = await _ok(
        await bc.post(
            "/api/v1/broadcasts",
            json={
                "name": "Bravo secret sale",
                "audience": 'tag("vip-bravo")',
                "channels": ["whatsapp"],
                "content": {"default": {"type": "text", "body": "Bravo secret offer"}},
            },
        )
    )
    world.b_broadcast = broadcast["id"]
    await _ok(await bc.put("/api/v1/commerce/products/BRAVO-SKU", json=BRAVO_PRODUCT), 200)
    page = await _ok(
        await bc.post(
            "/api/v1/growth/pages",
            json={"topic": "b_news", "title": "Bravo secret club", "disclosure": "Bravo words"},
        )
    )
    world.b_page = page["id"]
    await _ok(
        await bc.post(f"/api/v1/growth/pages/{world.b_page}/links", json={"ref": "bravoposter"})
    )
    world.secrets += [world.b_page, "Bravo secret club", "bravoposter"]
    world.secrets = [
        "BRAVO-SKU",
        "Bravo secret product",
        world.b_broadcast,
        "Bravo secret sale",
        world.b_flow,
        world.b_session,
        world.b_ticket,
        "Bravo secret greeting",
        "Bravo ticket secret",
        "bravo_token",
        "bravo-secret-value",
        "bravo-team",
        b.id,
        world.b_contact,
        world.b_contact_2,
        world.b_event,
        world.b_consent,
        world.b_key,
        world.b_user,
        world.b_channel,
        world.b_message,
        "1098765432",
        "Bravo WA",
        "b-secret-token",
        "Ola Bea",
        "b-msg-1",
        "Bea Bravo-Secret",
        "Bruno Bravo-Other",
        "bravo.example",
        urn,
        "Recife",
        "vip-bravo",
        "b_city",
        "b_news",
        "b-order-1",
    ]
    return world


async def b_snapshot(b: Tenant, world: World, sessions: async_sessionmaker[AsyncSession]) -> Any:
    """B's data as B sees it through the API, and every row of B's in every table."""
    api: dict[str, Any] = {}
    for path in (
        "/api/v1/workspace",
        "/api/v1/users",
        "/api/v1/api-keys",
        "/api/v1/fields",
        "/api/v1/topics",
        "/api/v1/contacts",
        f"/api/v1/contacts/{world.b_contact}",
        f"/api/v1/contacts/{world.b_contact_2}",
        f"/api/v1/contacts/{world.b_contact}/events",
        f"/api/v1/contacts/{world.b_contact}/consent",
        f"/api/v1/contacts/{world.b_contact}/consent/history",
        f"/api/v1/contacts/{world.b_contact}/conversations",
        f"/api/v1/contacts/{world.b_contact}/messages",
        f"/api/v1/messages/{world.b_message}",
        f"/api/v1/channels/{world.b_channel}",
        "/api/v1/channels",
        "/api/v1/flows",
        f"/api/v1/flows/{world.b_flow}",
        f"/api/v1/flows/{world.b_flow}/analytics",
        f"/api/v1/flow-sessions/{world.b_session}",
        f"/api/v1/contacts/{world.b_contact}/flow-sessions",
        "/api/v1/tickets",
        f"/api/v1/tickets/{world.b_ticket}",
        "/api/v1/secrets",
        "/api/v1/broadcasts",
        f"/api/v1/broadcasts/{world.b_broadcast}",
        "/api/v1/commerce/products",
        "/api/v1/growth/pages",
        f"/api/v1/growth/pages/{world.b_page}",
        f"/api/v1/growth/pages/{world.b_page}/links",
        "/api/v1/reports/growth",
    ):
        response = await b.client.get(path)
        assert response.status_code == 200, (path, response.text)
        api[path] = response.json()
    rows: dict[str, list[Any]] = {}
    async with sessions() as session:
        for table in Base.metadata.sorted_tables:
            result = await session.execute(
                select(table).where(table.c.workspace_id == b.id).order_by(*table.primary_key)
            )
            rows[table.name] = [tuple(r) for r in result.all()]
    return api, rows


@dataclass
class Probe:
    method: str
    url: str
    json: Any = None
    params: dict[str, str] | None = None
    # 404 for B's ids in the path; 404/422 for bodies naming them; a success code where A
    # acts on its own data (the answer must then carry nothing of B's).
    expect: tuple[int, ...] = (404,)
    check: Callable[[httpx.Response], None] | None = None


def _not_b(world: World, *ids: str) -> Callable[[httpx.Response], None]:
    def check(response: httpx.Response) -> None:
        body = response.json()
        theirs = (world.b_contact, world.b_contact_2, world.b_event, world.b_channel)
        for key in ids:
            assert body[key] not in (*theirs, world.b_message), body

    return check


def _nobody(response: httpx.Response) -> None:
    if response.status_code == 200:
        assert response.json()["total"] == 0, response.text


def _route_not_b(world: World) -> Callable[[httpx.Response], None]:
    def check(response: httpx.Response) -> None:
        assert all(rung["channel_id"] != world.b_channel for rung in response.json())

    return check


def probes_for(world: World) -> dict[tuple[str, str], list[Probe]]:
    """One entry for every /api/v1 route: how A tries to reach B's data through it."""
    c = f"/api/v1/contacts/{world.b_contact}"
    body_ids = (404, 422)
    return {
        ("GET", "/api/v1/workspace"): [Probe("GET", "/api/v1/workspace", expect=(200,))],
        ("PATCH", "/api/v1/workspace/settings"): [
            Probe(
                "PATCH",
                "/api/v1/workspace/settings",
                json={"business_name": "A renamed", "global_control_percent": 10},
                expect=(200,),
            )
        ],
        ("GET", "/api/v1/users"): [Probe("GET", "/api/v1/users", expect=(200,))],
        ("POST", "/api/v1/users"): [
            # The same email in another workspace is no conflict (and reveals nothing).
            Probe(
                "POST",
                "/api/v1/users",
                json={"email": "owner@bravo.example", "password": "another pass", "role": "agent"},
                expect=(201,),
            )
        ],
        ("GET", "/api/v1/api-keys"): [Probe("GET", "/api/v1/api-keys", expect=(200,))],
        ("POST", "/api/v1/api-keys"): [
            Probe("POST", "/api/v1/api-keys", json={"name": "probe"}, expect=(201,))
        ],
        ("DELETE", "/api/v1/api-keys/{key_id}"): [
            Probe("DELETE", f"/api/v1/api-keys/{world.b_key}")
        ],
        ("GET", "/api/v1/contacts"): [
            Probe("GET", "/api/v1/contacts", expect=(200,)),
            Probe("GET", "/api/v1/contacts", params={"query": "bravo"}, expect=(200,)),
            Probe("GET", "/api/v1/contacts", params={"tag": "vip-bravo"}, expect=(200,)),
            Probe("GET", "/api/v1/contacts", params={"urn": world.b_urn}, expect=(200,)),
            Probe("GET", "/api/v1/contacts", params={"after": "con_0"}, expect=(200,)),
        ],
        ("POST", "/api/v1/contacts"): [
            # B's address is free in A: a 409 here would tell A that B knows this person.
            Probe(
                "POST",
                "/api/v1/contacts",
                json={"urns": [world.b_urn]},
                expect=(201,),
                check=_not_b(world, "id"),
            )
        ],
        ("GET", "/api/v1/contacts/{contact_id}"): [Probe("GET", c)],
        ("PATCH", "/api/v1/contacts/{contact_id}"): [
            Probe("PATCH", c, json={"name": "Hijacked", "tags": []})
        ],
        ("DELETE", "/api/v1/contacts/{contact_id}"): [Probe("DELETE", c)],
        ("POST", "/api/v1/contacts/{contact_id}/urns"): [
            Probe("POST", f"{c}/urns", json={"urn": "mailto:thief@alpha.example"})
        ],
        ("DELETE", "/api/v1/contacts/{contact_id}/urns/{urn}"): [
            Probe("DELETE", f"{c}/urns/{world.b_urn}")
        ],
        ("POST", "/api/v1/contacts/merge"): [
            Probe(
                "POST",
                "/api/v1/contacts/merge",
                json={"keep_id": world.a_contact, "merge_id": world.b_contact},
                expect=body_ids,
            ),
            Probe(
                "POST",
                "/api/v1/contacts/merge",
                json={"keep_id": world.b_contact, "merge_id": world.a_contact},
                expect=body_ids,
            ),
            Probe(
                "POST",
                "/api/v1/contacts/merge",
                json={"keep_id": world.b_contact, "merge_id": world.b_contact_2},
                expect=body_ids,
            ),
        ],
        ("GET", "/api/v1/fields"): [Probe("GET", "/api/v1/fields", expect=(200,))],
        ("POST", "/api/v1/fields"): [
            Probe("POST", "/api/v1/fields", json={"key": "b_city"}, expect=(201,))
        ],
        ("POST", "/api/v1/events"): [
            Probe(
                "POST",
                "/api/v1/events",
                json={
                    "idempotency_key": "a-1",
                    "kind": "custom",
                    "name": "x",
                    "contact_id": world.b_contact,
                },
                expect=body_ids,
            ),
            # B's idempotency key means nothing in A: a new event, not B's stored one.
            Probe(
                "POST",
                "/api/v1/events",
                json={
                    "idempotency_key": world.b_event_key,
                    "kind": "purchase",
                    "contact_id": world.a_contact,
                    "value": "10",
                    "currency": "BRL",
                },
                expect=(201,),
                check=_not_b(world, "id", "contact_id"),
            ),
            # B's address names nobody in A's workspace (or A's own contact).
            Probe(
                "POST",
                "/api/v1/events",
                json={"idempotency_key": "a-2", "kind": "custom", "name": "x", "urn": world.b_urn},
                expect=(201,),
                check=_not_b(world, "contact_id"),
            ),
        ],
        ("GET", "/api/v1/contacts/{contact_id}/events"): [Probe("GET", f"{c}/events")],
        ("GET", "/api/v1/topics"): [Probe("GET", "/api/v1/topics", expect=(200,))],
        ("POST", "/api/v1/topics"): [
            Probe("POST", "/api/v1/topics", json={"key": "b_news", "name": "A's"}, expect=(201,))
        ],
        ("POST", "/api/v1/contacts/{contact_id}/consent"): [
            Probe(
                "POST",
                f"{c}/consent",
                json={"action": "revoke", "channel": "*", "topic": "*", "source": "api"},
            ),
            Probe(
                "POST",
                f"{c}/consent",
                json={
                    "action": "grant",
                    "channel": "whatsapp",
                    "topic": "marketing",
                    "source": "api",
                    "disclosure": DISCLOSURE,
                },
            ),
        ],
        ("GET", "/api/v1/contacts/{contact_id}/consent"): [Probe("GET", f"{c}/consent")],
        ("GET", "/api/v1/contacts/{contact_id}/consent/history"): [
            Probe("GET", f"{c}/consent/history")
        ],
        ("POST", "/api/v1/contacts/{contact_id}/inbound"): [
            Probe(
                "POST",
                f"{c}/inbound",
                json={"channel": "whatsapp", "text": "STOPALL", "timestamp": T0.isoformat()},
            )
        ],
        ("GET", "/api/v1/contacts/{contact_id}/conversations"): [
            Probe("GET", f"{c}/conversations")
        ],
        ("POST", "/api/v1/policy/explain"): [
            Probe(
                "POST",
                "/api/v1/policy/explain",
                json={"contact_id": world.b_contact, "channel": "whatsapp", "purpose": "service"},
                expect=body_ids,
            )
        ],
        ("GET", "/api/v1/policy/reasons"): [Probe("GET", "/api/v1/policy/reasons", expect=(200,))],
        ("GET", "/api/v1/channels"): [Probe("GET", "/api/v1/channels", expect=(200,))],
        ("POST", "/api/v1/channels/whatsapp"): [
            Probe(
                "POST",
                "/api/v1/channels/whatsapp",
                json=whatsapp_channel("1012345679", "A second"),
                expect=(201,),
            )
        ],
        # Registering is not reading: A gets its own page/account, B's stay out of A's list.
        ("POST", "/api/v1/channels/messenger"): [
            Probe(
                "POST",
                "/api/v1/channels/messenger",
                json=meta_channel(page_id="3012345678"),
                expect=(201,),
            )
        ],
        ("POST", "/api/v1/channels/instagram"): [
            Probe(
                "POST",
                "/api/v1/channels/instagram",
                json=meta_channel(account_id="4012345678", page_id="3012345678"),
                expect=(201,),
            )
        ],
        ("POST", "/api/v1/channels/sms"): [
            Probe(
                "POST",
                "/api/v1/channels/sms",
                json={"from": "+14155550111", "account_sid": "AC" + "cd" * 16, "auth_token": "t"},
                expect=(201,),
            )
        ],
        ("POST", "/api/v1/channels/email"): [
            Probe(
                "POST",
                "/api/v1/channels/email",
                json={"from": "a@shop.example", "smtp_url": "smtp://relay.example:25"},
                expect=(201,),
            )
        ],
        ("POST", "/api/v1/channels/apple"): [
            Probe(
                "POST",
                "/api/v1/channels/apple",
                json={"business_id": "biz-a", "msp_id": "msp-a", "secret": "c2VjcmV0"},
                expect=(201,),
            )
        ],
        # A's segments count A's contacts only: B's tag matches nobody here.
        ("POST", "/api/v1/segments/count"): [
            Probe(
                "POST",
                "/api/v1/segments/count",
                json={"query": 'tag("vip-bravo")'},
                expect=(200,),
                check=_nobody,
            )
        ],
        ("POST", "/api/v1/segments/estimate"): [
            Probe(
                "POST",
                "/api/v1/segments/estimate",
                json={"query": 'tag("vip-bravo")', "channel": "whatsapp", "purpose": "marketing"},
                expect=(200, 422),
                check=_nobody,
            )
        ],
        **broadcast_probes(world),
        **commerce_probes(world),
        # A's calendar: A's broadcasts and automations only (B's names are in the secrets).
        ("GET", "/api/v1/calendar"): [
            Probe("GET", "/api/v1/calendar", expect=(200,), check=_no_b_calendar)
        ],
        **growth_probes(world),
        # B's contact has no route in A; A's own contact is routed on A's channels only.
        ("POST", "/api/v1/messages/route"): [
            Probe(
                "POST",
                "/api/v1/messages/route",
                json={
                    "contact_id": world.b_contact,
                    "purpose": "service",
                    "content": {"type": "text", "body": "hi"},
                },
                expect=body_ids,
            ),
            Probe(
                "POST",
                "/api/v1/messages/route",
                json={
                    "contact_id": world.a_contact,
                    "purpose": "service",
                    "content": {"type": "text", "body": "hi"},
                },
                expect=(200,),
                check=_route_not_b(world),
            ),
        ],
        ("GET", "/api/v1/channels/{channel_id}"): [
            Probe("GET", f"/api/v1/channels/{world.b_channel}")
        ],
        ("POST", "/api/v1/channels/{channel_id}/templates/sync"): [
            Probe("POST", f"/api/v1/channels/{world.b_channel}/templates/sync")
        ],
        ("POST", "/api/v1/messages"): [
            Probe(
                "POST",
                "/api/v1/messages",
                json={
                    "contact_id": world.b_contact,
                    "purpose": "service",
                    "content": {"type": "text", "body": "hi"},
                },
                expect=body_ids,
            ),
            # A's own contact, sent from B's number.
            Probe(
                "POST",
                "/api/v1/messages",
                json={
                    "contact_id": world.a_contact,
                    "channel_id": world.b_channel,
                    "purpose": "service",
                    "content": {"type": "text", "body": "hi"},
                },
                expect=body_ids,
            ),
            # B's idempotency key means nothing in A: never B's stored message.
            Probe(
                "POST",
                "/api/v1/messages",
                json={
                    "contact_id": world.a_contact,
                    "purpose": "service",
                    "content": {"type": "text", "body": "hi"},
                    "idempotency_key": "b-msg-1",
                },
                expect=(201,),
                check=_not_b(world, "id", "contact_id", "channel_id"),
            ),
        ],
        ("GET", "/api/v1/messages/{message_id}"): [
            Probe("GET", f"/api/v1/messages/{world.b_message}")
        ],
        ("GET", "/api/v1/messages/{message_id}/media"): [
            Probe("GET", f"/api/v1/messages/{world.b_message}/media")
        ],
        ("GET", "/api/v1/contacts/{contact_id}/messages"): [Probe("GET", f"{c}/messages")],
        ("GET", "/api/v1/flows"): [Probe("GET", "/api/v1/flows", expect=(200,))],
        ("POST", "/api/v1/channels/{channel_id}/templates"): [
            Probe(
                "POST",
                f"/api/v1/channels/{world.b_channel}/templates",
                json={
                    "source": "name: probe\ncategory: UTILITY\nlanguage: en_US\n"
                    "components: {body: {text: Hello there}}\n"
                },
            )
        ],
        ("GET", "/api/v1/templates"): [
            Probe("GET", "/api/v1/templates", expect=(200,), check=_empty_list)
        ],
        ("GET", "/api/v1/templates/{template_id}"): [
            Probe("GET", f"/api/v1/templates/{world.b_template}")
        ],
        ("PATCH", "/api/v1/templates/{template_id}"): [
            Probe(
                "PATCH",
                f"/api/v1/templates/{world.b_template}",
                json={
                    "source": "name: bravo_secret_offer\ncategory: MARKETING\n"
                    "language: en_US\ncomponents: {body: {text: Mine now}}\n"
                },
            )
        ],
        ("GET", "/api/v1/secrets"): [
            Probe("GET", "/api/v1/secrets", expect=(200,), check=_empty_list)
        ],
        ("PUT", "/api/v1/secrets/{name}"): [
            # The same name in A is A's own secret; B's stays as it was (the row snapshot).
            Probe("PUT", "/api/v1/secrets/bravo_token", json={"value": "alpha"}, expect=(200,))
        ],
        ("DELETE", "/api/v1/secrets/{name}"): [
            Probe("DELETE", "/api/v1/secrets/bravo_token", expect=(204, 404))
        ],
        ("GET", "/api/v1/reports/cost"): [
            # A sent nothing: B's spend must not show up in A's report.
            Probe("GET", "/api/v1/reports/cost", expect=(200,), check=_empty_report),
            Probe("GET", "/api/v1/reports/cost", params={"group_by": "campaign"}, expect=(200,)),
        ],
        ("POST", "/api/v1/flows"): [
            # The same key in A is A's own flow, version 1: B's versions are not A's.
            Probe(
                "POST",
                "/api/v1/flows",
                json={"source": B_FLOW.replace("Bravo secret greeting", "Alpha hello")},
                expect=(201,),
                check=_version_one(world),
            )
        ],
        ("GET", "/api/v1/flows/{flow_id}"): [
            Probe("GET", f"/api/v1/flows/{world.b_flow}"),
        ],
        ("POST", "/api/v1/flows/{flow_id}/start"): [
            Probe(
                "POST",
                f"/api/v1/flows/{world.b_flow}/start",
                json={"contact_id": world.a_contact},
            ),
        ],
        ("GET", "/api/v1/flows/{flow_id}/analytics"): [
            Probe("GET", f"/api/v1/flows/{world.b_flow}/analytics"),
            Probe("GET", f"/api/v1/flows/{world.b_flow}/analytics", params={"format": "csv"}),
        ],
        ("GET", "/api/v1/flow-sessions/{session_id}"): [
            Probe("GET", f"/api/v1/flow-sessions/{world.b_session}")
        ],
        ("POST", "/api/v1/flow-sessions/{session_id}/end"): [
            Probe("POST", f"/api/v1/flow-sessions/{world.b_session}/end")
        ],
        ("GET", "/api/v1/contacts/{contact_id}/flow-sessions"): [
            Probe("GET", f"{c}/flow-sessions")
        ],
        ("GET", "/api/v1/tickets"): [
            Probe("GET", "/api/v1/tickets", expect=(200,)),
            Probe("GET", "/api/v1/tickets", params={"team": "bravo-team"}, expect=(200,)),
            Probe("GET", "/api/v1/tickets", params={"contact_id": world.b_contact}, expect=(200,)),
        ],
        ("POST", "/api/v1/contacts/{contact_id}/tickets"): [
            Probe("POST", f"{c}/tickets", json={"summary": "taking over"})
        ],
        ("GET", "/api/v1/tickets/{ticket_id}"): [Probe("GET", f"/api/v1/tickets/{world.b_ticket}")],
        ("PATCH", "/api/v1/tickets/{ticket_id}"): [
            Probe("PATCH", f"/api/v1/tickets/{world.b_ticket}", json={"assignee": "mallory"})
        ],
        ("POST", "/api/v1/tickets/{ticket_id}/replies"): [
            Probe("POST", f"/api/v1/tickets/{world.b_ticket}/replies", json={"text": "hi"})
        ],
        ("POST", "/api/v1/tickets/{ticket_id}/resolve"): [
            Probe("POST", f"/api/v1/tickets/{world.b_ticket}/resolve", json={})
        ],
    }


def growth_probes(world: World) -> dict[tuple[str, str], list[Probe]]:
    """B's sign-up page is 404 to A; A's own page, links, checkout and report are A's only."""
    path = "/api/v1/growth/pages/{page_id}"
    b = f"/api/v1/growth/pages/{world.b_page}"
    checkout = {
        "checked": True,
        "channels": ["email"],
        "topic": "marketing",
        "email": "bea@bravo.example",
        "disclosure_text": "Email me offers",
        "disclosure_version": "a1",
    }
    return {
        ("GET", "/api/v1/growth/pages"): [
            Probe("GET", "/api/v1/growth/pages", expect=(200,), check=_empty_list)
        ],
        ("POST", "/api/v1/growth/pages"): [
            # B's topic is unknown in A (unless A made its own of that name, another probe).
            Probe(
                "POST",
                "/api/v1/growth/pages",
                json={"topic": "b_news", "title": "A's", "disclosure": "A", "keyword": "ANEWS"},
                expect=(201, 422),
            ),
            Probe(
                "POST",
                "/api/v1/growth/pages",
                json={"topic": "marketing", "title": "A's", "disclosure": "A words"},
                expect=(201,),
            ),
        ],
        ("GET", path): [Probe("GET", b)],
        ("PATCH", path): [Probe("PATCH", b, json={"title": "Hijacked"})],
        ("DELETE", path): [Probe("DELETE", b)],
        ("GET", f"{path}/links"): [Probe("GET", f"{b}/links")],
        ("POST", f"{path}/links"): [Probe("POST", f"{b}/links", json={"ref": "mine"})],
        # B's address is nobody in A: a new contact of A's, never B's.
        ("POST", "/api/v1/growth/checkout-optins"): [
            Probe(
                "POST",
                "/api/v1/growth/checkout-optins",
                json=checkout,
                expect=(201,),
                check=_no_b_grant(world),
            )
        ],
        ("GET", "/api/v1/reports/growth"): [
            Probe(
                "GET",
                "/api/v1/reports/growth",
                params={"from": "2026-03-01", "to": "2026-03-31"},
                expect=(200,),
            )
        ],
    }


def _no_b_grant(world: World) -> Callable[[httpx.Response], None]:
    def check(response: httpx.Response) -> None:
        for granted in response.json()["granted"]:
            assert granted["contact_id"] not in (world.b_contact, world.b_contact_2)

    return check


def broadcast_probes(world: World) -> dict[tuple[str, str], list[Probe]]:
    """B's broadcast is 404 to A whatever A asks of it; A's own reaches none of B's people."""
    path = "/api/v1/broadcasts/{broadcast_id}"
    b = f"/api/v1/broadcasts/{world.b_broadcast}"
    mine = {
        "name": "A's sale",
        "audience": 'tag("vip-bravo")',
        "channels": ["whatsapp"],
        "content": {"default": {"type": "text", "body": "hi"}},
    }
    probes: dict[tuple[str, str], list[Probe]] = {
        ("GET", "/api/v1/broadcasts"): [
            Probe("GET", "/api/v1/broadcasts", expect=(200,), check=_no_broadcasts)
        ],
        ("POST", "/api/v1/broadcasts"): [
            Probe("POST", "/api/v1/broadcasts", json=mine, expect=(201,))
        ],
        ("GET", path): [Probe("GET", b)],
        ("PUT", path): [Probe("PUT", b, json=mine)],
        ("DELETE", path): [Probe("DELETE", b)],
    }
    for action in ("estimate", "send", "unschedule", "pause", "resume", "cancel"):
        probes[("POST", f"{path}/{action}")] = [Probe("POST", f"{b}/{action}")]
    return probes


BRAVO_PRODUCT = {"name": "Bravo secret product", "price": "9.99", "currency": "EUR"}


def commerce_probes(world: World) -> dict[tuple[str, str], list[Probe]]:
    """B's products, channel and contacts are out of A's reach; what A writes is its own."""
    base = "/api/v1/commerce"
    product = f"{base}/products/{{retailer_id}}"
    mine = {"retailer_id": "A-SKU", "name": "A's mug", "price": "5", "currency": "EUR"}
    provider = {
        "api_url": "http://127.0.0.1:9",
        "api_key": "a-key",
        "signing_secret": "a-signing-secret-0123",
    }
    to_b = {"contact_id": world.b_contact, "retailer_ids": ["A-SKU"]}
    link = {"contact_id": world.b_contact, "order_ref": "X", "amount": "1", "currency": "EUR"}
    return {
        ("GET", f"{base}/products"): [Probe("GET", f"{base}/products", expect=(200,))],
        ("POST", f"{base}/products"): [
            Probe("POST", f"{base}/products", json={"products": [mine]}, expect=(200,))
        ],
        ("POST", f"{base}/products/import"): [
            Probe("POST", f"{base}/products/import", json=[mine], expect=(200,))
        ],
        ("GET", product): [Probe("GET", f"{base}/products/BRAVO-SKU")],
        # A may use the same SKU for a product of its own; B's stays as it was.
        ("PUT", product): [
            Probe("PUT", f"{base}/products/BRAVO-SKU", json=BRAVO_PRODUCT, expect=(200,))
        ],
        ("DELETE", product): [Probe("DELETE", f"{base}/products/BRAVO-SKU", expect=(204, 404))],
        ("PUT", f"{base}/channels/{{channel_id}}/catalog"): [
            Probe("PUT", f"{base}/channels/{world.b_channel}/catalog", json={"catalog_id": "1"})
        ],
        ("POST", f"{base}/product-messages"): [
            Probe("POST", f"{base}/product-messages", json=to_b, expect=(404, 422))
        ],
        ("PUT", f"{base}/payment-provider"): [
            Probe("PUT", f"{base}/payment-provider", json=provider, expect=(200,))
        ],
        ("GET", f"{base}/payment-provider"): [
            Probe("GET", f"{base}/payment-provider", expect=(200, 404))
        ],
        ("POST", f"{base}/payment-links"): [
            Probe("POST", f"{base}/payment-links", json=link, expect=(404, 422))
        ],
        ("GET", f"{base}/payment-links"): [
            Probe("GET", f"{base}/payment-links", params={"contact_id": world.b_contact})
        ],
        ("GET", f"{base}/payment-links/{{link_id}}"): [
            Probe("GET", f"{base}/payment-links/pay_not_of_a")
        ],
    }


def _no_broadcasts(response: httpx.Response) -> None:
    assert all(item["name"] != "Bravo secret sale" for item in response.json()["broadcasts"])


def _no_b_calendar(response: httpx.Response) -> None:
    days = response.json()["days"]
    assert all(item["name"] != "Bravo secret sale" for d in days for item in d["broadcasts"])


async def store_b_template(sessions: async_sessionmaker[AsyncSession], b: Tenant) -> str:
    """A template of B's, as a sync or a webhook stores it."""
    async with sessions() as session, session.begin():
        template = Template(
            id=new_id("tpl"),
            workspace_id=b.id,
            account_id="2000000001",
            name="bravo_secret_offer",
            language="en_US",
            category="marketing",
            status="approved",
            components=[],
            created_at=T0,
            updated_at=T0,
        )
        session.add(template)
    return template.id


def _empty_list(response: httpx.Response) -> None:
    assert response.json() == [], response.text


def _empty_report(response: httpx.Response) -> None:
    body = response.json()
    assert body["lines"] == [] and body["total"]["messages"] == 0, body


def _version_one(world: World) -> Callable[[httpx.Response], None]:
    def check(response: httpx.Response) -> None:
        body = response.json()
        assert body["version"] == 1 and body["id"] != world.b_flow, body

    return check


async def test_workspace_a_cannot_read_or_change_workspace_b_through_any_route(
    tenant: Tenant,
    other_tenant: Tenant,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    world = await build_world(tenant, other_tenant)
    world.b_template = await store_b_template(sessions, other_tenant)
    world.secrets += [world.b_template, "bravo_secret_offer"]
    table = probes_for(world)
    routes = api_routes(app_of(tenant.client))
    missing = sorted(routes - set(table))
    assert not missing, f"routes without an isolation probe: {missing}"
    stale = sorted(set(table) - routes)
    assert not stale, f"probes for routes that no longer exist: {stale}"

    before = await b_snapshot(other_tenant, world, sessions)
    # Reads first, so that what A creates under B's names later cannot mask a leak.
    ordered = sorted(
        (probe for probes in table.values() for probe in probes),
        key=lambda p: p.method != "GET",
    )
    for probe in ordered:
        response = await tenant.client.request(
            probe.method, probe.url, json=probe.json, params=probe.params
        )
        what = f"{probe.method} {probe.url} {probe.json or probe.params or ''}"
        assert response.status_code in probe.expect, f"{what}: {response.text}"
        if response.status_code >= 400:
            error = response.json()
            assert error["error"] in ("not_found", "invalid_input"), what
            assert error["message"], what
        sent = f"{probe.url} {probe.json} {probe.params}"
        for secret in world.secrets:
            if secret not in sent:
                assert secret not in response.text, f"{what} leaks {secret!r}"
        if probe.check is not None:
            probe.check(response)
    after = await b_snapshot(other_tenant, world, sessions)
    assert after[0] == before[0], "B's data as seen through the API changed"
    assert after[1] == before[1], "B's rows in the database changed"


async def test_lists_from_a_never_include_b_rows(tenant: Tenant, other_tenant: Tenant) -> None:
    world = await build_world(tenant, other_tenant)
    contacts = (await tenant.client.get("/api/v1/contacts", params={"limit": 500})).json()
    assert [c["id"] for c in contacts["items"]] == [world.a_contact]
    assert contacts["next_cursor"] is None
    by_urn = await tenant.client.get("/api/v1/contacts", params={"urn": world.b_urn})
    assert by_urn.json()["items"] == []
    fields = (await tenant.client.get("/api/v1/fields")).json()
    assert fields == []
    topics = (await tenant.client.get("/api/v1/topics")).json()
    assert [t["key"] for t in topics] == ["marketing"]
    users = (await tenant.client.get("/api/v1/users")).json()
    assert users == []
    keys = (await tenant.client.get("/api/v1/api-keys")).json()
    assert [k["name"] for k in keys] == ["initial key"]
    assert world.b_key not in {k["id"] for k in keys}
    me = (await tenant.client.get("/api/v1/workspace")).json()
    assert (me["id"], me["name"]) == (tenant.id, "Workspace A")
    # And the other way round, B sees only its own.
    b_contacts = (await other_tenant.client.get("/api/v1/contacts")).json()
    assert {c["id"] for c in b_contacts["items"]} == {world.b_contact, world.b_contact_2}


async def test_the_same_address_may_live_in_both_workspaces(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    world = await build_world(tenant, other_tenant)
    mine = await tenant.client.post("/api/v1/contacts", json={"urns": [world.b_urn]})
    assert mine.status_code == 201, mine.text
    # Erasing A's copy suppresses it in A only.
    erased = await tenant.client.delete(f"/api/v1/contacts/{mine.json()['id']}")
    assert erased.status_code == 204
    in_b = await other_tenant.client.get("/api/v1/contacts", params={"urn": world.b_urn})
    assert [c["id"] for c in in_b.json()["items"]] == [world.b_contact]
    again_in_a = await tenant.client.post("/api/v1/contacts", json={"urns": [world.b_urn]})
    assert again_in_a.status_code == 409
    other = await other_tenant.client.post(
        f"/api/v1/contacts/{world.b_contact_2}/urns", json={"urn": f"tel:{BR_2}"}
    )
    assert other.status_code == 200


async def test_a_key_of_a_only_ever_sees_a(
    app_client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    world = await build_world(tenant, other_tenant)
    created = await tenant.client.post("/api/v1/api-keys", json={"name": "second"})
    headers = {"Authorization": f"Bearer {created.json()['key']}"}
    response = await app_client.get(f"/api/v1/contacts/{world.b_contact}", headers=headers)
    assert response.status_code == 404
    # B cannot revoke A's keys either.
    revoke = await other_tenant.client.delete(f"/api/v1/api-keys/{created.json()['id']}")
    assert revoke.status_code == 404
    assert (await app_client.get("/api/v1/workspace", headers=headers)).status_code == 200
