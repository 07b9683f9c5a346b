from __future__ import annotations

import httpx

from tests.conftest import Tenant


async def test_healthz_answers_without_credentials(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_create_and_read_contact(tenant: Tenant) -> None:
    created = await tenant.client.post(
        "/api/v1/contacts", json={"name": "Ana", "urns": ["whatsapp:+55 11 99999-0000"]}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["urns"] == ["whatsapp:5511999990000"]
    assert body["timezone"] == "America/Sao_Paulo"
    fetched = await tenant.client.get(f"/api/v1/contacts/{body['id']}")
    assert fetched.json()["name"] == "Ana"
