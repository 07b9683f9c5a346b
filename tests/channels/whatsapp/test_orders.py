"""The cart a person sends from the catalog (`order` messages): its lines are read exactly,
and an order that cannot be totalled is Malformed rather than half-read."""

from __future__ import annotations

from typing import Any

import pytest

from threadline.channels.events import CartOrder, InboundMessage, Malformed, OrderLine
from threadline.channels.whatsapp.webhooks import parse


def order_payload(order: Any) -> dict[str, Any]:
    message = {"from": "5511999990000", "id": "wamid.CART", "timestamp": "1751400000"}
    message |= {"type": "order", "order": order}
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Ana"}, "wa_id": "5511999990000"}],
        "messages": [message],
    }
    change = {"field": "messages", "value": value}
    return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [change]}]}


def line(**item: Any) -> dict[str, Any]:
    return {
        "product_retailer_id": "MUG-1",
        "quantity": 2,
        "item_price": 12.5,
        "currency": "EUR",
    } | item


def test_an_order_carries_its_lines_and_what_the_person_wrote() -> None:
    (event,) = parse(
        order_payload(
            {
                "catalog_id": "42",
                "text": "Gift wrap please",
                "product_items": [
                    line(),
                    line(product_retailer_id="TEA-7", quantity=1, item_price="4.00"),
                ],
            }
        )
    )
    assert isinstance(event, InboundMessage)
    assert (event.kind, event.text) == ("order", "Gift wrap please")
    assert event.order == CartOrder(
        catalog_id="42",
        lines=(OrderLine("MUG-1", 2, "12.5", "EUR"), OrderLine("TEA-7", 1, "4.00", "EUR")),
        text="Gift wrap please",
    )


@pytest.mark.parametrize(
    ("order", "says"),
    [
        ({"catalog_id": "42", "product_items": []}, "no product_items"),
        ({"product_items": [line(product_retailer_id="")]}, "no product_retailer_id"),
        ({"product_items": [line(quantity=0)]}, "invalid quantity"),
        ({"product_items": [line(quantity="2")]}, "invalid quantity"),
        ({"product_items": [line(item_price="twelve")]}, "invalid item_price"),
        ({"product_items": [line(item_price=-1)]}, "invalid item_price"),
        ({"product_items": [line(currency="")]}, "no currency"),
    ],
)
def test_an_order_that_cannot_be_totalled_is_malformed(order: dict[str, Any], says: str) -> None:
    (event,) = parse(order_payload(order))
    assert isinstance(event, Malformed)
    assert says in event.reason
