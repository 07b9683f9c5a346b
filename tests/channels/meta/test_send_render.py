"""Every neutral message kind × WhatsApp, Messenger and Instagram: the exact request body each
renderer produces (degradations included), and every refusal with the `where` it names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from threadline.channels import messages as m
from threadline.channels.adapter import Envelope, RenderError
from threadline.channels.instagram.declaration import INSTAGRAM
from threadline.channels.messenger.declaration import MESSENGER
from threadline.channels.meta.send_render import render
from threadline.channels.rules import Basis
from threadline.channels.types import ChannelType
from threadline.channels.whatsapp.render import render as whatsapp_render

WA, MS, IG = "whatsapp", "messenger", "instagram"
TO = {WA: "5511999990000", MS: "24680", IG: "13579"}
DECLARED: dict[str, ChannelType] = {MS: MESSENGER, IG: INSTAGRAM}

IMG = "https://cdn.example.com/a.jpg"
PDF = "https://cdn.example.com/invoice.pdf"
SHOP = "https://shop.example.com"


def rendered(channel: str, content: m.Content, envelope: Envelope) -> dict[str, Any]:
    """What the adapter of `channel` sends for this content and envelope."""
    if channel == WA:
        return whatsapp_render(
            content, envelope.to, reply_to=envelope.reply_to, callback_data=envelope.callback_data
        )
    return render(content, envelope, DECLARED[channel])


# -- expected bodies ------------------------------------------------------------------------
def wa(kind: str, **fields: Any) -> dict[str, Any]:
    head = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": TO[WA]}
    return {**head, "type": kind, **fields}


def meta(channel: str, message: dict[str, Any], **addressing: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"recipient": {"id": TO[channel]}, "messaging_type": "RESPONSE"}
    return {**base, **addressing, "message": message}


def action(channel: str, sender_action: str, **extra: Any) -> dict[str, Any]:
    return {"recipient": {"id": TO[channel]}, "sender_action": sender_action, **extra}


def attachment(kind: str, url: str) -> dict[str, Any]:
    return {"attachment": {"type": kind, "payload": {"url": url, "is_reusable": True}}}


def template(payload: dict[str, Any]) -> dict[str, Any]:
    return {"attachment": {"type": "template", "payload": payload}}


def button_template(text: str, *buttons: dict[str, Any]) -> dict[str, Any]:
    return template({"template_type": "button", "text": text, "buttons": list(buttons)})


def postback(title: str, payload: str) -> dict[str, Any]:
    return {"type": "postback", "title": title, "payload": payload}


def web_url(title: str, url: str) -> dict[str, Any]:
    return {"type": "web_url", "url": url, "title": title}


def quick_replies(text: str, *pairs: tuple[str, str]) -> dict[str, Any]:
    replies = [{"content_type": "text", "title": t, "payload": p} for t, p in pairs]
    return {"text": text, "quick_replies": replies}


# -- content --------------------------------------------------------------------------------
COLORS = ["Red", "Blue", "Green", "Pink", "Gray", "Teal", "Gold", "Lime"]
COLORS += ["Navy", "Plum", "Rose", "Sand", "Mint", "Ruby"]  # 14: one over quick_replies_max


def choose(count: int, body: str = "Pick a color") -> m.Buttons:
    buttons = [m.Button(id=c.upper(), title=c) for c in COLORS[:count]]
    return m.Buttons(body=body, buttons=buttons)


def numbered(body: str, titles: list[str]) -> str:
    lines = "\n".join(f"{n}. {t}" for n, t in enumerate(titles, start=1))
    return f"{body}\n\n{lines}\n\nReply with a number."


CONTACT = {
    "name": {"formatted_name": "Ana Lima", "first_name": "Ana"},
    "phones": [{"phone": "+55 11 99999-0000", "type": "CELL"}],
    "emails": [{"email": "ana@example.com"}],
}
LOCATION = m.Location(latitude=-23.55, longitude=-46.63, name="Shop", address="Av. Paulista 1")
LOCATION_TEXT = "Shop\nAv. Paulista 1\nhttps://maps.google.com/?q=-23.55,-46.63"
LIST = m.ListMessage(
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
)
LONG_LIST = m.ListMessage(
    body="Pick a size",
    button="Sizes",
    sections=[
        m.ListSection(
            rows=[m.ListRow(id="s36", title="36", description="Small")]
            + [m.ListRow(id=f"s{n}", title=str(n)) for n in range(37, 50)]
        )
    ],
)
CTA = m.CtaUrl(body="Track your order", display_text="Track", url=f"{SHOP}/o/1")
CAROUSEL = m.Cards(
    body="Our picks",
    cards=[
        m.Card(
            title="Red shirt",
            subtitle="Cotton",
            image_url=IMG,
            url=f"{SHOP}/red",
            buttons=[
                m.CardButton(title="Buy", id="buy-red"),
                m.CardButton(title="Details", url=f"{SHOP}/red/details"),
            ],
        ),
        m.Card(title="Blue shirt", buttons=[m.CardButton(title="Buy", id="buy-blue")]),
    ],
)
PLANS = m.Cards(
    body="Which plan?",
    cards=[
        m.Card(title="Basic", subtitle="1 seat", buttons=[m.CardButton(title="Pick", id="basic")]),
        m.Card(
            title="Team",
            subtitle="10 seats",
            image_url=IMG,
            buttons=[m.CardButton(title="Pick", id="team")],
        ),
    ],
)


@dataclass(frozen=True)
class Case:
    id: str
    channel: str
    content: m.Content
    expected: dict[str, Any]
    envelope: dict[str, Any] = field(default_factory=dict)  # Envelope fields besides `to`


def on_meta(id: str, content: m.Content, message: dict[str, Any]) -> list[Case]:
    """The same message on Messenger and Instagram (both answer within the window)."""
    return [Case(f"{id}/{ch}", ch, content, meta(ch, message)) for ch in (MS, IG)]


CASES: list[Case] = [
    # text
    Case(
        "text/whatsapp",
        WA,
        m.Text(body="Hello"),
        wa("text", text={"body": "Hello", "preview_url": False}),
    ),
    *on_meta("text", m.Text(body="Hello"), {"text": "Hello"}),
    Case("text-at-limit/instagram", IG, m.Text(body="x" * 1000), meta(IG, {"text": "x" * 1000})),
    # media
    Case("image/whatsapp", WA, m.Media(kind="image", link=IMG), wa("image", image={"link": IMG})),
    *on_meta("image", m.Media(kind="image", link=IMG), attachment("image", IMG)),
    Case(
        "document/whatsapp",
        WA,
        m.Media(kind="document", link=PDF, filename="invoice.pdf"),
        wa("document", document={"link": PDF, "filename": "invoice.pdf"}),
    ),
    Case(
        "document-as-file-without-filename/messenger",
        MS,
        m.Media(kind="document", link=PDF, filename="invoice.pdf"),
        meta(MS, attachment("file", PDF)),
    ),
    *on_meta(
        "video", m.Media(kind="video", link=f"{SHOP}/v.mp4"), attachment("video", f"{SHOP}/v.mp4")
    ),
    *on_meta(
        "audio", m.Media(kind="audio", link=f"{SHOP}/a.mp3"), attachment("audio", f"{SHOP}/a.mp3")
    ),
    # location: a pin on WhatsApp, name, address and a maps link elsewhere
    Case(
        "location/whatsapp",
        WA,
        LOCATION,
        wa(
            "location",
            location={
                "latitude": -23.55,
                "longitude": -46.63,
                "name": "Shop",
                "address": "Av. Paulista 1",
            },
        ),
    ),
    *on_meta("location-as-text", LOCATION, {"text": LOCATION_TEXT}),
    Case(
        "bare-location-as-link/messenger",
        MS,
        m.Location(latitude=1.5, longitude=2.5),
        meta(MS, {"text": "https://maps.google.com/?q=1.5,2.5"}),
    ),
    # contacts
    Case(
        "contacts/whatsapp",
        WA,
        m.ContactCards(contacts=[CONTACT]),
        wa("contacts", contacts=[CONTACT]),
    ),
    *on_meta(
        "contacts-as-text",
        m.ContactCards(contacts=[CONTACT, {"name": {"first_name": "Bo", "last_name": "Ng"}}]),
        {"text": "Ana Lima\n+55 11 99999-0000\nana@example.com\n\nBo Ng"},
    ),
    # reactions: Instagram knows only "love"; Messenger none (see REFUSALS)
    Case(
        "reaction/whatsapp",
        WA,
        m.Reaction(message_id="wamid.X", emoji="👍"),
        wa("reaction", reaction={"message_id": "wamid.X", "emoji": "👍"}),
    ),
    Case(
        "reaction-love/instagram",
        IG,
        m.Reaction(message_id="m_X", emoji="❤️"),
        action(IG, "react", payload={"message_id": "m_X", "reaction": "love"}),
    ),
    Case(
        "reaction-removed/instagram",
        IG,
        m.Reaction(message_id="m_X", emoji=""),
        action(IG, "unreact", payload={"message_id": "m_X"}),
    ),
    # buttons: reply buttons / button template → quick replies → numbered text
    Case(
        "3-buttons/whatsapp",
        WA,
        choose(3),
        wa(
            "interactive",
            interactive={
                "type": "button",
                "body": {"text": "Pick a color"},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": c.upper(), "title": c}}
                        for c in COLORS[:3]
                    ]
                },
            },
        ),
    ),
    *on_meta(
        "3-buttons-as-button-template",
        choose(3),
        button_template("Pick a color", *(postback(c, c.upper()) for c in COLORS[:3])),
    ),
    Case(
        "button-template-folds-header-footer/messenger",
        MS,
        m.Buttons(
            body="Confirm the booking",
            header="Booking",
            footer="Reply within 1 h",
            buttons=[m.Button(id="ok", title="Confirm")],
        ),
        meta(
            MS,
            button_template(
                "Booking\n\nConfirm the booking\n\nReply within 1 h", postback("Confirm", "ok")
            ),
        ),
    ),
    *on_meta(
        "5-buttons-as-quick-replies",
        choose(5),
        quick_replies("Pick a color", *((c, c.upper()) for c in COLORS[:5])),
    ),
    *on_meta("14-buttons-as-numbered-text", choose(14), {"text": numbered("Pick a color", COLORS)}),
    Case(
        # The platform would cut a quick reply at 20 characters: the title stays whole as text.
        "title-over-20-as-numbered-text/messenger",
        MS,
        m.Buttons(
            body="Which one?",
            buttons=[
                m.Button(id="a", title="The extra large family box"),
                m.Button(id="b", title="Small"),
            ],
        ),
        meta(MS, {"text": numbered("Which one?", ["The extra large family box", "Small"])}),
    ),
    # lists: WhatsApp's list → quick replies (≤ 13 rows) → numbered text
    Case(
        "list/whatsapp",
        WA,
        LIST,
        wa(
            "interactive",
            interactive={
                "type": "list",
                "header": {"type": "text", "text": "Opening hours"},
                "body": {"text": "Pick a slot"},
                "footer": {"text": "Local time"},
                "action": {
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
            },
        ),
    ),
    *on_meta(
        "list-as-quick-replies",
        LIST,
        quick_replies(
            "Opening hours\n\nPick a slot\n\nLocal time",
            ("09:00", "m9"),
            ("10:00", "m10"),
            ("14:00", "a2"),
        ),
    ),
    Case(
        "14-rows-as-numbered-text-with-descriptions/messenger",
        MS,
        LONG_LIST,
        meta(MS, {"text": numbered("Pick a size", ["36 — Small", *map(str, range(37, 50))])}),
    ),
    # call to action
    Case(
        "cta-url/whatsapp",
        WA,
        CTA,
        wa(
            "interactive",
            interactive={
                "type": "cta_url",
                "body": {"text": "Track your order"},
                "action": {
                    "name": "cta_url",
                    "parameters": {"display_text": "Track", "url": f"{SHOP}/o/1"},
                },
            },
        ),
    ),
    *on_meta(
        "cta-url-as-web-url-button",
        CTA,
        button_template("Track your order", web_url("Track", f"{SHOP}/o/1")),
    ),
    # location request: the location quick reply is gone, the question stays
    Case(
        "location-request/whatsapp",
        WA,
        m.LocationRequest(body="Where should we deliver?"),
        wa(
            "interactive",
            interactive={
                "type": "location_request_message",
                "body": {"text": "Where should we deliver?"},
                "action": {"name": "send_location"},
            },
        ),
    ),
    *on_meta(
        "location-request-as-text",
        m.LocationRequest(body="Where should we deliver?"),
        {"text": "Where should we deliver?"},
    ),
    # templates exist on WhatsApp only (see REFUSALS)
    Case(
        "template/whatsapp",
        WA,
        m.Template(name="hello_world"),
        wa("template", template={"name": "hello_world", "language": {"code": "en_US"}}),
    ),
    # cards: a generic template on Meta; a list or numbered text on WhatsApp
    *on_meta(
        "cards-as-generic-template",
        CAROUSEL,
        template(
            {
                "template_type": "generic",
                "elements": [
                    {
                        "title": "Red shirt",
                        "subtitle": "Cotton",
                        "image_url": IMG,
                        "default_action": {"type": "web_url", "url": f"{SHOP}/red"},
                        "buttons": [
                            postback("Buy", "buy-red"),
                            web_url("Details", f"{SHOP}/red/details"),
                        ],
                    },
                    {"title": "Blue shirt", "buttons": [postback("Buy", "buy-blue")]},
                ],
            }
        ),
    ),
    Case(
        "cards-with-links-as-numbered-text/whatsapp",
        WA,
        CAROUSEL,
        wa(
            "text",
            text={
                "body": "Our picks\n\n"
                f"1. Red shirt\nCotton\n{SHOP}/red\nDetails: {SHOP}/red/details\n\n"
                "2. Blue shirt\n\nReply with a number.",
                "preview_url": False,
            },
        ),
    ),
    Case(
        "choice-cards-as-list/whatsapp",
        WA,
        PLANS,
        wa(
            "interactive",
            interactive={
                "type": "list",
                "body": {"text": "Which plan?"},
                "action": {
                    "button": "Choose",
                    "sections": [
                        {
                            "rows": [
                                {"id": "basic", "title": "Basic", "description": "1 seat"},
                                {"id": "team", "title": "Team", "description": "10 seats"},
                            ]
                        }
                    ],
                },
            },
        ),
    ),
    Case(
        "link-only-cards-as-text-without-number-prompt/whatsapp",
        WA,
        m.Cards(cards=[m.Card(title="Blog", url=f"{SHOP}/blog")]),
        wa("text", text={"body": f"1. Blog\n{SHOP}/blog", "preview_url": False}),
    ),
    # typing and read receipts are sender actions: recipient + action only
    *[Case(f"typing/{ch}", ch, m.Typing(), action(ch, "typing_on")) for ch in (MS, IG)],
    Case("typing-off/messenger", MS, m.Typing(on=False), action(MS, "typing_off")),
    Case(
        "mark-read/whatsapp",
        WA,
        m.MarkRead(message_id="wamid.IN"),
        {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN"},
    ),
    *[
        Case(
            f"mark-read-as-mark-seen/{ch}",
            ch,
            m.MarkRead(message_id="m_IN"),
            action(ch, "mark_seen"),
        )
        for ch in (MS, IG)
    ],
    # envelopes: why the message may go, what it answers, our id to echo back
    Case(
        "human-agent-tag/messenger",
        MS,
        m.Text(body="An agent here"),
        meta(MS, {"text": "An agent here"}, messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT"),
        {"basis": Basis.HUMAN_AGENT},
    ),
    Case(
        "human-agent-tag/instagram",
        IG,
        m.Text(body="An agent here"),
        meta(IG, {"text": "An agent here"}, messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT"),
        {"basis": Basis.HUMAN_AGENT, "purpose": "marketing"},
    ),
    Case(
        "proactive-update/messenger",
        MS,
        m.Text(body="Your order shipped"),
        meta(MS, {"text": "Your order shipped"}, messaging_type="UPDATE"),
        {"purpose": "utility"},
    ),
    Case(
        "ad-window-response/instagram",
        IG,
        m.Text(body="Thanks for writing"),
        meta(IG, {"text": "Thanks for writing"}),
        {"basis": Basis.AD_WINDOW},
    ),
    Case(
        "subscription-token-no-messaging-type/messenger",
        MS,
        m.Text(body="Spring sale"),
        {"recipient": {"notification_messages_token": "tok-1"}, "message": {"text": "Spring sale"}},
        {"basis": Basis.SUBSCRIPTION, "purpose": "marketing", "subscription_token": "tok-1"},
    ),
    Case(
        "reply-and-callback/whatsapp",
        WA,
        m.Text(body="Sure"),
        wa(
            "text",
            text={"body": "Sure", "preview_url": False},
            context={"message_id": "wamid.PREV"},
            biz_opaque_callback_data="msg-7",
        ),
        {"reply_to": "wamid.PREV", "callback_data": "msg-7"},
    ),
    *[
        Case(
            f"reply-and-metadata/{ch}",
            ch,
            m.Text(body="Sure"),
            meta(ch, {"text": "Sure", "metadata": "msg-7", "reply_to": {"mid": "m_PREV"}}),
            {"reply_to": "m_PREV", "callback_data": "msg-7"},
        )
        for ch in (MS, IG)
    ],
    Case(
        "metadata-at-limit/messenger",
        MS,
        m.Text(body="Hi"),
        meta(MS, {"text": "Hi", "metadata": "x" * 1000}),
        {"callback_data": "x" * 1000},
    ),
    Case(
        "sender-action-drops-reply-and-metadata/instagram",
        IG,
        m.Typing(),
        action(IG, "typing_on"),
        {"reply_to": "m_PREV", "callback_data": "msg-7"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_renders_the_exact_request_body(case: Case) -> None:
    envelope = Envelope(to=TO[case.channel], **case.envelope)
    assert rendered(case.channel, case.content, envelope) == case.expected


# -- refusals -------------------------------------------------------------------------------
def card(**fields: Any) -> m.Cards:
    return m.Cards(cards=[m.Card(**{"title": "Shirt", **fields})])


@dataclass(frozen=True)
class Refusal:
    id: str
    channel: str
    content: m.Content
    where: str
    envelope: dict[str, Any] = field(default_factory=dict)


REFUSALS: list[Refusal] = [
    Refusal("text-2001/messenger", MS, m.Text(body="x" * 2001), "text.body"),
    Refusal("text-1001/instagram", IG, m.Text(body="x" * 1001), "text.body"),
    Refusal("text-empty/messenger", MS, m.Text(body=""), "text.body"),
    *[Refusal(f"template/{ch}", ch, m.Template(name="hello_world"), "template") for ch in (MS, IG)],
    Refusal("reaction/messenger", MS, m.Reaction(message_id="m_X", emoji="❤️"), "reaction"),
    Refusal(
        "reaction-not-love/instagram",
        IG,
        m.Reaction(message_id="m_X", emoji="👍"),
        "reaction.emoji",
    ),
    Refusal("typing/whatsapp", WA, m.Typing(), "typing"),
    Refusal("document/instagram", IG, m.Media(kind="document", link=PDF), "document"),
    Refusal("sticker/messenger", MS, m.Media(kind="sticker", link=IMG), "sticker"),
    Refusal(
        "caption/messenger", MS, m.Media(kind="image", link=IMG, caption="Look"), "image.caption"
    ),
    Refusal(
        "media-id-without-link/instagram", IG, m.Media(kind="image", media_id="111"), "image.link"
    ),
    Refusal(
        "media-ftp-link/messenger", MS, m.Media(kind="video", link="ftp://x/v.mp4"), "video.link"
    ),
    Refusal("4-buttons/whatsapp", WA, choose(4), "buttons"),
    Refusal("no-buttons/messenger", MS, m.Buttons(body="b", buttons=[]), "buttons"),
    Refusal("button-template-body-641/messenger", MS, choose(3, body="x" * 641), "body"),
    Refusal(
        "button-template-folded-over-640/instagram",
        IG,
        m.Buttons(body="x" * 600, header="y" * 40, buttons=[m.Button(id="a", title="A")]),
        "body",
    ),
    Refusal("numbered-text-over-2000/messenger", MS, choose(14, body="x" * 1900), "body"),
    Refusal(
        "payload-1001/messenger",
        MS,
        m.Buttons(body="b", buttons=[m.Button(id="x" * 1001, title="A")]),
        "buttons[0].id",
    ),
    Refusal(
        "empty-row-title/instagram",
        IG,
        m.ListMessage(
            body="b", button="Open", sections=[m.ListSection(rows=[m.ListRow(id="r", title="")])]
        ),
        "sections[0].rows[0].title",
    ),
    Refusal(
        "list-without-rows/messenger",
        MS,
        m.ListMessage(body="b", button="Open", sections=[]),
        "sections",
    ),
    Refusal(
        "cta-display-text-21/messenger",
        MS,
        m.CtaUrl(body="b", display_text="x" * 21, url=SHOP),
        "display_text",
    ),
    Refusal(
        "cta-ftp-url/instagram", IG, m.CtaUrl(body="b", display_text="Go", url="ftp://x"), "url"
    ),
    Refusal(
        "11-cards/messenger", MS, m.Cards(cards=[m.Card(title=f"C{n}") for n in range(11)]), "cards"
    ),
    Refusal("card-title-81/instagram", IG, card(title="x" * 81), "cards[0].title"),
    Refusal("card-subtitle-81/messenger", MS, card(subtitle="x" * 81), "cards[0].subtitle"),
    Refusal(
        "4-card-buttons/messenger",
        MS,
        card(buttons=[m.CardButton(title=f"B{n}", id=f"b{n}") for n in range(4)]),
        "cards[0].buttons",
    ),
    Refusal(
        "card-button-id-and-url/messenger",
        MS,
        card(buttons=[m.CardButton(title="B", id="b", url=SHOP)]),
        "cards[0].buttons[0]",
    ),
    Refusal(
        "card-button-neither/whatsapp",
        WA,
        card(buttons=[m.CardButton(title="B")]),
        "cards[0].buttons[0]",
    ),
    Refusal(
        "card-button-ftp-url/instagram",
        IG,
        card(buttons=[m.CardButton(title="B", url="ftp://x")]),
        "cards[0].buttons[0].url",
    ),
    Refusal(
        "card-with-two-answers/whatsapp",
        WA,
        card(buttons=[m.CardButton(title="Buy", id="buy"), m.CardButton(title="Save", id="save")]),
        "cards[0].buttons",
    ),
    Refusal("empty-contact/messenger", MS, m.ContactCards(contacts=[{"org": {}}]), "contacts[0]"),
    Refusal("template-basis/messenger", MS, m.Text(body="hi"), "basis", {"basis": Basis.TEMPLATE}),
    Refusal("consent-basis/instagram", IG, m.Text(body="hi"), "basis", {"basis": Basis.CONSENT}),
    Refusal(
        "subscription-without-token/messenger",
        MS,
        m.Text(body="hi"),
        "subscription_token",
        {"basis": Basis.SUBSCRIPTION},
    ),
    Refusal(
        "subscription/instagram",
        IG,
        m.Text(body="hi"),
        "basis",
        {"basis": Basis.SUBSCRIPTION, "subscription_token": "tok-1"},
    ),
    Refusal(
        "typing-on-subscription/messenger",
        MS,
        m.Typing(),
        "basis",
        {"basis": Basis.SUBSCRIPTION, "subscription_token": "tok-1"},
    ),
    Refusal(
        "typing-on-template-basis/instagram", IG, m.Typing(), "basis", {"basis": Basis.TEMPLATE}
    ),
    Refusal(
        "metadata-1001/messenger", MS, m.Text(body="hi"), "metadata", {"callback_data": "x" * 1001}
    ),
]


@pytest.mark.parametrize("refusal", REFUSALS, ids=[r.id for r in REFUSALS])
def test_content_the_channel_cannot_carry_is_refused(refusal: Refusal) -> None:
    envelope = Envelope(to=TO[refusal.channel], **refusal.envelope)
    with pytest.raises(RenderError) as raised:
        rendered(refusal.channel, refusal.content, envelope)
    assert raised.value.where == refusal.where
    assert str(raised.value).startswith(f"{refusal.where}: ")
    assert raised.value.message


@pytest.mark.parametrize(
    ("declared", "body", "message"),
    [
        (MESSENGER, "x" * 2001, "is 2001 characters; Messenger allows 2000"),
        (INSTAGRAM, "x" * 1001, "is 1001 characters; Instagram allows 1000"),
    ],
    ids=["messenger", "instagram"],
)
def test_a_limit_error_says_the_size_the_limit_and_the_channel(
    declared: ChannelType, body: str, message: str
) -> None:
    with pytest.raises(RenderError) as raised:
        render(m.Text(body=body), Envelope(to="1"), declared)
    assert raised.value.message == message


def test_content_arriving_as_json_renders_the_same() -> None:
    content = m.CONTENT_ADAPTER.validate_python(
        {"type": "cards", "cards": [{"title": "Shirt", "buttons": [{"title": "Buy", "id": "buy"}]}]}
    )
    assert render(content, Envelope(to=TO[MS]), MESSENGER)["message"] == template(
        {
            "template_type": "generic",
            "elements": [{"title": "Shirt", "buttons": [postback("Buy", "buy")]}],
        }
    )
