"""The emulated Cloud API checks product messages as the platform does: a connected catalog,
products that are in it, and the parts a multi-product message must have."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from threadline.emulator.app import create_emulator

NUMBER = {
    "phone_number_id": "106540352242922",
    "waba_id": "102290129340398",
    "display_phone_number": "15550783881",
    "access_token": "token",
    "app_secret": "secret",
}


@pytest.fixture
async def graph() -> AsyncIterator[httpx.AsyncClient]:
    app = create_emulator()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://emulator.test"
    ) as client:
        (await client.post("/_emulator/numbers", json=NUMBER)).raise_for_status()
        (await client.post("/_emulator/users", json={"wa_id": "5511999990000"})).raise_for_status()
        catalog = {"catalog_id": "42", "retailer_ids": ["MUG-1", "TEA-7"]}
        (await client.post("/_emulator/catalogs", json=catalog)).raise_for_status()
        yield client


def product_list(**changes: Any) -> dict[str, Any]:
    interactive: dict[str, Any] = {
        "type": "product_list",
        "header": {"type": "text", "text": "New in"},
        "body": {"text": "Fresh this week"},
        "action": {
            "catalog_id": "42",
            "sections": [{"title": "Kitchen", "product_items": [{"product_retailer_id": "MUG-1"}]}],
        },
    }
    return interactive | changes


def single(retailer_id: str = "MUG-1", catalog_id: str = "42") -> dict[str, Any]:
    action = {"catalog_id": catalog_id, "product_retailer_id": retailer_id}
    return {"type": "product", "action": action}


async def send(graph: httpx.AsyncClient, interactive: dict[str, Any]) -> httpx.Response:
    body = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "5511999990000",
        "type": "interactive",
        "interactive": interactive,
    }
    return await graph.post(
        "/v21.0/106540352242922/messages",
        json=body,
        headers={"Authorization": "Bearer token"},
    )


async def test_products_of_the_connected_catalog_are_accepted(graph: httpx.AsyncClient) -> None:
    for interactive in (single(), product_list()):
        answer = await send(graph, interactive)
        assert answer.status_code == 200, answer.text


SECTION = {"title": "S", "product_items": [{"product_retailer_id": "MUG-1"}]}


@pytest.mark.parametrize(
    ("interactive", "code"),
    [
        (single(catalog_id=""), 131008),
        (single(catalog_id="7"), 131009),
        (single(retailer_id="POT-3"), 131009),
        (single() | {"header": {"type": "text", "text": "x"}}, 131009),
        (product_list(header=None), 131008),
        (product_list(body={"text": ""}), 131008),
        (product_list(action={"catalog_id": "42", "sections": [SECTION] * 11}), 131009),
        (
            product_list(
                action={
                    "catalog_id": "42",
                    "sections": [{"product_items": SECTION["product_items"]}],
                }
            ),
            131008,
        ),
        (
            product_list(
                action={
                    "catalog_id": "42",
                    "sections": [
                        {"title": "S", "product_items": [{"product_retailer_id": "MUG-1"}] * 31}
                    ],
                }
            ),
            131009,
        ),
    ],
)
async def test_what_the_platform_would_refuse_is_refused_with_its_code(
    graph: httpx.AsyncClient, interactive: dict[str, Any], code: int
) -> None:
    answer = await send(graph, interactive)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == code
