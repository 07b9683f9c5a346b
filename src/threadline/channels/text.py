"""Neutral content said as plain text, for a channel (or a form) that cannot show it.

Pure functions, no limits: each renderer checks the result against its own `text_max`. The
numbered-choice format is the one `channels/choices.py` offers, so whichever form the person
saw, `choices.match` reads the answer (the number, the title or the tapped id). WhatsApp's
renderer uses these too, for cards it can only say."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from threadline.channels import messages as m
from threadline.channels.adapter import RenderError

REPLY_WITH_NUMBER = "Reply with a number."
MAPS_URL = "https://maps.google.com/?q={latitude},{longitude}"

__all__ = [
    "REPLY_WITH_NUMBER",
    "cards_text",
    "contacts_text",
    "location_text",
    "numbered_choices",
    "paragraphs",
]


def paragraphs(*parts: str | None) -> str:
    """The parts that are there, a blank line apart (header, body, footer folded into one)."""
    return "\n\n".join(part for part in parts if part)


def numbered_choices(
    body: str, titles: Sequence[str], *, header: str | None = None, footer: str | None = None
) -> str:
    """'1. Red\\n2. Blue' under the body, then how to answer; the footer stays last."""
    numbered = "\n".join(f"{n}. {title}" for n, title in enumerate(titles, start=1))
    return paragraphs(header, body, numbered, REPLY_WITH_NUMBER, footer)


def location_text(location: m.Location) -> str:
    """Name, address and a maps link: what a pin shows, for channels that cannot send one."""
    link = MAPS_URL.format(latitude=location.latitude, longitude=location.longitude)
    return "\n".join(line for line in (location.name, location.address, link) if line)


def contact_blocks(contacts: Sequence[dict[str, Any]]) -> list[list[str]]:
    """Each contact card (WhatsApp's shape) as the lines it shows: name, phones, emails."""
    blocks = []
    for i, card in enumerate(contacts):
        lines = [_contact_name(card), *_values(card, "phones", "phone")]
        lines += _values(card, "emails", "email")
        shown = [line for line in lines if line]
        if not shown:
            raise RenderError(f"contacts[{i}]", "has no name, phone or email to show")
        blocks.append(shown)
    return blocks


def contacts_text(contacts: Sequence[dict[str, Any]]) -> str:
    """Each contact card as its name, phones and emails, one per line."""
    return "\n\n".join("\n".join(block) for block in contact_blocks(contacts))


def _contact_name(card: dict[str, Any]) -> str:
    name = card.get("name")
    if not isinstance(name, dict):
        return ""
    formatted = name.get("formatted_name")
    if isinstance(formatted, str) and formatted:
        return formatted
    parts = (name.get("first_name"), name.get("last_name"))
    return " ".join(part for part in parts if isinstance(part, str) and part)


def _values(card: dict[str, Any], field: str, key: str) -> list[str]:
    entries = card.get(field)
    if not isinstance(entries, list):
        return []
    found = (entry.get(key) for entry in entries if isinstance(entry, dict))
    return [value for value in found if isinstance(value, str) and value]


def cards_text(cards: m.Cards) -> str:
    """The body, then each card numbered with its subtitle and links. A card's postback is
    answered by its number, so the closing line asks for one only when a card has one."""
    blocks = [_card_block(n, card) for n, card in enumerate(cards.cards, start=1)]
    answerable = any(button.id for card in cards.cards for button in card.buttons)
    return paragraphs(cards.body, *blocks, REPLY_WITH_NUMBER if answerable else None)


def _card_block(number: int, card: m.Card) -> str:
    links: Iterable[str] = (f"{b.title}: {b.url}" for b in card.buttons if b.url)
    lines = (f"{number}. {card.title}", card.subtitle, card.url, *links)
    return "\n".join(line for line in lines if line)
