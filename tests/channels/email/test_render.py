"""Neutral content → the exact email draft, then the draft → the exact MIME message: headers,
the text and HTML parts, threading, and what marketing must carry (RFC 8058 one-click
unsubscribe, the postal address)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest

from threadline.channels import messages as m
from threadline.channels.adapter import (
    AccountAccess,
    Adapter,
    Envelope,
    RenderError,
    WebhookFormatError,
)
from threadline.channels.choices import Choice, match
from threadline.channels.email.adapter import ADAPTER
from threadline.channels.email.declaration import EMAIL
from threadline.channels.email.mime import Attachment, as_bytes, compose, message_id
from threadline.channels.email.quotes import reply_text
from threadline.channels.email.render import render, reply_with, subject_for
from threadline.channels.email.tokens import read_token, token_sender
from threadline.channels.events import InboundMessage

TO = "ana@example.net"
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
ENVELOPE = Envelope(to=TO, callback_data="msg_1")
SECRET = "account-secret"
SETTINGS: dict[str, Any] = {
    "from_name": "Corner Shop",
    "postal_address": "1 Main Street\nSpringfield 12345",
    "public_url": "https://crm.example.com",
}
ACCESS = AccountAccess(
    base_url="smtp://shop@relay.example.com:587",
    api_version="",
    address="shop@example.com",
    access_token="smtp-password",
    account_id="example.com",
    signing_secret=SECRET,
    settings=SETTINGS,
)


def draft(subject: str, text: str, html: str, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "to": TO,
        "subject": subject,
        "text": text,
        "html": html,
        "in_reply_to": None,
        "references": [],
        "marketing": False,
        "message_ref": "msg_1",
        "attachments": [],
    }
    return {**base, **changes}


CASES: list[tuple[str, m.Content, dict[str, Any]]] = [
    (
        "text",
        m.Text(body="Your order has shipped."),
        draft(
            "Your order has shipped.", "Your order has shipped.", "<p>Your order has shipped.</p>"
        ),
    ),
    (
        "text-paragraphs-links-escaping",
        m.Text(body="Hi Ana,\nsee https://shop.example/o?id=1&x=<2>.\n\nTom & Co"),
        draft(
            "Hi Ana,",
            "Hi Ana,\nsee https://shop.example/o?id=1&x=<2>.\n\nTom & Co",
            '<p>Hi Ana,<br>\nsee <a href="https://shop.example/o?id=1&amp;x=">'
            "https://shop.example/o?id=1&amp;x=</a>&lt;2&gt;.</p>\n<p>Tom &amp; Co</p>",
        ),
    ),
    (
        "buttons",
        m.Buttons(
            body="Ready?",
            buttons=[m.Button(id="yes", title="Yes"), m.Button(id="no", title="No")],
        ),
        draft(
            "Ready?",
            "Ready?\n\n1. Yes\n2. No\n\nReply with 1 or 2.",
            "<p>Ready?</p>\n<ol><li>Yes</li><li>No</li></ol>\n<p>Reply with 1 or 2.</p>",
        ),
    ),
    (
        "buttons-header-footer",
        m.Buttons(
            header="Booking",
            body="Confirm <Tuesday>?",
            footer="Reply within 1 h",
            buttons=[
                m.Button(id="ok", title="Confirm"),
                m.Button(id="move", title="Move"),
                m.Button(id="cancel", title="Cancel"),
            ],
        ),
        draft(
            "Booking",
            "Booking\n\nConfirm <Tuesday>?\n\n1. Confirm\n2. Move\n3. Cancel\n\n"
            "Reply with 1, 2 or 3.\n\nReply within 1 h",
            "<p><strong>Booking</strong></p>\n<p>Confirm &lt;Tuesday&gt;?</p>\n"
            "<ol><li>Confirm</li><li>Move</li><li>Cancel</li></ol>\n"
            "<p>Reply with 1, 2 or 3.</p>\n<p><small>Reply within 1 h</small></p>",
        ),
    ),
    (
        "list-sections-numbered-across",
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
        draft(
            "Pick a slot",
            "Pick a slot\n\nMorning\n\n1. 09:00 — Quiet\n2. 10:00\n\nAfternoon\n\n3. 14:00\n\n"
            "Reply with 1, 2 or 3.",
            "<p>Pick a slot</p>\n<p><strong>Morning</strong></p>\n"
            "<ol><li>09:00<br>\n<small>Quiet</small></li><li>10:00</li></ol>\n"
            '<p><strong>Afternoon</strong></p>\n<ol start="3"><li>14:00</li></ol>\n'
            "<p>Reply with 1, 2 or 3.</p>",
        ),
    ),
    (
        "cta-url",
        m.CtaUrl(body="Track your parcel", display_text="Track", url="https://t.example/1?a=1&b=2"),
        draft(
            "Track your parcel",
            "Track your parcel\n\nTrack: https://t.example/1?a=1&b=2",
            '<p>Track your parcel</p>\n<p><a href="https://t.example/1?a=1&amp;b=2">Track</a></p>',
        ),
    ),
    (
        "cards-with-answers-and-links",
        m.Cards(
            body="Our picks",
            cards=[
                m.Card(
                    title="Red shoes",
                    subtitle="€40",
                    image_url="https://cdn.example/red.jpg",
                    url="https://shop.example/red",
                    buttons=[
                        m.CardButton(title="Buy", id="buy_red"),
                        m.CardButton(title="Details", url="https://shop.example/red/d"),
                    ],
                ),
                m.Card(title="Blue shoes", buttons=[m.CardButton(title="Buy", id="buy_blue")]),
            ],
        ),
        draft(
            "Our picks",
            "Our picks\n\n1. Red shoes\n€40\nhttps://shop.example/red\n"
            "Details: https://shop.example/red/d\n\n2. Blue shoes\n\nReply with 1 or 2.",
            "<p>Our picks</p>\n"
            '<p><strong><a href="https://shop.example/red">1. Red shoes</a></strong><br>\n'
            "€40</p>\n"
            '<p><img src="https://cdn.example/red.jpg" alt="Red shoes" style="max-width:100%">'
            "</p>\n"
            '<p><a href="https://shop.example/red/d">Details</a></p>\n'
            "<p><strong>2. Blue shoes</strong></p>\n<p>Reply with 1 or 2.</p>",
        ),
    ),
    (
        "cards-links-only-ask-for-nothing",
        m.Cards(cards=[m.Card(title="Sale", url="https://shop.example/sale")]),
        draft(
            "1. Sale",
            "1. Sale\nhttps://shop.example/sale",
            '<p><strong><a href="https://shop.example/sale">1. Sale</a></strong></p>',
        ),
    ),
    (
        "location",
        m.Location(latitude=-23.55, longitude=-46.63, name="Shop", address="Av. Paulista 1"),
        draft(
            "Shop",
            "Shop\nAv. Paulista 1\nhttps://www.google.com/maps/search/?api=1&query=-23.55,-46.63",
            "<p><strong>Shop</strong><br>\nAv. Paulista 1<br>\n"
            '<a href="https://www.google.com/maps/search/?api=1&amp;query=-23.55,-46.63">'
            "View on map</a></p>",
        ),
    ),
    (
        "contacts",
        m.ContactCards(
            contacts=[
                {
                    "name": {"formatted_name": "Ana Lima"},
                    "phones": [{"phone": "+55 11 99999-0000"}],
                    "emails": [{"email": "ana@example.net"}],
                },
                {"name": {"first_name": "Ben", "last_name": "Ng"}},
            ]
        ),
        draft(
            "Ana Lima",
            "Ana Lima\n+55 11 99999-0000\nana@example.net\n\nBen Ng",
            "<p>Ana Lima<br>\n+55 11 99999-0000<br>\nana@example.net</p>\n<p>Ben Ng</p>",
        ),
    ),
    (
        "document-by-url",
        m.Media(
            kind="document",
            link="https://cdn.example/files/invoice-7.pdf",
            caption="Your invoice",
        ),
        draft(
            "Your invoice",
            "Your invoice",
            "<p>Your invoice</p>",
            attachments=[
                {
                    "url": "https://cdn.example/files/invoice-7.pdf",
                    "filename": "invoice-7.pdf",
                    "kind": "document",
                }
            ],
        ),
    ),
    (
        "image-without-caption-is-titled-by-its-file",
        m.Media(kind="image", link="https://cdn.example/p.jpg", filename="photo.jpg"),
        draft(
            "photo.jpg",
            "",
            "",
            attachments=[
                {"url": "https://cdn.example/p.jpg", "filename": "photo.jpg", "kind": "image"}
            ],
        ),
    ),
    (
        "location-request-is-the-question",
        m.LocationRequest(body="Where should we deliver?"),
        draft(
            "Where should we deliver?",
            "Where should we deliver?",
            "<p>Where should we deliver?</p>",
        ),
    ),
]


@pytest.mark.parametrize(
    ("content", "expected"), [(c, e) for _, c, e in CASES], ids=[n for n, _, _ in CASES]
)
def test_renders_the_exact_draft(content: m.Content, expected: dict[str, Any]) -> None:
    assert render(content, ENVELOPE) == expected


REFUSED: list[tuple[str, m.Content, str, str]] = [
    ("template", m.Template(name="order_update"), "type", "no platform templates"),
    ("reaction", m.Reaction(message_id="x", emoji="👍"), "type", "cannot react"),
    ("typing", m.Typing(), "type", "typing"),
    ("mark-read", m.MarkRead(message_id="x"), "type", "read receipts"),
    (
        "media-id",
        m.Media(kind="image", media_id="123"),
        "media.image.media_id",
        "platform media id",
    ),
    ("sticker", m.Media(kind="sticker", link="https://x.example/s.webp"), "media.sticker.kind", ""),
    ("media-not-http", m.Media(kind="document", link="ftp://x/y.pdf"), "media.document.link", ""),
    ("empty-text", m.Text(body="  "), "text.body", "must not be empty"),
    ("no-buttons", m.Buttons(body="Pick", buttons=[]), "buttons.buttons", "at least one"),
    (
        "cta-not-http",
        m.CtaUrl(body="Go", display_text="Go", url="javascript:alert(1)"),
        "cta_url.url",
        "http(s)",
    ),
    (
        "card-two-answers",
        m.Cards(
            cards=[
                m.Card(
                    title="A",
                    buttons=[m.CardButton(title="x", id="1"), m.CardButton(title="y", id="2")],
                )
            ]
        ),
        "cards[0].buttons",
        "one answer per card",
    ),
    ("too-long", m.Text(body="x" * 100_001), "text", "email allows 100000"),
]


@pytest.mark.parametrize(
    ("content", "where", "words"),
    [(c, w, s) for _, c, w, s in REFUSED],
    ids=[n for n, _, _, _ in REFUSED],
)
def test_refuses_what_email_cannot_carry(content: m.Content, where: str, words: str) -> None:
    with pytest.raises(RenderError) as caught:
        render(content, ENVELOPE)
    assert caught.value.where == where
    assert words in caught.value.message


SUBJECTS: list[tuple[str, Envelope, str, str]] = [
    ("thread-reply", Envelope(to=TO, reply_to="a@x", subject="Your order"), "hi", "Re: Your order"),
    ("no-double-re", Envelope(to=TO, reply_to="a@x", subject="RE: Order"), "hi", "RE: Order"),
    ("new-thread", Envelope(to=TO, subject="Spring sale"), "hi", "Spring sale"),
    ("one-line", Envelope(to=TO, subject="Two\r\nlines"), "hi", "Two lines"),
    ("first-line", Envelope(to=TO), "\n\n  First   line \nsecond", "First line"),
    (
        "cut-at-a-word",
        Envelope(to=TO),
        "word " * 30,
        "word word word word word word word word word word word word word word word…",
    ),
]


@pytest.mark.parametrize(
    ("envelope", "text", "subject"),
    [(e, t, s) for _, e, t, s in SUBJECTS],
    ids=[n for n, _, _, _ in SUBJECTS],
)
def test_subject(envelope: Envelope, text: str, subject: str) -> None:
    assert subject_for(envelope, text) == subject
    assert len(subject) <= 78


def test_how_to_answer_numbered_choices() -> None:
    assert [reply_with(n) for n in (1, 2, 3, 5, 6)] == [
        "Reply with 1.",
        "Reply with 1 or 2.",
        "Reply with 1, 2 or 3.",
        "Reply with 1, 2, 3, 4 or 5.",
        "Reply with a number from 1 to 6.",
    ]


def test_a_reply_carries_the_thread_and_our_message_id() -> None:
    envelope = Envelope(
        to=TO,
        reply_to="CAB123@mail.example.net",
        callback_data="msg_9",
        subject="Where is my order?",
        purpose="marketing",
    )
    out = render(m.Text(body="On its way"), envelope)
    assert out["subject"] == "Re: Where is my order?"
    assert out["in_reply_to"] == "CAB123@mail.example.net"
    assert out["references"] == ["CAB123@mail.example.net"]
    assert out["message_ref"] == "msg_9"
    assert out["marketing"] is True


def test_content_arrives_as_json_and_renders_the_same() -> None:
    for _, content, expected in CASES:
        again = m.CONTENT_ADAPTER.validate_python(content.model_dump())
        assert render(again, ENVELOPE) == expected


# -- compose: the MIME message -------------------------------------------------------------
def headers(msg: EmailMessage) -> dict[str, str]:
    return {name: str(value) for name, value in msg.items()}


def received(msg: EmailMessage) -> EmailMessage:
    """The message as a receiver parses it off the wire."""
    parsed = BytesParser(_class=EmailMessage, policy=policy.default).parsebytes(as_bytes(msg))
    assert isinstance(parsed, EmailMessage)
    return parsed


def parts(msg: EmailMessage) -> tuple[str, str]:
    wire = received(msg)
    plain = wire.get_body(preferencelist=("plain",))
    page = wire.get_body(preferencelist=("html",))
    assert isinstance(plain, EmailMessage) and isinstance(page, EmailMessage)
    # Line ends are CRLF on the wire, and the parts keep them once decoded.
    return (
        plain.get_content().replace("\r\n", "\n"),
        page.get_content().replace("\r\n", "\n"),
    )


def test_a_service_message_is_text_and_html_with_exact_headers() -> None:
    out = render(m.Text(body="Your order has shipped."), ENVELOPE)
    msg = compose(out, ACCESS, NOW)
    assert headers(msg) == {
        "From": "Corner Shop <shop@example.com>",
        "To": "ana@example.net",
        "Subject": "Your order has shipped.",
        "Date": "Tue, 10 Mar 2026 15:00:00 +0000",
        "Message-ID": "<msg_1@example.com>",
        "MIME-Version": "1.0",
        "Content-Type": msg["Content-Type"],
    }
    assert msg.get_content_type() == "multipart/alternative"
    text, page = parts(msg)
    assert text == "Your order has shipped.\n"
    assert page == (
        '<!DOCTYPE html>\n<html>\n<head><meta charset="utf-8"></head>\n<body>\n'
        "<p>Your order has shipped.</p>\n</body>\n</html>\n"
    )
    for part in msg.iter_parts():
        assert part.get_content_charset() == "utf-8"
        assert "MIME-Version" not in part
    assert b"\r\n" in as_bytes(msg) and b"\n\n" not in as_bytes(msg).replace(b"\r\n", b"")


def test_a_reply_threads_with_in_reply_to_references_and_re() -> None:
    envelope = Envelope(to=TO, reply_to="CAB123@mail.example.net", subject="Where is it?")
    msg = compose(render(m.Text(body="On its way"), envelope), ACCESS, NOW)
    assert msg["Subject"] == "Re: Where is it?"
    assert msg["In-Reply-To"] == "<CAB123@mail.example.net>"
    assert msg["References"] == "<CAB123@mail.example.net>"
    assert "List-Unsubscribe" not in msg


def test_the_message_id_is_our_message_id_so_a_retry_is_the_same_message() -> None:
    out = render(m.Text(body="Hi"), Envelope(to=TO, callback_data="msg_01HX"))
    first, again = compose(out, ACCESS, NOW), compose(out, ACCESS, NOW)
    assert first["Message-ID"] == again["Message-ID"] == "<msg_01HX@example.com>"
    anonymous = render(m.Text(body="Hi"), Envelope(to=TO))
    derived = message_id(anonymous, ACCESS.address, NOW)
    assert derived == message_id(anonymous, ACCESS.address, NOW)
    assert derived.startswith("tl.") and derived.endswith("@example.com")
    assert message_id({"message_ref": "a b<c>..d"}, ACCESS.address, NOW) == "a-b-c-.d@example.com"


def test_non_ascii_is_utf8_in_seven_bit_encodings() -> None:
    out = render(m.Text(body="Olá, São Paulo — até já"), Envelope(to=TO, subject="Ação"))
    msg = compose(out, ACCESS, NOW)
    raw = as_bytes(msg)
    assert all(byte < 128 for byte in raw)
    assert msg["Subject"] == "Ação"
    assert parts(msg)[0] == "Olá, São Paulo — até já\n"


def test_marketing_carries_one_click_unsubscribe_and_the_postal_address() -> None:
    envelope = Envelope(to="Ana@Example.net", purpose="marketing", callback_data="msg_7")
    msg = compose(render(m.Text(body="Spring sale: 20% off"), envelope), ACCESS, NOW)
    unsubscribe = str(msg["List-Unsubscribe"])
    link, mailto = (part.strip().strip("<>") for part in unsubscribe.split(","))
    prefix = "https://crm.example.com/email/unsubscribe/"
    assert link.startswith(prefix)
    token = link.removeprefix(prefix)
    assert read_token(SECRET, token) == ("ana@example.net", "msg_7")
    assert token_sender(token) == "shop@example.com"
    assert mailto == "mailto:shop@example.com?subject=unsubscribe"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "List-Id" not in msg
    # The URL stays whole on the wire: no encoded words, no folding inside it.
    assert f"List-Unsubscribe: <{link}>,\r\n <{mailto}>\r\n".encode() in as_bytes(msg)
    text, page = parts(msg)
    assert text == (
        f"Spring sale: 20% off\n\n---\n1 Main Street\nSpringfield 12345\nUnsubscribe: {link}\n"
    )
    assert (
        f"<p>Spring sale: 20% off</p>\n<hr>\n<p><small>1 Main Street<br>\nSpringfield 12345<br>\n"
        f'<a href="{link}">Unsubscribe</a></small></p>\n</body>'
    ) in page


def test_marketing_list_id_and_reply_to_when_configured() -> None:
    settings = {**SETTINGS, "list_id": "<news.example.com>", "reply_to": "care@example.com"}
    access = replace(ACCESS, settings=settings)
    envelope = Envelope(to=TO, purpose="marketing", callback_data="msg_7")
    msg = compose(render(m.Text(body="News"), envelope), access, NOW)
    assert msg["List-Id"] == "<news.example.com>"
    assert msg["Reply-To"] == "care@example.com"


@pytest.mark.parametrize(
    ("missing", "where"),
    [("postal_address", "postal_address"), ("public_url", "public_url")],
)
def test_marketing_without_postal_address_or_public_url_is_refused(
    missing: str, where: str
) -> None:
    access = replace(ACCESS, settings={**SETTINGS, missing: ""})
    out = render(m.Text(body="Sale"), Envelope(to=TO, purpose="marketing"))
    with pytest.raises(RenderError) as caught:
        compose(out, access, NOW)
    assert caught.value.where == where
    # Service mail from the same account goes.
    compose(render(m.Text(body="Receipt"), ENVELOPE), access, NOW)


def test_attachments_make_a_mixed_message() -> None:
    out = render(
        m.Media(kind="document", link="https://cdn.example/i.pdf", caption="Invoice"), ENVELOPE
    )
    pdf = b"%PDF-1.4 fake"
    msg = compose(out, ACCESS, NOW, [Attachment("i.pdf", pdf, "application/pdf")])
    assert msg.get_content_type() == "multipart/mixed"
    alternative, attached = msg.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert attached.get_filename() == "i.pdf"
    assert attached.get_content_type() == "application/pdf"
    assert attached.get_content() == pdf


def test_a_draft_without_html_is_plain_text() -> None:
    out = render(m.Media(kind="image", link="https://cdn.example/p.jpg"), ENVELOPE)
    msg = compose(out, ACCESS, NOW, [Attachment("p.jpg", b"\xff\xd8", "image/jpeg")])
    body, image = msg.iter_parts()
    assert body.get_content_type() == "text/plain"
    assert image.get_content_type() == "image/jpeg"


def test_a_bad_recipient_is_refused() -> None:
    with pytest.raises(RenderError) as caught:
        compose(draft("x", "x", "", to="not an address"), ACCESS, NOW)
    assert caught.value.where == "to"


def test_the_adapter_is_the_one_handler_shape() -> None:
    adapter: Adapter = ADAPTER
    assert adapter.type is EMAIL
    assert adapter.render(m.Text(body="Hi"), ENVELOPE) == render(m.Text(body="Hi"), ENVELOPE)
    raw = b"From: ana@example.net\r\nTo: shop@example.com\r\nMessage-ID: <a@b>\r\n\r\nhi\r\n"
    (event,) = adapter.parse(raw)
    assert isinstance(event, InboundMessage) and event.text == "hi"
    with pytest.raises(WebhookFormatError):
        adapter.parse({"entry": []})


@pytest.mark.parametrize(("said", "chosen"), [("2", "no"), ("No", "no"), ("yes!", "yes")])
def test_a_numbered_choice_is_answered_by_number_or_title(said: str, chosen: str) -> None:
    """What the person types on top of the quoted question is what `choices.match` reads."""
    question = m.Buttons(
        body="Ready?", buttons=[m.Button(id="yes", title="Yes"), m.Button(id="no", title="No")]
    )
    quoted = "\n".join(f"> {line}" for line in render(question, ENVELOPE)["text"].splitlines())
    answer = reply_text(f"{said}\n\nOn Tue, 10 Mar 2026, Corner Shop wrote:\n{quoted}")
    offered = [Choice(id=b.id, title=b.title) for b in question.buttons]
    found = match(answer, offered)
    assert found is not None and found.id == chosen


def test_settings_that_do_not_fit_the_config_are_a_render_error() -> None:
    with pytest.raises(RenderError) as caught:
        compose(draft("x", "x", ""), replace(ACCESS, settings={"colour": "red"}), NOW)
    assert caught.value.where == "settings.colour"
