"""/api/v1/users and /api/v1/api-keys: people and keys of the workspace, never its secrets."""

from __future__ import annotations

import httpx

from tests.api.test_bad_input import problem
from tests.conftest import Tenant


async def test_users_are_listed_by_email_without_their_passwords(tenant: Tenant) -> None:
    for email, role in (("zoe@example.com", "analyst"), ("Ana@Example.com", "owner")):
        created = await tenant.client.post(
            "/api/v1/users",
            json={"email": email, "password": "a long passphrase", "role": role, "name": "x"},
        )
        assert created.status_code == 201, created.text
        assert "password" not in created.json() and "passphrase" not in created.text
    listed = await tenant.client.get("/api/v1/users")
    assert [(u["email"], u["role"]) for u in listed.json()] == [
        ("ana@example.com", "owner"),
        ("zoe@example.com", "analyst"),
    ]
    assert "passphrase" not in listed.text and "argon2" not in listed.text


async def test_a_bad_user_is_refused_with_what_and_where(tenant: Tenant) -> None:
    good = {"email": "ana@example.com", "password": "a long passphrase", "role": "agent"}
    assert "role must be one of" in problem(
        await tenant.client.post("/api/v1/users", json={**good, "role": "god"}), "role"
    )
    assert "at least 10 characters" in problem(
        await tenant.client.post("/api/v1/users", json={**good, "password": "short"}), "password"
    )
    assert (await tenant.client.post("/api/v1/users", json=good)).status_code == 201
    again = await tenant.client.post("/api/v1/users", json={**good, "email": "ANA@example.com"})
    assert again.status_code == 409 and again.json()["where"] == "email"
    assert len((await tenant.client.get("/api/v1/users")).json()) == 1


async def test_a_new_api_key_is_shown_once_works_and_stops_when_revoked(
    tenant: Tenant, app_client: httpx.AsyncClient
) -> None:
    created = await tenant.client.post("/api/v1/api-keys", json={"name": "ci"})
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("tl_") and created.json()["hint"] == key[:7]
    listed = (await tenant.client.get("/api/v1/api-keys")).json()
    assert [k["name"] for k in listed] == ["initial key", "ci"]
    assert key not in str(listed) and all("key" not in k for k in listed)

    as_ci = {"Authorization": f"Bearer {key}"}
    assert (await app_client.get("/api/v1/workspace", headers=as_ci)).json()["id"] == tenant.id
    revoked = await tenant.client.delete(f"/api/v1/api-keys/{created.json()['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert (await app_client.get("/api/v1/workspace", headers=as_ci)).status_code == 401
    assert (await tenant.client.get("/api/v1/workspace")).status_code == 200

    missing = await tenant.client.delete("/api/v1/api-keys/key_nope")
    assert missing.status_code == 404 and missing.json()["where"] == "key_id"
