"""Outbound content → the exact Cloud API request body, and every limit refused before any
HTTP call is made."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from threadline.channels import messages as m
from threadline.channels.whatsapp.client import WhatsAppClient
from threadline.channels.whatsapp.render import RenderError, render

TO = "5511999990000"
ENVELOPE = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": TO}


def body(kind: str, **fields: Any) -> dict[str, Any]:
    return {**ENVELOPE, "type": kind, **fields}


def interactive(**fields: Any) -> dict[str, Any]:
    return body("interactive", interactive=fields)


def template(name: str, components: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name, "language": {"code": "en_US"}}
    if components is not None:
        spec["components"] = components
    return body("template", template=spec)


CONTACT_CARD = {
    "name": {"formatted_name": "Ana Lima", "first_name": "Ana"},
    "phones": [{"phone": "+55 11 99999-0000", "wa_id": TO, "type": "CELL"}],
}

CASES: list[tuple[str, m.Content, dict[str, Any]]] = [
    (
        "text",
        m.Text(body="Hello"),
        body("text", text={"body": "Hello", "preview_url": False}),
    ),
    (
        "text-preview",
        m.Text(body="See https://example.com", preview_url=True),
        body("text", text={"body": "See https://example.com", "preview_url": True}),
    ),
    ("image-id", m.Media(kind="image", media_id="111"), body("image", image={"id": "111"})),
    (
        "image-link-caption",
        m.Media(kind="image", link="https://cdn.example.com/a.jpg", caption="Look"),
        body("image", image={"link": "https://cdn.example.com/a.jpg", "caption": "Look"}),
    ),
    ("video-id", m.Media(kind="video", media_id="666"), body("video", video={"id": "666"})),
    (
        "video-link-caption",
        m.Media(kind="video", link="https://cdn.example.com/v.mp4", caption="Clip"),
        body("video", video={"link": "https://cdn.example.com/v.mp4", "caption": "Clip"}),
    ),
    ("audio-id", m.Media(kind="audio", media_id="222"), body("audio", audio={"id": "222"})),
    (
        "audio-link",
        m.Media(kind="audio", link="https://cdn.example.com/a.ogg"),
        body("audio", audio={"link": "https://cdn.example.com/a.ogg"}),
    ),
    (
        "document-id-filename-caption",
        m.Media(kind="document", media_id="333", filename="invoice.pdf", caption="Your invoice"),
        body(
            "document", document={"id": "333", "filename": "invoice.pdf", "caption": "Your invoice"}
        ),
    ),
    (
        "document-link",
        m.Media(kind="document", link="https://cdn.example.com/i.pdf", filename="i.pdf"),
        body("document", document={"link": "https://cdn.example.com/i.pdf", "filename": "i.pdf"}),
    ),
    ("sticker-id", m.Media(kind="sticker", media_id="444"), body("sticker", sticker={"id": "444"})),
    (
        "sticker-link",
        m.Media(kind="sticker", link="https://cdn.example.com/s.webp"),
        body("sticker", sticker={"link": "https://cdn.example.com/s.webp"}),
    ),
    (
        "location",
        m.Location(latitude=-23.55, longitude=-46.63, name="Shop", address="Av. Paulista 1"),
        body(
            "location",
            location={
                "latitude": -23.55,
                "longitude": -46.63,
                "name": "Shop",
                "address": "Av. Paulista 1",
            },
        ),
    ),
    (
        "location-bare",
        m.Location(latitude=1.5, longitude=2.5),
        body("location", location={"latitude": 1.5, "longitude": 2.5}),
    ),
    (
        "contacts",
        m.ContactCards(contacts=[CONTACT_CARD]),
        body("contacts", contacts=[CONTACT_CARD]),
    ),
    (
        "reaction",
        m.Reaction(message_id="wamid.X", emoji="👍"),
        body("reaction", reaction={"message_id": "wamid.X", "emoji": "👍"}),
    ),
    (
        "reaction-removed",
        m.Reaction(message_id="wamid.X", emoji=""),
        body("reaction", reaction={"message_id": "wamid.X", "emoji": ""}),
    ),
    (
        "buttons",
        m.Buttons(
            body="Ready?",
            buttons=[m.Button(id="yes", title="Yes"), m.Button(id="no", title="No")],
        ),
        interactive(
            type="button",
            body={"text": "Ready?"},
            action={
                "buttons": [
                    {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                    {"type": "reply", "reply": {"id": "no", "title": "No"}},
                ]
            },
        ),
    ),
    (
        "buttons-header-footer",
        m.Buttons(
            body="Confirm the booking",
            header="Booking",
            footer="Reply within 1 h",
            buttons=[m.Button(id="ok", title="Confirm")],
        ),
        interactive(
            type="button",
            header={"type": "text", "text": "Booking"},
            body={"text": "Confirm the booking"},
            footer={"text": "Reply within 1 h"},
            action={"buttons": [{"type": "reply", "reply": {"id": "ok", "title": "Confirm"}}]},
        ),
    ),
    (
        "list",
        m.ListMessage(
            body="Pick a slot",
            button="Slots",
            header="Opening hours",
            footer="Local time",
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
        interactive(
            type="list",
            header={"type": "text", "text": "Opening hours"},
            body={"text": "Pick a slot"},
            footer={"text": "Local time"},
            action={
                "button": "Slots",
                "sections": [
                    {
                        "title": "Morning",
                        "rows": [
                            {"id": "m9", "title": "09:00", "description": "Quiet"},
                            {"id": "m10", "title": "10:00"},
                        ],
                    },
                    {"title": "Afternoon", "rows": [{"id": "a2", "title": "14:00"}]},
                ],
            },
        ),
    ),
    (
        "list-one-untitled-section",
        m.ListMessage(
            body="Pick one",
            button="Options",
            sections=[m.ListSection(rows=[m.ListRow(id="a", title="A")])],
        ),
        interactive(
            type="list",
            body={"text": "Pick one"},
            action={"button": "Options", "sections": [{"rows": [{"id": "a", "title": "A"}]}]},
        ),
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
        interactive(
            type="cta_url",
            header={"type": "text", "text": "Order 1"},
            body={"text": "Track your order"},
            footer={"text": "Thanks"},
            action={
                "name": "cta_url",
                "parameters": {"display_text": "Track", "url": "https://shop.example.com/o/1"},
            },
        ),
    ),
    (
        "location-request",
        m.LocationRequest(body="Where should we deliver?"),
        interactive(
            type="location_request_message",
            body={"text": "Where should we deliver?"},
            action={"name": "send_location"},
        ),
    ),
    ("template-bare", m.Template(name="hello_world"), template("hello_world")),
    (
        "template-positional-body",
        m.Template(name="order_update", body=["Ana", "#123"]),
        template(
            "order_update",
            [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Ana"},
                        {"type": "text", "text": "#123"},
                    ],
                }
            ],
        ),
    ),
    (
        "template-named-params",
        m.Template(
            name="welcome", header_text={"shop": "Lima"}, body={"first_name": "Ana", "code": "X1"}
        ),
        template(
            "welcome",
            [
                {
                    "type": "header",
                    "parameters": [{"type": "text", "parameter_name": "shop", "text": "Lima"}],
                },
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "parameter_name": "first_name", "text": "Ana"},
                        {"type": "text", "parameter_name": "code", "text": "X1"},
                    ],
                },
            ],
        ),
    ),
    (
        "template-header-text",
        m.Template(name="promo", header_text=["Spring"], body=["Ana"]),
        template(
            "promo",
            [
                {"type": "header", "parameters": [{"type": "text", "text": "Spring"}]},
                {"type": "body", "parameters": [{"type": "text", "text": "Ana"}]},
            ],
        ),
    ),
    (
        "template-header-image-link",
        m.Template(
            name="promo_img",
            header_media=m.TemplateMedia(kind="image", link="https://cdn.example.com/p.jpg"),
        ),
        template(
            "promo_img",
            [
                {
                    "type": "header",
                    "parameters": [
                        {"type": "image", "image": {"link": "https://cdn.example.com/p.jpg"}}
                    ],
                }
            ],
        ),
    ),
    (
        "template-header-document-id",
        m.Template(
            name="invoice",
            header_media=m.TemplateMedia(kind="document", media_id="555", filename="inv.pdf"),
        ),
        template(
            "invoice",
            [
                {
                    "type": "header",
                    "parameters": [
                        {"type": "document", "document": {"id": "555", "filename": "inv.pdf"}}
                    ],
                }
            ],
        ),
    ),
    (
        "template-header-location",
        m.Template(
            name="store_here",
            header_location=m.Location(latitude=10.0, longitude=20.0, name="Store", address="Main"),
        ),
        template(
            "store_here",
            [
                {
                    "type": "header",
                    "parameters": [
                        {
                            "type": "location",
                            "location": {
                                "latitude": 10.0,
                                "longitude": 20.0,
                                "name": "Store",
                                "address": "Main",
                            },
                        }
                    ],
                }
            ],
        ),
    ),
    (
        "template-buttons",
        m.Template(
            name="offer",
            body=["Ana"],
            buttons=[
                m.TemplateButtonParam(index=0, sub_type="quick_reply", value="YES"),
                m.TemplateButtonParam(index=1, sub_type="url", value="order/123"),
                m.TemplateButtonParam(index=2, sub_type="copy_code", value="SPRING25"),
            ],
        ),
        template(
            "offer",
            [
                {"type": "body", "parameters": [{"type": "text", "text": "Ana"}]},
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "0",
                    "parameters": [{"type": "payload", "payload": "YES"}],
                },
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "1",
                    "parameters": [{"type": "text", "text": "order/123"}],
                },
                {
                    "type": "button",
                    "sub_type": "copy_code",
                    "index": "2",
                    "parameters": [{"type": "coupon_code", "coupon_code": "SPRING25"}],
                },
            ],
        ),
    ),
    (
        "template-otp",
        m.Template(name="login_code", language="pt_BR", otp_code="123456"),
        {
            **ENVELOPE,
            "type": "template",
            "template": {
                "name": "login_code",
                "language": {"code": "pt_BR"},
                "components": [
                    {"type": "body", "parameters": [{"type": "text", "text": "123456"}]},
                    {
                        "type": "button",
                        "sub_type": "url",
                        "index": "0",
                        "parameters": [{"type": "text", "text": "123456"}],
                    },
                ],
            },
        },
    ),
]


@pytest.mark.parametrize(("content", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_renders_the_exact_request_body(content: m.Content, expected: dict[str, Any]) -> None:
    assert render(content, TO) == expected


def test_mark_as_read_is_a_status_body_without_recipient() -> None:
    assert render(m.MarkRead(message_id="wamid.IN"), TO) == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.IN",
    }


def test_reply_context_and_callback_data_are_added_to_any_message() -> None:
    assert render(m.Text(body="Sure"), TO, reply_to="wamid.PREV", callback_data="camp-7") == {
        **ENVELOPE,
        "type": "text",
        "text": {"body": "Sure", "preview_url": False},
        "context": {"message_id": "wamid.PREV"},
        "biz_opaque_callback_data": "camp-7",
    }
    rendered = render(m.Template(name="hello_world"), TO, callback_data="x" * 512)
    assert rendered["biz_opaque_callback_data"] == "x" * 512
    assert "context" not in rendered


def test_content_arrives_as_json_and_renders_the_same() -> None:
    content = m.CONTENT_ADAPTER.validate_python(
        {"type": "buttons", "body": "Ready?", "buttons": [{"id": "y", "title": "Yes"}]}
    )
    assert render(content, TO)["interactive"]["action"] == {
        "buttons": [{"type": "reply", "reply": {"id": "y", "title": "Yes"}}]
    }


# -- limits ---------------------------------------------------------------------------------
def _rows(count: int, prefix: str) -> list[m.ListRow]:
    return [m.ListRow(id=f"{prefix}{i}", title=f"Row {i}") for i in range(count)]


def _buttons(*titles: str) -> list[m.Button]:
    return [m.Button(id=f"b{i}", title=t) for i, t in enumerate(titles)]


URL = "https://cdn.example.com/x"
VIOLATIONS: list[tuple[str, m.Content, str | None, str]] = [
    # (id, content, callback data, the `where` the error names)
    ("text-4097", m.Text(body="x" * 4097), None, "text.body"),
    ("text-empty", m.Text(body=""), None, "text.body"),
    ("interactive-body-1025", m.Buttons(body="x" * 1025, buttons=_buttons("A")), None, "body"),
    ("four-buttons", m.Buttons(body="b", buttons=_buttons("A", "B", "C", "D")), None, "buttons"),
    ("no-buttons", m.Buttons(body="b", buttons=[]), None, "buttons"),
    ("button-title-21", m.Buttons(body="b", buttons=_buttons("x" * 21)), None, "buttons[0].title"),
    ("duplicate-titles", m.Buttons(body="b", buttons=_buttons("Yes", "Yes")), None, "buttons"),
    (
        "eleven-rows",
        m.ListMessage(
            body="b",
            button="Open",
            sections=[
                m.ListSection(title="One", rows=_rows(6, "a")),
                m.ListSection(title="Two", rows=_rows(5, "b")),
            ],
        ),
        None,
        "sections",
    ),
    (
        "row-title-25",
        m.ListMessage(
            body="b",
            button="Open",
            sections=[m.ListSection(rows=[m.ListRow(id="r", title="x" * 25)])],
        ),
        None,
        "sections[0].rows[0].title",
    ),
    (
        "row-description-73",
        m.ListMessage(
            body="b",
            button="Open",
            sections=[m.ListSection(rows=[m.ListRow(id="r", title="t", description="x" * 73)])],
        ),
        None,
        "sections[0].rows[0].description",
    ),
    (
        "section-title-missing",
        m.ListMessage(
            body="b",
            button="Open",
            sections=[
                m.ListSection(title="One", rows=_rows(1, "a")),
                m.ListSection(rows=_rows(1, "b")),
            ],
        ),
        None,
        "sections[1].title",
    ),
    (
        "cta-display-text-21",
        m.CtaUrl(body="b", display_text="x" * 21, url="https://example.com"),
        None,
        "display_text",
    ),
    (
        "cta-non-http-url",
        m.CtaUrl(body="b", display_text="Go", url="ftp://example.com"),
        None,
        "url",
    ),
    ("caption-on-audio", m.Media(kind="audio", link=URL, caption="c"), None, "audio.caption"),
    (
        "caption-on-sticker",
        m.Media(kind="sticker", media_id="1", caption="c"),
        None,
        "sticker.caption",
    ),
    (
        "filename-on-image",
        m.Media(kind="image", media_id="1", filename="a.jpg"),
        None,
        "image.filename",
    ),
    ("media-id-and-link", m.Media(kind="image", media_id="1", link=URL), None, "image"),
    ("media-neither", m.Media(kind="video"), None, "video"),
    ("template-empty-param", m.Template(name="t", body=["Ana", "  "]), None, "body[1]"),
    (
        "template-empty-named-param",
        m.Template(name="t", body={"first_name": ""}),
        None,
        "body.first_name",
    ),
    (
        "template-two-headers",
        m.Template(
            name="t",
            header_text=["Hi"],
            header_media=m.TemplateMedia(kind="image", link=URL),
        ),
        None,
        "template.header",
    ),
    ("otp-code-16", m.Template(name="t", otp_code="1" * 16), None, "otp_code"),
    ("callback-data-513", m.Text(body="hi"), "x" * 513, "biz_opaque_callback_data"),
]


@dataclass
class Platform:
    """A real Graph stand-in (aiohttp.web) on a local port; records every request received."""

    url: str
    recorded: list[str]  # "METHOD URL" of each request received


@pytest.fixture
async def platform() -> AsyncIterator[Platform]:
    recorded: list[str] = []

    async def anything(request: web.Request) -> web.Response:
        recorded.append(f"{request.method} {request.url}")
        return web.json_response({"messages": [{"id": "wamid.SENT"}]})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        yield Platform(f"http://{host}:{port}", recorded)
    finally:
        await runner.cleanup()


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[WhatsAppClient]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        yield WhatsAppClient(
            http,
            base_url=platform.url,
            api_version="v21.0",
            phone_number_id="1065",
            access_token="tok",
        )


async def deliver(client: WhatsAppClient, content: m.Content, callback: str | None) -> None:
    """What the dispatcher does: render, then send."""
    await client.send(render(content, TO, callback_data=callback))


@pytest.mark.parametrize(
    ("content", "callback", "where"), [v[1:] for v in VIOLATIONS], ids=[v[0] for v in VIOLATIONS]
)
async def test_limit_violation_is_refused_before_any_http_call(
    content: m.Content,
    callback: str | None,
    where: str,
    client: WhatsAppClient,
    platform: Platform,
) -> None:
    with pytest.raises(RenderError) as raised:
        await deliver(client, content, callback)
    assert raised.value.where == where
    assert raised.value.message
    assert str(raised.value).startswith(f"{where}: ")
    assert platform.recorded == []


async def test_the_same_client_does_send_valid_content(
    client: WhatsAppClient, platform: Platform
) -> None:
    # The control for the test above: the local server really is reached by a good body.
    await deliver(client, m.Text(body="x" * 4096), "x" * 512)
    assert platform.recorded == [f"POST {platform.url}/v21.0/1065/messages"]


@pytest.mark.parametrize(
    "content",
    [
        m.Buttons(body="x" * 1024, buttons=_buttons("x" * 20, "B", "C")),
        m.ListMessage(
            body="b",
            button="x" * 20,
            sections=[
                m.ListSection(
                    title="x" * 24,
                    rows=[m.ListRow(id="r0", title="x" * 24, description="x" * 72), *_rows(9, "s")],
                )
            ],
        ),
        m.CtaUrl(body="b", display_text="x" * 20, url="http://example.com"),
        m.Template(name="t", otp_code="1" * 15),
    ],
    ids=["buttons-at-limits", "list-at-limits", "cta-at-limits", "otp-15"],
)
def test_content_exactly_at_the_limits_renders(content: m.Content) -> None:
    assert render(content, TO)["to"] == TO
