"""Products from the catalog on every channel: the form each one's declared capabilities
choose (catalog, carousel, numbered text) and the exact request it renders."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from threadline.channels import messages as m
from threadline.channels import registry
from threadline.channels.adapter import Envelope, RenderError
from threadline.channels.capabilities import ProductForm
from threadline.channels.kinds import Channel
from threadline.channels.products import price_text

MUG = m.ProductItem(
    retailer_id="MUG-1",
    name="Blue mug",
    price=Decimal("12.5"),
    currency="EUR",
    description="Stoneware, 350 ml",
    image_url="https://shop.example/mug.jpg",
    url="https://shop.example/mug",
)
TEA = m.ProductItem(retailer_id="TEA-7", name="Green tea", price=Decimal("4"), currency="EUR")
ONE = m.ProductMessage(product=MUG, body="Our favourite", catalog_id="354160437058781")
LIST = m.ProductListMessage(
    header="New in",
    body="Fresh this week",
    sections=[m.ProductSection(title="Kitchen", products=[MUG, TEA])],
    catalog_id="354160437058781",
)
ADDRESS = {
    Channel.WHATSAPP: "5511999990000",
    Channel.MESSENGER: "5678",
    Channel.INSTAGRAM: "5678",
    Channel.SMS: "+14155550100",
    Channel.EMAIL: "ana@example.com",
    Channel.APPLE: "urn:mbid:abc",
}
TEXT_OF_LIST = (
    "New in\n\nFresh this week\n\n"
    "1. Blue mug — 12.50 EUR\nStoneware, 350 ml\nhttps://shop.example/mug\n\n"
    "2. Green tea — 4.00 EUR"
)
CARD_MUG = {
    "title": "Blue mug",
    "subtitle": "12.50 EUR · Stoneware, 350 ml",
    "image_url": "https://shop.example/mug.jpg",
    "default_action": {"type": "web_url", "url": "https://shop.example/mug"},
    "buttons": [{"type": "web_url", "url": "https://shop.example/mug", "title": "View product"}],
}


def rendered(kind: Channel, content: m.Content) -> dict[str, Any]:
    return registry.adapter(kind).render(content, Envelope(to=ADDRESS[kind]))


@pytest.mark.parametrize(
    ("kind", "content", "form"),
    [
        (Channel.WHATSAPP, ONE, ProductForm.CATALOG),
        (Channel.WHATSAPP, LIST, ProductForm.CATALOG),
        (Channel.WHATSAPP, ONE.model_copy(update={"catalog_id": None}), ProductForm.TEXT),
        (Channel.MESSENGER, LIST, ProductForm.CARDS),
        (Channel.INSTAGRAM, LIST, ProductForm.CARDS),
        (Channel.SMS, LIST, ProductForm.TEXT),
        (Channel.EMAIL, LIST, ProductForm.TEXT),
        (Channel.APPLE, LIST, ProductForm.TEXT),
    ],
)
def test_each_type_declares_how_it_shows_products(
    kind: Channel, content: m.Products, form: ProductForm
) -> None:
    assert registry.product_form(kind, content) is form


def test_whatsapp_single_product_names_catalog_and_retailer_id() -> None:
    assert rendered(Channel.WHATSAPP, ONE) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "5511999990000",
        "type": "interactive",
        "interactive": {
            "type": "product",
            "body": {"text": "Our favourite"},
            "action": {"catalog_id": "354160437058781", "product_retailer_id": "MUG-1"},
        },
    }


def test_whatsapp_multi_product_message_has_header_body_and_titled_sections() -> None:
    body = rendered(Channel.WHATSAPP, LIST.model_copy(update={"footer": "Free delivery"}))
    assert body["interactive"] == {
        "type": "product_list",
        "header": {"type": "text", "text": "New in"},
        "body": {"text": "Fresh this week"},
        "action": {
            "catalog_id": "354160437058781",
            "sections": [
                {
                    "title": "Kitchen",
                    "product_items": [
                        {"product_retailer_id": "MUG-1"},
                        {"product_retailer_id": "TEA-7"},
                    ],
                }
            ],
        },
        "footer": {"text": "Free delivery"},
    }


def _many(count: int, sections: int = 1) -> m.ProductListMessage:
    items = [
        m.ProductItem(retailer_id=f"SKU-{i}", name=f"Item {i}", price=Decimal(1), currency="EUR")
        for i in range(count)
    ]
    per = -(-count // sections)
    return m.ProductListMessage(
        header="All",
        body="Everything",
        catalog_id="1",
        sections=[
            m.ProductSection(title=f"Part {s}", products=items[s * per : (s + 1) * per])
            for s in range(sections)
        ],
    )


def test_whatsapp_beyond_thirty_products_or_ten_sections_says_them_as_text() -> None:
    assert rendered(Channel.WHATSAPP, _many(30, 10))["type"] == "interactive"
    for content in (_many(31), _many(22, 11)):
        body = rendered(Channel.WHATSAPP, content)
        assert body["type"] == "text"
        assert "1. Item 0 — 1.00 EUR" in body["text"]["body"]


@pytest.mark.parametrize(
    ("content", "where"),
    [
        (
            LIST.model_copy(update={"sections": [m.ProductSection(products=[MUG])]}),
            "sections[0].title",
        ),
        (
            LIST.model_copy(
                update={"sections": [m.ProductSection(title="Twice", products=[MUG, MUG])]}
            ),
            "sections",
        ),
        (LIST.model_copy(update={"header": "x" * 61}), "header"),
    ],
)
def test_whatsapp_refuses_a_product_list_it_could_not_send(
    content: m.ProductListMessage, where: str
) -> None:
    with pytest.raises(RenderError) as caught:
        rendered(Channel.WHATSAPP, content)
    assert caught.value.where == where


@pytest.mark.parametrize("kind", [Channel.MESSENGER, Channel.INSTAGRAM])
def test_meta_shows_products_as_a_generic_template_carousel(kind: Channel) -> None:
    body = rendered(kind, LIST)
    assert body["message"] == {
        "attachment": {
            "type": "template",
            "payload": {
                "template_type": "generic",
                "elements": [CARD_MUG, {"title": "Green tea", "subtitle": "4.00 EUR"}],
            },
        }
    }


def test_meta_says_more_products_than_its_carousel_holds_as_text() -> None:
    body = rendered(Channel.MESSENGER, _many(11))
    assert body["message"]["text"].startswith("All\n\nEverything\n\n1. Item 0 — 1.00 EUR")


def test_sms_email_and_apple_number_the_products_with_price_and_link() -> None:
    assert rendered(Channel.SMS, LIST) == {"To": "+14155550100", "Body": TEXT_OF_LIST}
    assert rendered(Channel.EMAIL, LIST)["text"] == TEXT_OF_LIST
    apple = rendered(Channel.APPLE, LIST)
    assert (apple["type"], apple["body"]) == ("text", TEXT_OF_LIST)


def test_one_product_as_text_is_not_numbered() -> None:
    assert rendered(Channel.SMS, ONE)["Body"] == (
        "Our favourite\n\nBlue mug — 12.50 EUR\nStoneware, 350 ml\nhttps://shop.example/mug"
    )


@pytest.mark.parametrize(
    ("price", "currency", "shown"),
    [
        (Decimal("12.5"), "EUR", "12.50 EUR"),
        (Decimal("1500"), "JPY", "1500 JPY"),
        (Decimal("0.005"), "USD", "0.01 USD"),
    ],
)
def test_prices_read_as_a_shop_prints_them(price: Decimal, currency: str, shown: str) -> None:
    assert price_text(price, currency) == shown
