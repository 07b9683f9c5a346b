"""Commerce over real HTTP: products shown from the number's catalog, the cart a person sends
back becoming an `order` event, and a payment link paid at the provider becoming
`order_paid` — each recorded once, however often the webhooks come."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.whatsapp.harness import PHONE_NUMBER_ID, Stack, post_signed
from tests.commerce.harness import CATALOG_ID, events, shop_stack
from tests.conftest import shared_fixtures

USER = "5511988887777"


async def _customer(stack: Stack) -> str:
    """A person who wrote first, so their service window is open."""
    await stack.add_user(USER)
    await stack.user_says(USER, "Do you have mugs?")
    return await stack.contact_by_urn(f"whatsapp:{USER}")


async def _message(stack: Stack, message_id: str) -> dict[str, Any]:
    r = await stack.api.get(f"/api/v1/messages/{message_id}")
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


async def test_a_product_list_arrives_from_the_numbers_catalog(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with shop_stack(database_url, sessions) as stack:
        contact = await _customer(stack)
        r = await stack.api.post(
            "/api/v1/commerce/product-messages",
            json={
                "contact_id": contact,
                "purpose": "service",
                "header": "Our mugs and teas",
                "body": "Tap to add to your cart",
                "sections": [
                    {"title": "Mugs", "retailer_ids": ["MUG-1"]},
                    {"title": "Tea", "retailer_ids": ["TEA-7"]},
                ],
            },
        )
        assert r.status_code == 201, r.text
        assert (r.json()["shown_as"], r.json()["message"]["status"]) == ("catalog", "queued")

        async def shown() -> bool:
            return any(m.get("type") == "interactive" for m in await stack.inbox(USER))

        await stack.until(shown)
        (received,) = [m for m in await stack.inbox(USER) if m.get("type") == "interactive"]
        assert received["interactive"] == {
            "type": "product_list",
            "header": {"type": "text", "text": "Our mugs and teas"},
            "body": {"text": "Tap to add to your cart"},
            "action": {
                "catalog_id": CATALOG_ID,
                "sections": [
                    {"title": "Mugs", "product_items": [{"product_retailer_id": "MUG-1"}]},
                    {"title": "Tea", "product_items": [{"product_retailer_id": "TEA-7"}]},
                ],
            },
        }


async def test_a_product_missing_from_the_platform_catalog_fails_with_its_code(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with shop_stack(database_url, sessions) as stack:
        contact = await _customer(stack)
        r = await stack.api.post(
            "/api/v1/commerce/product-messages",
            json={"contact_id": contact, "purpose": "service", "retailer_ids": ["POT-3"]},
        )
        assert r.status_code == 201, r.text
        message_id = r.json()["message"]["id"]

        async def failed() -> bool:
            return bool((await _message(stack, message_id))["status"] == "failed")

        await stack.until(failed)
        assert (await _message(stack, message_id))["error_code"] == 131009


async def test_what_cannot_be_ordered_is_not_offered(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with shop_stack(database_url, sessions) as stack:
        contact = await _customer(stack)
        await stack.api.put(
            "/api/v1/commerce/products/TEA-7",
            json={
                "name": "Green tea",
                "price": "4",
                "currency": "EUR",
                "availability": "out_of_stock",
            },
        )
        for ids, where in ((["TEA-7"], "retailer_ids[0]"), (["MUG-1", "NOPE"], "retailer_ids[1]")):
            r = await stack.api.post(
                "/api/v1/commerce/product-messages",
                json={"contact_id": contact, "purpose": "service", "retailer_ids": ids},
            )
            assert (r.status_code, r.json()["where"]) == (422, where), r.text


async def test_the_cart_a_person_sends_becomes_one_order_event(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with shop_stack(database_url, sessions) as stack:
        contact = await _customer(stack)
        await stack.user_says(
            USER,
            "Please deliver after 5",
            type="order",
            catalog_id=CATALOG_ID,
            product_items=[
                {
                    "product_retailer_id": "MUG-1",
                    "quantity": 2,
                    "item_price": 12.5,
                    "currency": "EUR",
                },
                {"product_retailer_id": "TEA-7", "quantity": 3, "item_price": 4, "currency": "EUR"},
            ],
        )

        async def ordered() -> bool:
            return bool(await events(stack, contact, "order"))

        await stack.until(ordered)
        (order,) = await events(stack, contact, "order")
        assert (order["value"], order["currency"]) == ("37.0000", "EUR")
        assert order["properties"] == {
            "order_id": order["properties"]["order_id"],
            "catalog_id": CATALOG_ID,
            "total": "37",
            "currency": "EUR",
            "text": "Please deliver after 5",
            "items": [
                {
                    "retailer_id": "MUG-1",
                    "name": "Blue mug",
                    "quantity": 2,
                    "item_price": "12.5",
                    "currency": "EUR",
                },
                {
                    "retailer_id": "TEA-7",
                    "name": "Green tea",
                    "quantity": 3,
                    "item_price": "4",
                    "currency": "EUR",
                },
            ],
        }
        assert order["properties"]["order_id"].startswith("wamid.")


async def test_the_captured_order_delivered_twice_is_recorded_once(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    captured = json.loads((shared_fixtures("whatsapp") / "pywa__message__order.json").read_text())
    # Addressed to the stack's number; everything else as Meta sent it.
    captured["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = PHONE_NUMBER_ID
    body = json.dumps(captured).encode()
    async with shop_stack(database_url, sessions) as stack:
        answers = [await post_signed(stack.base_url, body) for _ in range(2)]
        assert [a.status_code for a in answers] == [200, 200]
        await stack.work()
        await stack.work()
        # The only person in the workspace (the fixture's number is not a valid one to look
        # up by, so the contact is found by being the one there is).
        (contact,) = [c["id"] for c in (await stack.api.get("/api/v1/contacts")).json()["items"]]
        (order,) = await events(stack, contact, "order")
        assert order["properties"]["order_id"] == "wamid.xyzxyz"
        assert (order["properties"]["total"], order["currency"]) == ("180", "ILS")
        # The fixture's products are not in this shop's catalog: no names are made up.
        assert all("name" not in item for item in order["properties"]["items"])


async def test_a_payment_link_sent_and_paid_becomes_order_paid_once(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with shop_stack(database_url, sessions) as stack:
        contact = await _customer(stack)
        r = await stack.api.post(
            "/api/v1/commerce/payment-links",
            json={
                "contact_id": contact,
                "order_ref": "A-1001",
                "items": [{"retailer_id": "MUG-1", "quantity": 2}],
            },
        )
        assert r.status_code == 201, r.text
        link = r.json()
        assert (link["status"], link["amount"], link["currency"]) == ("open", "25", "EUR")
        assert link["url"].startswith(f"{stack.emulator_url}/_emulator/pay/checkout/")
        sent = await stack.send(
            contact,
            "service",
            {
                "type": "cta_url",
                "body": "Your order A-1001: 25.00 EUR",
                "display_text": "Pay now",
                "url": link["url"],
            },
        )
        assert sent["status"] == "queued"

        async def delivered() -> list[str]:
            return [
                m["interactive"]["action"]["parameters"]["url"]
                for m in await stack.inbox(USER)
                if m.get("type") == "interactive"
            ]

        async def has_link() -> bool:
            return bool(await delivered())

        await stack.until(has_link)
        (url,) = await delivered()
        page = await stack.emulator.get(url)
        assert "Pay 25 EUR" in page.text
        paid = await stack.emulator.post(url)
        assert (paid.json()["status"], paid.json()["callback_status"]) == ("paid", 200)
        again = await stack.emulator.post(
            f"/_emulator/pay/events/{paid.json()['event_id']}/redeliver"
        )
        assert again.json()["callback_status"] == 200

        got = (await stack.api.get(f"/api/v1/commerce/payment-links/{link['id']}")).json()
        assert got["status"] == "paid" and got["paid_at"] is not None
        (event,) = await events(stack, contact, "order_paid")
        assert (event["value"], event["currency"]) == ("25.0000", "EUR")
        assert event["properties"] == {
            "order_ref": "A-1001",
            "amount": "25",
            "currency": "EUR",
            "payment_link_id": link["id"],
            "items": [{"retailer_id": "MUG-1", "name": "Blue mug", "quantity": 2, "price": "12.5"}],
        }
