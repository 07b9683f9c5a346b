"""A shop on the WhatsApp stack: a catalog in Threadline and the same catalog connected to
the emulated number, and the emulator's payment provider set up for the workspace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.whatsapp.harness import Stack, whatsapp_stack

CATALOG_ID = "354160437058781"
API_KEY = "pay-test-key"
SIGNING_SECRET = "whsec-test-0123456789abcdef"
PRODUCTS: list[dict[str, Any]] = [
    {
        "retailer_id": "MUG-1",
        "name": "Blue mug",
        "price": "12.50",
        "currency": "EUR",
        "image_url": "https://shop.example/mug.jpg",
        "url": "https://shop.example/mug",
    },
    {"retailer_id": "TEA-7", "name": "Green tea", "price": "4.00", "currency": "EUR"},
    {"retailer_id": "POT-3", "name": "Teapot", "price": "30", "currency": "EUR"},
]
IN_EMULATOR_CATALOG = ["MUG-1", "TEA-7"]  # POT-3 was never uploaded to Meta


@asynccontextmanager
async def shop_stack(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Stack]:
    async with whatsapp_stack(database_url, sessions) as stack:
        r = await stack.api.post("/api/v1/commerce/products", json={"products": PRODUCTS})
        assert r.status_code == 200, r.text
        r = await stack.emulator.post(
            "/_emulator/catalogs",
            json={"catalog_id": CATALOG_ID, "retailer_ids": IN_EMULATOR_CATALOG},
        )
        r.raise_for_status()
        r = await stack.api.put(
            f"/api/v1/commerce/channels/{stack.channel_id}/catalog",
            json={"catalog_id": CATALOG_ID},
        )
        assert r.status_code == 200, r.text
        r = await stack.api.put(
            "/api/v1/commerce/payment-provider",
            json={
                "api_url": f"{stack.emulator_url}/_emulator/pay/api",
                "api_key": API_KEY,
                "signing_secret": SIGNING_SECRET,
            },
        )
        assert r.status_code == 200, r.text
        r = await stack.emulator.post(
            "/_emulator/pay/accounts",
            json={
                "api_key": API_KEY,
                "signing_secret": SIGNING_SECRET,
                "callback_url": r.json()["callback_url"],
            },
        )
        r.raise_for_status()
        yield stack


async def events(stack: Stack, contact_id: str, kind: str) -> list[dict[str, Any]]:
    r = await stack.api.get(f"/api/v1/contacts/{contact_id}/events", params={"kind": kind})
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found
