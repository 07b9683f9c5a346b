"""Neutral content → the form fields of `POST /2010-04-01/Accounts/{sid}/Messages.json`.

The renderer gives `To`, `Body` and `MediaUrl` (a list: one repeated form field per URL);
the client adds `From` and `StatusCallback`, which belong to the account. SMS shows only
text and, as MMS, media by public URL, so everything else degrades to text the person can
answer: choices become numbered lines (the format `channels/choices.py` offers, so
`choices.match` reads "2" or the title back), a link button becomes its label and URL, a pin
becomes its name, address and a maps link. What cannot be said at all (a reaction, typing,
a read receipt, a platform template) is refused before any HTTP call.

The body limit is Twilio's 1,600 characters (error 21617), counted in UTF-16 code units,
the stricter reading: an emoji outside the BMP counts two."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from threadline.channels import messages as m
from threadline.channels import products
from threadline.channels.adapter import Envelope, RenderError
from threadline.channels.sms import segments
from threadline.channels.text import (
    cards_text,
    contacts_text,
    location_text,
    numbered_choices,
    paragraphs,
)
from threadline.channels.types import ChannelType

__all__ = ["RenderError", "render", "segments_of"]

_CANNOT = {
    m.Reaction: "SMS has no reactions",
    m.Typing: "SMS shows no typing indicator",
    m.MarkRead: "SMS has no read receipts to send",
}


def render(content: m.Content, envelope: Envelope, declared: ChannelType) -> dict[str, Any]:
    """The form fields (values: str, or list[str] for a repeated field)."""
    if isinstance(content, m.TimePicker):
        content = content.as_list()  # the slots as numbered choices
    if isinstance(content, m.ProductMessage | m.ProductListMessage):
        content = products.shown(content, declared.capabilities)  # numbered, with prices
    fields: dict[str, Any] = {"To": envelope.to}
    if isinstance(content, m.Media):
        fields.update(_media(content, declared))
    else:
        fields["Body"] = _limited(_text(content), declared)
    if envelope.ttl_seconds is not None:
        # Dropped by the provider after this, so a fallback sent then cannot be doubled.
        fields["ValidityPeriod"] = str(envelope.ttl_seconds)
    return fields


def segments_of(body: dict[str, Any]) -> int:
    """What a rendered message is billed as: an MMS is one message, a text its segments."""
    if body.get("MediaUrl"):
        return 1
    return segments.count(str(body.get("Body", ""))).segments


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _limited(text: str, declared: ChannelType, where: str = "body") -> str:
    if not text:
        raise RenderError(where, "must not be empty")
    length, most = _utf16_length(text), declared.capabilities.text_max
    if length > most:
        raise RenderError(where, f"is {length} characters; {declared.title} allows {most}")
    return text


def _text(content: m.Content) -> str:
    """What the content says as SMS text."""
    if isinstance(content, m.Text | m.LocationRequest):
        # A location request degrades to its question: the person answers in words.
        return content.body
    if isinstance(content, m.Buttons):
        return _choices(content.body, _button_titles(content), content.header, content.footer)
    if isinstance(content, m.ListMessage):
        return _choices(content.body, _row_titles(content), content.header, content.footer)
    if isinstance(content, m.CtaUrl):
        link = f"{content.display_text}\n{_http('url', content.url)}"
        return paragraphs(content.header, content.body, link, content.footer)
    if isinstance(content, m.Location):
        return location_text(content)
    if isinstance(content, m.ContactCards):
        return contacts_text(content.contacts)
    if isinstance(content, m.Cards):
        return _cards(content)
    if isinstance(content, m.Template):
        raise RenderError("template", "SMS has no platform templates: send text")
    reason = _CANNOT.get(type(content), f"SMS cannot send {type(content).__name__}")
    raise RenderError("type", reason)


def _choices(body: str, titles: Sequence[str], header: str | None, footer: str | None) -> str:
    if not body:
        raise RenderError("body", "must not be empty")
    return numbered_choices(body, titles, header=header, footer=footer)


def _button_titles(content: m.Buttons) -> list[str]:
    if not content.buttons:
        raise RenderError("buttons", "must not be empty")
    for i, button in enumerate(content.buttons):
        if not button.title:
            raise RenderError(f"buttons[{i}].title", "must not be empty")
    return [button.title for button in content.buttons]


def _row_titles(content: m.ListMessage) -> list[str]:
    titles = []
    for s, section in enumerate(content.sections):
        for r, row in enumerate(section.rows):
            if not row.title:
                raise RenderError(f"sections[{s}].rows[{r}].title", "must not be empty")
            titles.append(f"{row.title} — {row.description}" if row.description else row.title)
    if not titles:
        raise RenderError("sections", "must have at least one row")
    return titles


def _cards(content: m.Cards) -> str:
    for i, card in enumerate(content.cards):
        if not card.title:
            raise RenderError(f"cards[{i}].title", "must not be empty")
        for j, button in enumerate(card.buttons):
            if (button.id is None) == (button.url is None):
                raise RenderError(f"cards[{i}].buttons[{j}]", "give exactly one of id or url")
    return cards_text(content)


def _http(where: str, url: str) -> str:
    if not url.startswith(("https://", "http://")):
        raise RenderError(where, "must be an http(s) URL")
    return url


def _media(media: m.Media, declared: ChannelType) -> dict[str, Any]:
    """MMS: the provider fetches the file from a public URL; the caption is the body."""
    if media.kind not in declared.capabilities.media:
        raise RenderError("media.kind", f"{declared.title} cannot send {media.kind} media")
    if not media.link:
        raise RenderError(
            "media.link", "SMS needs a public URL to fetch the media from (no uploaded ids)"
        )
    fields: dict[str, Any] = {"MediaUrl": [_http("media.link", media.link)]}
    if media.caption:
        fields["Body"] = _limited(media.caption, declared, where="caption")
    return fields
