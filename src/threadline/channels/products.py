"""Products from a catalog, in the form a channel can show them.

A renderer calls `shown(content, capabilities)` first: the product message comes back as it
is when the channel shows the platform's catalog natively, as a carousel of cards where it
has one, else as numbered text with each price and link. The choice is the declared
`Capabilities.product_form`, so no renderer or neutral layer names a channel to decide."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from threadline.channels import messages as m
from threadline.channels.capabilities import Capabilities, ProductForm
from threadline.channels.text import paragraphs

# ISO 4217 currencies without minor units: "1500 JPY", not "1500.00 JPY".
ZERO_DECIMAL = frozenset({"BIF", "CLP", "ISK", "JPY", "KRW", "PYG", "RWF", "UGX", "VND", "XAF"})
VIEW_BUTTON = "View product"
ELLIPSIS = "…"

__all__ = ["form_of", "price_text", "shown"]


def price_text(price: Decimal, currency: str) -> str:
    """The price as a shop prints it: two decimals (none for yen and the like), then the
    currency code, which reads the same in every language."""
    places = Decimal(1) if currency in ZERO_DECIMAL else Decimal("0.01")
    return f"{price.quantize(places, rounding=ROUND_HALF_UP)} {currency}"


def form_of(content: m.Products, caps: Capabilities) -> ProductForm:
    sections = 1 if isinstance(content, m.ProductMessage) else len(content.sections)
    return caps.product_form(len(content.items()), sections, catalog=bool(content.catalog_id))


def shown(content: m.Products, caps: Capabilities) -> m.Products | m.Cards | m.Text:
    form = form_of(content, caps)
    if form is ProductForm.CATALOG:
        return content
    if form is ProductForm.CARDS:
        return _cards(content, caps)
    return m.Text(body=_text(content))


def _cut(text: str, most: int) -> str:
    """Shortened to fit, visibly: the platform would refuse a title one character long."""
    return text if len(text) <= most else text[: most - 1].rstrip() + ELLIPSIS


def _subtitle(item: m.ProductItem) -> str:
    price = price_text(item.price, item.currency)
    return f"{price} · {item.description}" if item.description else price


# The Send API's generic template takes an 80-character subtitle on both Meta platforms;
# no capability names it, and any carousel elsewhere would be held to the same.
CARD_SUBTITLE_MAX = 80


def _cards(content: m.Products, caps: Capabilities) -> m.Cards:
    cards = []
    for item in content.items():
        buttons = []
        if item.url and caps.card_buttons_max:
            buttons.append(m.CardButton(title=VIEW_BUTTON, url=item.url))
        cards.append(
            m.Card(
                title=_cut(item.name, caps.card_title_max),
                subtitle=_cut(_subtitle(item), CARD_SUBTITLE_MAX),
                image_url=item.image_url,
                url=item.url,
                buttons=buttons,
            )
        )
    return m.Cards(cards=cards, body=content.body)


def _line(number: int | None, item: m.ProductItem) -> str:
    named = f"{item.name} — {price_text(item.price, item.currency)}"
    lines = (
        f"{number}. {named}" if number is not None else named,
        item.description,
        item.url,
    )
    return "\n".join(line for line in lines if line)


def _text(content: m.Products) -> str:
    if isinstance(content, m.ProductMessage):
        return paragraphs(content.body, _line(None, content.product), content.footer)
    blocks: list[str] = []
    number = 0
    titled = len(content.sections) > 1
    for section in content.sections:
        lines = []
        for item in section.products:
            number += 1
            lines.append(_line(number, item))
        block = "\n\n".join(lines)
        blocks.append(f"{section.title}\n{block}" if titled and section.title else block)
    return paragraphs(content.header, content.body, *blocks, content.footer)
