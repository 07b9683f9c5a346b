"""Outbound content → the exact body of `POST /v1/message` on Apple's MSP gateway, what
degrades (choices beyond a picker → numbered text, cards → a picker or text) and what is
refused before any HTTP call."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from threadline.channels import messages as m
from threadline.channels.adapter import Envelope, RenderError
from threadline.channels.apple.declaration import APPLE, LIST_ROWS_MAX, TEXT_MAX
from threadline.channels.apple.render import (
    BID,
    EventLocation,
    TimeSlot,
    message_id,
    render,
    time_picker,
)

TO = "urn:mbid:AQAAY7Lq9Xh2"
OURS = "msg_01HQZ"  # our message id (callback data)
ENVELOPE = Envelope(to=TO, callback_data=OURS)
ID = message_id(OURS)


def body(kind: str, **fields: Any) -> dict[str, Any]:
    return {"v": 1, "type": kind, "destinationId": TO, "id": ID, **fields}


def bubble(title: str, subtitle: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"title": title, "style": "icon"}
    if subtitle:
        out["subtitle"] = subtitle
    return out


def quick_reply(summary: str, items: list[tuple[str, str]]) -> dict[str, Any]:
    return body(
        "interactive",
        interactiveData={
            "bid": BID,
            "data": {
                "version": "1.0",
                "requestIdentifier": ID,
                "quick-reply": {
                    "summaryText": summary,
                    "items": [{"identifier": i, "title": t} for i, t in items],
                },
            },
        },
    )


def item(identifier: str, title: str, order: int, subtitle: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "identifier": identifier,
        "title": title,
        "order": order,
        "style": "default",
    }
    if subtitle:
        out["subtitle"] = subtitle
    return out


def section(order: int, items: list[dict[str, Any]], title: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"order": order, "multipleSelection": False, "items": items}
    if title:
        out["title"] = title
    return out


def list_picker(
    title: str, sections: list[dict[str, Any]], subtitle: str | None = None
) -> dict[str, Any]:
    return body(
        "interactive",
        interactiveData={
            "bid": BID,
            "data": {
                "version": "1.0",
                "mspVersion": "1.0",
                "requestIdentifier": ID,
                "listPicker": {"sections": sections},
            },
            "receivedMessage": bubble(title, subtitle),
            "replyMessage": bubble(title),
        },
    )


def rich_link(url: str, title: str) -> dict[str, Any]:
    return body("richLink", richLinkData={"url": url, "title": title, "assets": {}})


def buttons(n: int, body_text: str = "Pick one") -> m.Buttons:
    return m.Buttons(
        body=body_text, buttons=[m.Button(id=f"b{i}", title=f"Option {i}") for i in range(n)]
    )


CASES: list[tuple[str, m.Content, dict[str, Any]]] = [
    ("text", m.Text(body="Hi! How can we help?"), body("text", body="Hi! How can we help?")),
    (
        "text-preview-flag-ignored",
        m.Text(body="See https://example.com", preview_url=True),
        body("text", body="See https://example.com"),
    ),
    (
        "two-buttons-quick-reply",
        m.Buttons(
            body="Did that help?",
            buttons=[m.Button(id="yes", title="Yes"), m.Button(id="no", title="No")],
        ),
        quick_reply("Did that help?", [("yes", "Yes"), ("no", "No")]),
    ),
    (
        "five-buttons-quick-reply-header-footer-said",
        m.Buttons(
            body="How was it?",
            header="Your visit",
            footer="Tap one",
            buttons=[m.Button(id=f"r{i}", title=f"{i} stars") for i in range(1, 6)],
        ),
        quick_reply(
            "Your visit\n\nHow was it?\n\nTap one",
            [(f"r{i}", f"{i} stars") for i in range(1, 6)],
        ),
    ),
    (
        "one-button-list-picker",
        m.Buttons(body="Ready?", buttons=[m.Button(id="go", title="Start")]),
        list_picker("Ready?", [section(0, [item("go", "Start", 0)])]),
    ),
    (
        "six-buttons-list-picker",
        buttons(6),
        list_picker("Pick one", [section(0, [item(f"b{i}", f"Option {i}", i) for i in range(6)])]),
    ),
    (
        "long-quick-reply-title-list-picker",
        m.Buttons(
            body="Which?",
            footer="Any time",
            buttons=[
                m.Button(id="a", title="Talk to someone in sales now"),
                m.Button(id="b", title="Support"),
            ],
        ),
        list_picker(
            "Which?",
            [section(0, [item("a", "Talk to someone in sales now", 0), item("b", "Support", 1)])],
            subtitle="Any time",
        ),
    ),
    (
        "too-many-buttons-numbered-text",
        buttons(LIST_ROWS_MAX + 1, "Pick"),
        body(
            "text",
            body="Pick\n\n"
            + "\n".join(f"{i + 1}. Option {i}" for i in range(LIST_ROWS_MAX + 1))
            + "\n\nReply with a number.",
        ),
    ),
    (
        "list-sections",
        m.ListMessage(
            body="Pick a slot",
            button="Slots",
            header="Opening hours",
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
        list_picker(
            "Pick a slot",
            [
                section(0, [item("m9", "09:00", 0, "Quiet"), item("m10", "10:00", 1)], "Morning"),
                section(1, [item("a2", "14:00", 0)], "Afternoon"),
            ],
            subtitle="Slots",
        ),
    ),
    (
        "list-footer-is-the-subtitle",
        m.ListMessage(
            body="Size?",
            button="Choose",
            footer="All in stock",
            sections=[m.ListSection(rows=[m.ListRow(id="s", title="Small")])],
        ),
        list_picker("Size?", [section(0, [item("s", "Small", 0)])], subtitle="All in stock"),
    ),
    (
        "list-row-title-too-long-numbered-text",
        m.ListMessage(
            body="Which one?",
            button="Choose",
            sections=[
                m.ListSection(
                    rows=[
                        m.ListRow(id="x", title="A title much longer than thirty chars"),
                        m.ListRow(id="y", title="Short"),
                    ]
                )
            ],
        ),
        body(
            "text",
            body="Which one?\n\n1. A title much longer than thirty chars\n2. Short"
            "\n\nReply with a number.",
        ),
    ),
    (
        "cards-that-are-choices-list-picker",
        m.Cards(
            body="Our plans",
            cards=[
                m.Card(title="Basic", subtitle="€5", buttons=[m.CardButton(title="Pick", id="p1")]),
                m.Card(title="Plus", buttons=[m.CardButton(title="Pick", id="p2")]),
            ],
        ),
        list_picker(
            "Our plans", [section(0, [item("p1", "Basic", 0, "€5"), item("p2", "Plus", 1)])]
        ),
    ),
    (
        "cards-with-links-text",
        m.Cards(
            body="New in",
            cards=[
                m.Card(
                    title="Boots",
                    subtitle="Leather",
                    url="https://shop.example/boots",
                    buttons=[m.CardButton(title="Buy", url="https://shop.example/buy/1")],
                )
            ],
        ),
        body(
            "text",
            body="New in\n\n1. Boots\nLeather\nhttps://shop.example/boots\n"
            "Buy: https://shop.example/buy/1",
        ),
    ),
    (
        "cta-url-rich-link",
        m.CtaUrl(body="Track your order", display_text="Track", url="https://shop.example/t/1"),
        rich_link("https://shop.example/t/1", "Track your order"),
    ),
    (
        "location-rich-link-to-maps",
        m.Location(latitude=52.3702, longitude=4.8952, name="Shop", address="Dam 1, Amsterdam"),
        rich_link(
            "https://maps.apple.com/?ll=52.3702,4.8952&q=Shop,+Dam+1,+Amsterdam",
            "Shop, Dam 1, Amsterdam",
        ),
    ),
    (
        "location-without-name",
        m.Location(latitude=-33.8688, longitude=151.2093),
        rich_link("https://maps.apple.com/?ll=-33.8688,151.2093&q=-33.8688,151.2093", "Location"),
    ),
    (
        "location-request-said-as-text",
        m.LocationRequest(body="Where should we deliver?"),
        body("text", body="Where should we deliver?"),
    ),
    ("typing-on", m.Typing(on=True), {"v": 1, "type": "typing_start", "destinationId": TO}),
    ("typing-off", m.Typing(on=False), {"v": 1, "type": "typing_end", "destinationId": TO}),
]


@pytest.mark.parametrize(("name", "content", "expected"), CASES, ids=[c[0] for c in CASES])
def test_render_exact_body(name: str, content: m.Content, expected: dict[str, Any]) -> None:
    assert render(content, ENVELOPE) == expected


@pytest.mark.parametrize(
    ("content", "where"),
    [
        (m.Text(body=""), "body"),
        (m.Text(body="x" * (TEXT_MAX + 1)), "body"),
        (m.Media(kind="image", link="https://cdn.example/a.jpg"), "media"),
        (m.Template(name="order_update"), "type"),
        (m.Reaction(message_id="abc", emoji="👍"), "type"),
        (m.MarkRead(message_id="abc"), "type"),
        (m.ContactCards(contacts=[{"name": {"formatted_name": "Ana"}}]), "type"),
        (m.Buttons(body="Pick", buttons=[]), "buttons"),
        (
            m.Buttons(
                body="Pick",
                buttons=[m.Button(id="a", title="A"), m.Button(id="a", title="B")],
            ),
            "buttons",
        ),
        (m.Buttons(body="", buttons=[m.Button(id="a", title="A")]), "body"),
        (m.ListMessage(body="Pick", button="Go", sections=[m.ListSection(rows=[])]), "sections"),
        (m.CtaUrl(body="Open", display_text="Open", url="ftp://files.example/x"), "url"),
        (
            m.Cards(
                cards=[
                    m.Card(title="A", buttons=[m.CardButton(title="Both", id="a", url="https://x")])
                ]
            ),
            "cards[0].buttons[0]",
        ),
    ],
)
def test_what_apple_cannot_carry_is_refused_before_sending(content: m.Content, where: str) -> None:
    with pytest.raises(RenderError) as refused:
        render(content, ENVELOPE)
    assert refused.value.where == where


def test_media_needs_the_upload_flow() -> None:
    with pytest.raises(RenderError, match="preUpload flow, not built"):
        render(m.Media(kind="document", media_id="1"), ENVELOPE)


def test_a_retry_renders_the_same_body_and_another_message_a_different_one() -> None:
    content = buttons(3)
    assert render(content, ENVELOPE) == render(content, ENVELOPE)
    other = render(content, Envelope(to=TO, callback_data="msg_other"))
    assert other["id"] != ID
    rid = other["interactiveData"]["data"]["requestIdentifier"]
    assert rid == other["id"]  # the answer's requestIdentifier names the message it answers
    uuid.UUID(rid)


def test_without_our_message_id_the_gateway_id_is_left_to_the_client() -> None:
    envelope = Envelope(to=TO)
    assert render(m.Text(body="Hi"), envelope) == {
        "v": 1,
        "type": "text",
        "body": "Hi",
        "destinationId": TO,
    }
    first = render(buttons(3), envelope)["interactiveData"]["data"]["requestIdentifier"]
    again = render(buttons(3), envelope)["interactiveData"]["data"]["requestIdentifier"]
    changed = render(buttons(4), envelope)["interactiveData"]["data"]["requestIdentifier"]
    elsewhere = render(buttons(3), Envelope(to="urn:mbid:other"))["interactiveData"]["data"]
    assert first == again != changed
    assert elsewhere["requestIdentifier"] != first


def test_a_picker_over_the_inline_limit_becomes_numbered_text() -> None:
    rows = [
        m.ListRow(id=f"row-{n}-" + "x" * 300, title=f"Row {n}", description="d" * 300)
        for n in range(LIST_ROWS_MAX)
    ]
    content = m.ListMessage(body="Pick", button="Go", sections=[m.ListSection(rows=rows)])
    rendered = render(content, ENVELOPE)
    assert rendered["type"] == "text"
    assert rendered["body"].startswith("Pick\n\n1. Row 0\n2. Row 1")


def test_the_declared_capabilities_are_what_the_renderer_shows() -> None:
    caps = APPLE.capabilities
    assert (caps.buttons_max, caps.quick_replies_max, caps.list_rows_max) == (0, 5, LIST_ROWS_MAX)
    assert caps.typing and caps.location and not caps.media
    # The largest quick reply choices.present may pick is one the renderer shows as such.
    most = render(buttons(caps.quick_replies_max), ENVELOPE)
    assert "quick-reply" in most["interactiveData"]["data"]
    largest = render(buttons(caps.list_rows_max), ENVELOPE)
    assert "listPicker" in largest["interactiveData"]["data"]


# -- the time picker (no neutral content kind yet) ---------------------------------------------
START = datetime(2026, 3, 11, 15, 0, tzinfo=UTC)


def test_time_picker_exact_body() -> None:
    amsterdam = timezone(timedelta(hours=1))
    slots = [
        TimeSlot("s1", START, timedelta(minutes=30)),
        TimeSlot("s2", datetime(2026, 3, 11, 17, 30, tzinfo=amsterdam), timedelta(hours=1)),
    ]
    rendered = time_picker(
        "Pick a time",
        slots,
        ENVELOPE,
        subtitle="Fitting room",
        event_identifier="fitting",
        timezone_offset_minutes=60,
        location=EventLocation(52.3702, 4.8952, "Shop"),
    )
    assert rendered == body(
        "interactive",
        interactiveData={
            "bid": BID,
            "data": {
                "version": "1.0",
                "mspVersion": "1.0",
                "requestIdentifier": ID,
                "event": {
                    "identifier": "fitting",
                    "title": "Pick a time",
                    "timeslots": [
                        {
                            "identifier": "s1",
                            "startTime": "2026-03-11T15:00+0000",
                            "duration": 1800,
                        },
                        {
                            "identifier": "s2",
                            "startTime": "2026-03-11T16:30+0000",
                            "duration": 3600,
                        },
                    ],
                    "timezoneOffset": 60,
                    "location": {
                        "latitude": 52.3702,
                        "longitude": 4.8952,
                        "radius": 100.0,
                        "title": "Shop",
                    },
                },
            },
            "receivedMessage": bubble("Pick a time", "Fitting room"),
            "replyMessage": bubble("Pick a time"),
        },
    )
    json.dumps(rendered)  # it is plain JSON


@pytest.mark.parametrize(
    ("slots", "where"),
    [
        ([], "timeslots"),
        ([TimeSlot("a", START.replace(tzinfo=None), timedelta(hours=1))], "timeslots"),
        ([TimeSlot("a", START, timedelta(0))], "timeslots[0].duration"),
        (
            [TimeSlot("a", START, timedelta(hours=1)), TimeSlot("a", START, timedelta(hours=1))],
            "timeslots",
        ),
    ],
)
def test_time_picker_refusals(slots: list[TimeSlot], where: str) -> None:
    with pytest.raises(RenderError) as refused:
        time_picker("Pick a time", slots, ENVELOPE)
    assert refused.value.where == where
