"""What a channel can show, as data. Flows and choices render against these facts, and each
type's renderer degrades what its channel cannot show (numbered text instead of buttons)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

MB = 1024 * 1024


class ProductForm(StrEnum):
    """How a channel shows products from the workspace's catalog."""

    CATALOG = "catalog"  # natively, from the platform catalog the account names
    CARDS = "cards"  # a carousel of cards with image, price and a link
    TEXT = "text"  # numbered lines with price and link


@dataclass(frozen=True, slots=True)
class Capabilities:
    text_max: int
    # Reply buttons under a message (WhatsApp reply buttons, Messenger button template).
    buttons_max: int = 0
    button_title_max: int = 20
    # Quick replies: chips above the keyboard that vanish once tapped.
    quick_replies_max: int = 0
    quick_reply_title_max: int = 20
    # A list: one button that opens rows (WhatsApp list message).
    list_rows_max: int = 0
    list_row_title_max: int = 24
    # Cards in a carousel (Messenger/Instagram generic template).
    cards_max: int = 0
    card_title_max: int = 80
    card_buttons_max: int = 0
    # Products shown natively from a platform catalog (WhatsApp's single and multi-product
    # messages): how many one message holds, in how many sections. The account's config
    # names the catalog (`catalog_id`); without one the next form down is used.
    catalog_products_max: int = 0
    catalog_sections_max: int = 0
    # Media kinds and their size limit in bytes.
    media: Mapping[str, int] = field(default_factory=dict)
    location: bool = False  # can send a location pin
    reactions: bool = False
    typing: bool = False
    read_receipts: bool = False  # can mark the person's message as read
    templates: bool = False  # has platform-approved templates
    # Messages carry a subject and thread by the message they answer (email): a reply takes
    # the subject of what the person wrote.
    subjects: bool = False

    @property
    def interactive(self) -> bool:
        return self.buttons_max > 0 or self.quick_replies_max > 0 or self.list_rows_max > 0

    @property
    def choices_max(self) -> int:
        """How many choices one tappable message can offer."""
        return max(self.buttons_max, self.quick_replies_max, self.list_rows_max)

    def product_form(self, count: int, sections: int = 1, *, catalog: bool) -> ProductForm:
        """The richest form that holds `count` products: the platform catalog (when the
        account has one), a carousel, else text. Renderers and the commerce API both ask
        this, so what the API says a message will look like is what the renderer sends."""
        fits_catalog = count <= self.catalog_products_max and sections <= self.catalog_sections_max
        if catalog and count and fits_catalog:
            return ProductForm.CATALOG
        if count and count <= self.cards_max:
            return ProductForm.CARDS
        return ProductForm.TEXT
