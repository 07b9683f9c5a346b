"""Outbound content → the exact form fields of a Messages.json POST (less From and
StatusCallback, which the client adds), what SMS cannot show said as text, and what it
cannot carry refused before any HTTP call."""

from __future__ import annotations

from typing import Any

import pytest

from threadline.channels import messages as m
from threadline.channels.adapter import Envelope, RenderError
from threadline.channels.sms.declaration import SMS
from threadline.channels.sms.render import render, segments_of

TO = "+15551230000"
ENVELOPE = Envelope(to=TO)
PIC = "https://cdn.example.com/p.jpg"


def text(body: str) -> dict[str, Any]:
    return {"To": TO, "Body": body}


CARD_ANA = {
    "name": {"formatted_name": "Ana Lima", "first_name": "Ana"},
    "phones": [{"phone": "+55 11 99999-0000", "type": "CELL"}],
    "emails": [{"email": "ana@example.com"}],
}
CARD_BO = {"name": {"first_name": "Bo", "last_name": "Kim"}, "phones": [{"phone": "+1 555 0101"}]}

CASES: list[tuple[str, m.Content, dict[str, Any]]] = [
    ("text", m.Text(body="Hello"), text("Hello")),
    (
        "text-preview-flag-ignored",
        m.Text(body="See https://x.io", preview_url=True),
        text("See https://x.io"),
    ),
    ("text-1600", m.Text(body="a" * 1600), text("a" * 1600)),
    (
        "image-with-caption",
        m.Media(kind="image", link=PIC, caption="Your receipt"),
        {"To": TO, "Body": "Your receipt", "MediaUrl": [PIC]},
    ),
    ("image-bare", m.Media(kind="image", link=PIC), {"To": TO, "MediaUrl": [PIC]}),
    (
        "document-filename-dropped",
        m.Media(kind="document", link="https://cdn.example.com/i.pdf", filename="i.pdf"),
        {"To": TO, "MediaUrl": ["https://cdn.example.com/i.pdf"]},
    ),
    (
        "buttons-numbered",
        m.Buttons(
            body="Which size?",
            buttons=[
                m.Button(id="s", title="Small"),
                m.Button(id="m", title="Medium"),
                m.Button(id="l", title="Large"),
            ],
        ),
        text("Which size?\n\n1. Small\n2. Medium\n3. Large\n\nReply with a number."),
    ),
    (
        "buttons-header-footer",
        m.Buttons(
            body="Confirm the booking",
            header="Booking",
            footer="Reply within 1 h",
            buttons=[m.Button(id="y", title="Yes"), m.Button(id="n", title="No")],
        ),
        text(
            "Booking\n\nConfirm the booking\n\n1. Yes\n2. No\n\nReply with a number."
            "\n\nReply within 1 h"
        ),
    ),
    (
        "list-numbered-across-sections",
        m.ListMessage(
            body="Pick a slot",
            button="Slots",
            sections=[
                m.ListSection(
                    title="Morning",
                    rows=[
                        m.ListRow(id="m9", title="09:00", description="Quiet"),
                        m.ListRow(id="m10", title="10:00"),
                    ],
                ),
                m.ListSection(title="Afternoon", rows=[m.ListRow(id="a2", title="14:00")]),
            ],
        ),
        text("Pick a slot\n\n1. 09:00 — Quiet\n2. 10:00\n3. 14:00\n\nReply with a number."),
    ),
    (
        "cta-url",
        m.CtaUrl(
            body="Track your order",
            display_text="Track",
            url="https://shop.example.com/o/1",
            header="Order 1",
            footer="Thanks",
        ),
        text("Order 1\n\nTrack your order\n\nTrack\nhttps://shop.example.com/o/1\n\nThanks"),
    ),
    (
        "location",
        m.Location(latitude=-23.55, longitude=-46.63, name="Shop", address="Av. Paulista 1"),
        text("Shop\nAv. Paulista 1\nhttps://maps.google.com/?q=-23.55,-46.63"),
    ),
    (
        "location-bare",
        m.Location(latitude=1.5, longitude=2.5),
        text("https://maps.google.com/?q=1.5,2.5"),
    ),
    ("location-request-as-question", m.LocationRequest(body="Where to?"), text("Where to?")),
    (
        "contacts",
        m.ContactCards(contacts=[CARD_ANA, CARD_BO]),
        text("Ana Lima\n+55 11 99999-0000\nana@example.com\n\nBo Kim\n+1 555 0101"),
    ),
    (
        "cards-with-links-and-answers",
        m.Cards(
            body="Our picks",
            cards=[
                m.Card(
                    title="Red shoe",
                    subtitle="$40",
                    url="https://shop.example.com/red",
                    image_url=PIC,
                    buttons=[
                        m.CardButton(title="Buy", url="https://shop.example.com/buy/red"),
                        m.CardButton(title="Pick", id="red"),
                    ],
                ),
                m.Card(title="Blue shoe", buttons=[m.CardButton(title="Pick", id="blue")]),
            ],
        ),
        text(
            "Our picks\n\n1. Red shoe\n$40\nhttps://shop.example.com/red\n"
            "Buy: https://shop.example.com/buy/red\n\n2. Blue shoe\n\nReply with a number."
        ),
    ),
    (
        "cards-links-only",
        m.Cards(cards=[m.Card(title="Guide", url="https://example.com/g")]),
        text("1. Guide\nhttps://example.com/g"),
    ),
]


@pytest.mark.parametrize(("content", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_renders_the_exact_form_fields(content: m.Content, expected: dict[str, Any]) -> None:
    assert render(content, ENVELOPE, SMS) == expected


def test_basis_and_reply_context_change_nothing() -> None:
    envelope = Envelope(to=TO, reply_to="SM1", callback_data="msg-7", purpose="marketing")
    assert render(m.Text(body="Hi"), envelope, SMS) == text("Hi")


def test_content_arrives_as_json_and_renders_the_same() -> None:
    content = m.CONTENT_ADAPTER.validate_python(
        {"type": "buttons", "body": "Ready?", "buttons": [{"id": "y", "title": "Yes"}]}
    )
    assert render(content, ENVELOPE, SMS) == text("Ready?\n\n1. Yes\n\nReply with a number.")


VIOLATIONS: list[tuple[str, m.Content, str, str]] = [
    # (id, content, the `where` the error names, words the message contains)
    ("text-1601", m.Text(body="a" * 1601), "body", "1601 characters"),
    ("text-801-emoji-is-1602-units", m.Text(body="😀" * 801), "body", "1602 characters"),
    ("text-empty", m.Text(body=""), "body", "empty"),
    (
        "numbered-text-too-long",
        m.Buttons(body="a" * 1590, buttons=[m.Button(id="y", title="Yes")]),
        "body",
        "allows 1600",
    ),
    ("no-buttons", m.Buttons(body="b", buttons=[]), "buttons", "empty"),
    (
        "untitled-button",
        m.Buttons(body="b", buttons=[m.Button(id="y", title="")]),
        "buttons[0].title",
        "empty",
    ),
    (
        "no-rows",
        m.ListMessage(body="b", button="Open", sections=[m.ListSection(rows=[])]),
        "sections",
        "row",
    ),
    ("cta-non-http", m.CtaUrl(body="b", display_text="Go", url="ftp://x.io"), "url", "http"),
    ("media-id-only", m.Media(kind="image", media_id="123"), "media.link", "public URL"),
    ("media-not-http", m.Media(kind="image", link="s3://bucket/a.jpg"), "media.link", "http"),
    ("sticker", m.Media(kind="sticker", link=PIC), "media.kind", "sticker"),
    (
        "caption-too-long",
        m.Media(kind="image", link=PIC, caption="a" * 1601),
        "caption",
        "1601",
    ),
    (
        "card-button-both",
        m.Cards(cards=[m.Card(title="A", buttons=[m.CardButton(title="x", id="1", url=PIC)])]),
        "cards[0].buttons[0]",
        "exactly one",
    ),
    ("template", m.Template(name="hello_world"), "template", "SMS has no platform templates"),
    ("reaction", m.Reaction(message_id="SM1", emoji="👍"), "type", "reactions"),
    ("typing", m.Typing(), "type", "typing"),
    ("mark-read", m.MarkRead(message_id="SM1"), "type", "read receipts"),
    ("contact-without-anything", m.ContactCards(contacts=[{"org": {}}]), "contacts[0]", "no name"),
]


@pytest.mark.parametrize(
    ("content", "where", "words"), [v[1:] for v in VIOLATIONS], ids=[v[0] for v in VIOLATIONS]
)
def test_refuses_what_sms_cannot_carry(content: m.Content, where: str, words: str) -> None:
    with pytest.raises(RenderError) as caught:
        render(content, ENVELOPE, SMS)
    assert caught.value.where == where
    assert words in caught.value.message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (text("a" * 160), 1),
        (text("a" * 161), 2),
        (text("ж" * 71), 2),
        ({"To": TO, "MediaUrl": [PIC]}, 1),
        ({"To": TO, "Body": "a" * 1000, "MediaUrl": [PIC]}, 1),
        ({"To": TO}, 0),
    ],
    ids=["one", "two", "ucs2-two", "mms", "mms-long-caption", "nothing"],
)
def test_segments_of_a_rendered_body(body: dict[str, Any], expected: int) -> None:
    assert segments_of(body) == expected
