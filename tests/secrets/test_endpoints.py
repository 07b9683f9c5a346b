"""/api/v1/secrets is write-only: a value goes in and never comes back out, not in answers,
not in the database, not in the logs."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.api.test_bad_input import problem
from tests.conftest import Tenant

VALUE = "s3cr3t-shop-token-9f8e7d"


async def test_a_stored_secret_is_never_shown_again(
    tenant: Tenant,
    sessions: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    put = await tenant.client.put("/api/v1/secrets/shop_token", json={"value": VALUE})
    assert put.status_code == 200, put.text
    assert put.json()["name"] == "shop_token" and set(put.json()) == {"name", "updated_at"}
    replaced = await tenant.client.put("/api/v1/secrets/shop_token", json={"value": VALUE + "2"})
    assert replaced.status_code == 200
    listed = await tenant.client.get("/api/v1/secrets")
    assert [s["name"] for s in listed.json()] == ["shop_token"]
    answers = put.text + replaced.text + listed.text
    assert "s3cr3t" not in answers

    async with sessions() as session:
        rows = (await session.execute(text("SELECT * FROM workspace_secrets"))).all()
    assert len(rows) == 1 and "s3cr3t" not in str(rows)
    assert "s3cr3t" not in caplog.text


async def test_bad_secrets_are_refused_with_what_and_where(tenant: Tenant) -> None:
    assert "lowercase letters" in problem(
        await tenant.client.put("/api/v1/secrets/Shop-Token", json={"value": VALUE}), "name"
    )
    problem(await tenant.client.put("/api/v1/secrets/shop_token", json={"value": ""}), "value")
    problem(
        await tenant.client.put("/api/v1/secrets/shop_token", json={"value": "x" * 4001}), "value"
    )
    problem(
        await tenant.client.put(
            "/api/v1/secrets/shop_token", json={"value": VALUE, "reveal": True}
        ),
        "reveal",
    )
    assert (await tenant.client.get("/api/v1/secrets")).json() == []


async def test_a_secret_belongs_to_its_workspace_and_can_be_deleted(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    put = await tenant.client.put("/api/v1/secrets/shop_token", json={"value": VALUE})
    assert put.status_code == 200
    assert (await other_tenant.client.get("/api/v1/secrets")).json() == []
    refused = await other_tenant.client.delete("/api/v1/secrets/shop_token")
    assert refused.status_code == 404 and refused.json()["where"] == "name"

    deleted = await tenant.client.delete("/api/v1/secrets/shop_token")
    assert deleted.status_code == 204 and deleted.content == b""
    assert (await tenant.client.get("/api/v1/secrets")).json() == []
    gone = await tenant.client.delete("/api/v1/secrets/shop_token")
    assert gone.status_code == 404 and "no secret named shop_token" in gone.json()["message"]
