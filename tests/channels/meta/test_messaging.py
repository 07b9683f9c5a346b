"""The Messenger / Instagram messaging parser on cases the captured fixtures do not cover.
Payloads are composed here from the documented shapes (platform-wire-formats.md §2.2, §3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.channels.meta.compare import check_fixture
from threadline.channels.adapter import WebhookFormatError
from threadline.channels.events import (
    ChannelEvent,
    Echo,
    InboundMessage,
    Malformed,
    MediaRef,
    MessageDeleted,
    PluginOptIn,
    PolicyEnforcement,
    Sender,
    StatusWatermark,
    SubscriptionChange,
    ThreadControl,
    Unhandled,
)
from threadline.channels.instagram import webhooks as instagram
from threadline.channels.messenger import webhooks as messenger
from threadline.channels.meta.messaging import parse

PAGE = "111000111"
PSID = "222000222"
PERSON = Sender(address=PSID, user_id=PSID)
TS = 1751400000123  # 2025-07-01T20:00:00.123Z
AT = datetime(2025, 7, 1, 20, 0, 0, 123000, tzinfo=UTC)
INBOX_APP = 263902037430900  # the Page Inbox


def item(**event: Any) -> dict[str, Any]:
    return {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": TS, **event}


def body(*items: Any, obj: str = "page", where: str = "messaging") -> dict[str, Any]:
    return {"object": obj, "entry": [{"id": PAGE, "time": TS, where: list(items)}]}


def events_of(*items: Any, obj: str = "page", where: str = "messaging") -> list[ChannelEvent]:
    return parse(body(*items, obj=obj, where=where), expected_object=obj)


def one(*items: Any, obj: str = "page", where: str = "messaging") -> ChannelEvent:
    events = events_of(*items, obj=obj, where=where)
    assert len(events) == 1, events
    return events[0]


def inbound(*items: Any, obj: str = "page") -> InboundMessage:
    event = one(*items, obj=obj)
    assert isinstance(event, InboundMessage), event
    return event


def text(mid: str, words: str = "hi") -> dict[str, Any]:
    return item(message={"mid": mid, "text": words})


# -- the envelope ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"object": "instagram", "entry": []}, "object must be 'page'"),
        ({"object": "notpage", "entry": [{}]}, "object must be 'page'"),
        ([{"object": "page", "entry": []}], "object must be 'page'"),
        ("page", "object must be 'page'"),
        (None, "object must be 'page'"),
        ({"object": "page"}, "entry must be a list"),
        ({"object": "page", "entry": {"id": PAGE}}, "entry must be a list"),
        ({"object": "page", "entry": ["not an object"]}, "each entry must be an object"),
    ],
    ids=["instagram", "other-object", "list", "string", "none", "no-entry", "entry-dict", "item"],
)
def test_bodies_that_are_not_page_notifications_are_refused(payload: Any, message: str) -> None:
    with pytest.raises(WebhookFormatError, match=message):
        parse(payload, expected_object="page")


def test_each_channel_wrapper_expects_its_own_object() -> None:
    assert messenger.parse(body(text("m_1"))) != []
    assert instagram.parse(body(text("m_1"), obj="instagram")) != []
    with pytest.raises(WebhookFormatError, match="object must be 'instagram'"):
        instagram.parse(body(text("m_1")))
    with pytest.raises(WebhookFormatError, match="object must be 'page'"):
        messenger.parse(body(text("m_1"), obj="instagram"))


def test_account_is_each_entrys_id() -> None:
    payload = {
        "object": "page",
        "entry": [
            {"id": PAGE, "messaging": [text("m_1")]},
            {"id": "333", "messaging": [item(recipient={"id": "333"}, message={"mid": "m_2"})]},
        ],
    }
    assert [getattr(e, "account", None) for e in parse(payload, expected_object="page")] == [
        PAGE,
        "333",
    ]


def test_entry_level_problems_are_malformed_not_fatal() -> None:
    payload = {
        "object": "page",
        "entry": [
            {"time": TS, "messaging": [text("m_0")]},
            {"id": PAGE, "messaging": {"not": "a list"}},
            {"id": PAGE, "messaging": [text("m_1")]},
        ],
    }
    events = parse(payload, expected_object="page")
    assert [(type(e).__name__, getattr(e, "field", None)) for e in events] == [
        ("Malformed", "entry"),
        ("Malformed", "messaging"),
        ("InboundMessage", None),
    ]


def test_feed_changes_other_than_instagram_comments_are_kept_as_unhandled() -> None:
    """Mentions and a Page's feed are not messaging (Instagram comments are: see
    test_comments.py)."""
    mention = {"field": "mentions", "value": {"media_id": "1", "comment_id": "2"}}
    feed = {"field": "feed", "value": {"item": "comment", "comment_id": "3"}}
    instagram = {"object": "instagram", "entry": [{"id": PAGE, "time": TS, "changes": [mention]}]}
    page = {"object": "page", "entry": [{"id": PAGE, "time": TS, "changes": [feed]}]}
    assert parse(instagram, expected_object="instagram") == [
        Unhandled("mentions", "mentions change")
    ]
    assert parse(page, expected_object="page") == [Unhandled("feed", "feed change")]


# -- one broken item among good ones ---------------------------------------------------------
BROKEN: dict[str, tuple[Any, str]] = {
    "not-an-object": ("just a string", "event is not an object"),
    "no-sender": (
        {"recipient": {"id": PAGE}, "timestamp": TS, "message": {"mid": "m"}},
        "no sender",
    ),
    "sender-not-digits": (
        item(sender={"id": "abc"}, message={"mid": "m"}),
        "'abc' is not a numeric",
    ),
    "sender-id-number-type": (item(sender={"id": 1.5}, message={"mid": "m"}), "not a numeric id"),
    "no-timestamp": ({"sender": {"id": PSID}, "message": {"mid": "m"}}, "invalid timestamp None"),
    "bool-timestamp": (item(timestamp=True, message={"mid": "m"}), "invalid timestamp True"),
    "text-timestamp": (item(timestamp="yesterday", message={"mid": "m"}), "invalid timestamp"),
    "no-mid": (item(message={"text": "hi"}), "message has no mid"),
    "message-not-object": (item(message="hi"), "message is not an object"),
    "attachment-not-object": (item(message={"mid": "m", "attachments": ["x"]}), "attachment"),
    "attachments-not-list": (item(message={"mid": "m", "attachments": {}}), "not a list"),
    "location-without-coordinates": (
        item(message={"mid": "m", "attachments": [{"type": "location", "payload": {}}]}),
        "no numeric coordinates",
    ),
    "other-page": (item(recipient={"id": "999"}, message={"mid": "m"}), "recipient 999"),
    "reaction-without-mid": (item(reaction={"action": "react", "emoji": "😀"}), "no mid"),
    "optin-unknown-status": (
        item(optin={"type": "notification_messages", "notification_messages_status": "X"}),
        "unknown notification_messages_status 'X'",
    ),
    "delivery-bad-watermark": (item(delivery={"watermark": "soon"}), "invalid timestamp"),
    "policy-without-action": (item(policy_enforcement={"reason": "spam"}), "no action"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_item_does_not_cost_the_rest_of_the_payload(case: str) -> None:
    broken, reason = BROKEN[case]
    events = events_of(text("m_before"), broken, text("m_after"))
    assert [type(e).__name__ for e in events] == ["InboundMessage", "Malformed", "InboundMessage"]
    assert [getattr(e, "external_id", None) for e in events] == ["m_before", None, "m_after"]
    bad = events[1]
    assert isinstance(bad, Malformed)
    assert bad.field == "messaging"
    assert reason in bad.reason, bad.reason
    assert bad.raw == (broken if isinstance(broken, dict) else {"event": broken})


# -- timestamps -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        (TS, AT),
        (str(TS), AT),
        (1751400000, datetime(2025, 7, 1, 20, 0, tzinfo=UTC)),  # seconds, as some captures
        (1459991487970, datetime(2016, 4, 7, 1, 11, 27, 970000, tzinfo=UTC)),
    ],
    ids=["ms", "ms-string", "seconds", "ms-2016"],
)
def test_timestamps_become_exact_aware_utc(stamp: int | str, expected: datetime) -> None:
    message = inbound(item(timestamp=stamp, message={"mid": "m", "text": "x"}))
    assert message.timestamp == expected
    assert message.timestamp.utcoffset() == timedelta(0)


# -- messages -------------------------------------------------------------------------------
def test_text_message() -> None:
    assert inbound(text("m_1", "Hello")) == InboundMessage(
        account=PAGE,
        external_id="m_1",
        sender=PERSON,
        timestamp=AT,
        kind="text",
        text="Hello",
        raw=text("m_1", "Hello"),
    )


def test_quick_reply_tap_keeps_text_and_payload() -> None:
    message = inbound(item(message={"mid": "m", "text": "Red", "quick_reply": {"payload": "RED"}}))
    assert (message.kind, message.text, message.payload) == ("quick_reply", "Red", "RED")


def test_several_attachments_become_one_message_each_with_suffixed_ids() -> None:
    events = events_of(
        item(
            message={
                "mid": "m_album",
                "text": "our trip",
                "attachments": [
                    {"type": "image", "payload": {"url": "https://cdn/1.jpg"}},
                    {"type": "video", "payload": {"url": "https://cdn/2.mp4"}},
                    {"type": "file", "payload": {"url": "https://cdn/3.pdf"}},
                ],
            }
        )
    )
    assert [
        (e.external_id, e.kind, e.text, e.media) for e in events if isinstance(e, InboundMessage)
    ] == [
        ("m_album", "image", "our trip", MediaRef(kind="image", url="https://cdn/1.jpg")),
        ("m_album#1", "video", None, MediaRef(kind="video", url="https://cdn/2.mp4")),
        ("m_album#2", "document", None, MediaRef(kind="document", url="https://cdn/3.pdf")),
    ]


@pytest.mark.parametrize(
    ("attachment", "kind", "words", "media"),
    [
        ({"type": "audio", "payload": {"url": "u"}}, "audio", None, MediaRef("audio", url="u")),
        (
            {"type": "image", "payload": {"url": "u", "sticker_id": 369239383222810}},
            "like",
            "👍",
            MediaRef("sticker", url="u"),
        ),
        (
            {"type": "image", "payload": {"url": "u", "sticker_id": 126361874215276}},
            "sticker",
            None,
            MediaRef("sticker", url="u"),
        ),
        (
            {"type": "reel", "payload": {"url": "u", "title": "dance"}},
            "reel",
            "dance",
            MediaRef("reel", url="u"),
        ),
        ({"type": "share", "payload": {"url": "u"}}, "share", None, MediaRef("share", url="u")),
        ({"type": "template", "payload": {}}, "template", None, None),
        (
            {"type": "fallback", "title": "Old", "url": "u", "payload": None},
            "link",
            "Old",
            MediaRef("link", url="u"),
        ),
    ],
    ids=[
        "audio",
        "thumbs-up-large",
        "other-sticker",
        "reel-title",
        "share",
        "template",
        "old-fallback",
    ],
)
def test_attachment_kinds(
    attachment: dict[str, Any], kind: str, words: str | None, media: MediaRef | None
) -> None:
    message = inbound(item(message={"mid": "m", "attachments": [attachment]}))
    assert (message.kind, message.text, message.media) == (kind, words, media)


def test_the_persons_words_win_over_an_attachments_own_text() -> None:
    link = {"type": "fallback", "payload": {"url": "https://x.test", "title": "X"}}
    message = inbound(item(message={"mid": "m", "text": "look", "attachments": [link]}))
    assert (message.kind, message.text) == ("link", "look")


def test_story_reply_keeps_the_text_and_the_story() -> None:
    story = {"id": "st_1", "url": "https://cdn/story"}
    message = inbound(
        item(message={"mid": "m", "text": "so nice", "reply_to": {"story": story}}), obj="instagram"
    )
    assert (message.kind, message.text, message.story) == ("text", "so nice", story)


def test_story_mention_keeps_its_id_and_any_text() -> None:
    mention = {"type": "story_mention", "payload": {"url": "https://cdn/s", "id": 42}}
    message = inbound(
        item(message={"mid": "m", "text": "look!", "attachments": [mention]}), obj="instagram"
    )
    assert (message.kind, message.text) == ("story_mention", "look!")
    assert message.story == {"url": "https://cdn/s", "id": "42"}


def test_reply_to_a_message() -> None:
    message = inbound(item(message={"mid": "m", "text": "yes", "reply_to": {"mid": "m_0"}}))
    assert message.reply_to == "m_0"


def test_ad_referral_on_a_first_message() -> None:
    referral = {"ref": "r", "ad_id": "6045", "source": "ADS", "type": "OPEN_THREAD"}
    message = inbound(item(message={"mid": "m", "text": "hi", "referral": referral}))
    assert message.referral == referral


def test_unsupported_and_empty_messages() -> None:
    assert inbound(item(message={"mid": "m", "is_unsupported": True})).kind == "unsupported"
    assert inbound(item(message={"mid": "m"})).kind == "unknown"


def test_postback_with_its_own_mid() -> None:
    message = inbound(item(postback={"mid": "m_pb", "title": "Start", "payload": "GO"}))
    assert (message.external_id, message.kind, message.text, message.payload) == (
        "m_pb",
        "postback",
        "Start",
        "GO",
    )


# -- reactions ------------------------------------------------------------------------------
def test_reaction_and_unreaction() -> None:
    react = inbound(item(reaction={"mid": "m_0", "action": "react", "emoji": "😀"}))
    later = item(timestamp=TS + 5000, reaction={"mid": "m_0", "action": "unreact", "emoji": "😀"})
    unreact = inbound(later)
    assert (react.kind, react.text, react.payload) == ("reaction", "😀", "m_0")
    assert (unreact.kind, unreact.text, unreact.payload) == ("reaction", "", "m_0")
    assert react.external_id == f"reaction:{PSID}:{TS}"
    assert react.dedupe_key != unreact.dedupe_key


# -- echoes ---------------------------------------------------------------------------------
def test_echo_from_the_page_inbox() -> None:
    echo = one(
        item(
            sender={"id": PAGE},
            recipient={"id": PSID},
            message={"mid": "m_e", "is_echo": True, "app_id": INBOX_APP, "text": "Hi from us"},
        )
    )
    assert echo == Echo(
        account=PAGE,
        external_id="m_e",
        recipient=PSID,
        timestamp=AT,
        text="Hi from us",
        app_id=str(INBOX_APP),
        kind="text",
    )


def test_echo_of_an_attachment_reports_its_kind() -> None:
    image = {"type": "image", "payload": {"url": "u"}}
    echo = one(
        item(
            sender={"id": PAGE},
            recipient={"id": PSID},
            message={"mid": "m_e", "is_echo": True, "attachments": [image]},
        )
    )
    assert isinstance(echo, Echo)
    assert (echo.kind, echo.text) == ("image", None)


def test_echo_not_involving_the_account_is_malformed() -> None:
    echo = item(sender={"id": "5"}, recipient={"id": "6"}, message={"mid": "m", "is_echo": True})
    bad = one(echo)
    assert isinstance(bad, Malformed)
    assert "neither side" in bad.reason


def test_deleted_message() -> None:
    event = one(item(message={"mid": "m_1", "is_deleted": True}), obj="instagram")
    assert event == MessageDeleted(PAGE, PERSON, "m_1", AT)
    assert isinstance(event, MessageDeleted)
    assert event.dedupe_key == "deleted:m_1"


# -- deliveries and reads -------------------------------------------------------------------
def test_read_watermark_names_the_person() -> None:
    watermark = TS - 60_000
    assert one(item(read={"watermark": watermark})) == StatusWatermark(
        account=PAGE,
        recipient=PSID,
        status="read",
        watermark=AT - timedelta(minutes=1),
    )


@pytest.mark.parametrize("key", ["read", "messaging_seen"])
def test_instagram_read_of_one_message_uses_the_event_time(key: str) -> None:
    assert one(item(**{key: {"mid": "m_7"}}), obj="instagram") == StatusWatermark(
        account=PAGE, recipient=PSID, status="read", watermark=AT, mids=("m_7",)
    )


def test_delivery_without_mids() -> None:
    event = one(item(delivery={"watermark": TS}))
    assert event == StatusWatermark(PAGE, PSID, "delivered", AT)


# -- opt-ins --------------------------------------------------------------------------------
def test_marketing_messages_resumed() -> None:
    optin = {
        "type": "notification_messages",
        "notification_messages_status": "RESUME_NOTIFICATIONS",
        "notification_messages_token": "tok",
    }
    event = one(item(optin=optin))
    assert isinstance(event, SubscriptionChange)
    assert (event.status, event.token, event.expires_at) == ("resumed", "tok", None)


def test_retired_or_unknown_optin_types_are_unhandled() -> None:
    assert one(item(optin={"type": "one_time_notif_req"})) == Unhandled(
        "optin", "optin type one_time_notif_req"
    )


def test_checkbox_plugin_optin_without_a_sender_id() -> None:
    optin = {"recipient": {"id": PAGE}, "timestamp": TS, "optin": {"ref": "cart"}}
    optin["sender"] = {"user_ref": "ur_9"}
    assert one(optin) == PluginOptIn(
        account=PAGE, timestamp=AT, ref="cart", user_ref="ur_9", sender=None
    )


# -- routing and policy ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "detail", "action", "app_id"),
    [
        ("pass_thread_control", {"new_owner_app_id": INBOX_APP}, "pass", str(INBOX_APP)),
        ("take_thread_control", {"previous_owner_app_id": INBOX_APP}, "take", None),
        ("request_thread_control", {"requested_owner_app_id": 77}, "request", "77"),
    ],
)
def test_thread_control(key: str, detail: dict[str, Any], action: str, app_id: str | None) -> None:
    assert one(item(**{key: detail})) == ThreadControl(PAGE, PERSON, AT, action, app_id)


def test_standby_items_only_say_another_app_answers() -> None:
    from_page = item(
        sender={"id": PAGE}, recipient={"id": PSID}, message={"mid": "e", "is_echo": True}
    )
    events = events_of(text("m_1"), item(read={"watermark": TS}), from_page, where="standby")
    assert events == [ThreadControl(PAGE, PERSON, AT, "standby")] * 3


def test_broken_standby_item_is_malformed_under_standby() -> None:
    bad = one(item(sender={"id": "x"}), where="standby")
    assert isinstance(bad, Malformed)
    assert bad.field == "standby"


@pytest.mark.parametrize("key", ["policy_enforcement", "policy-enforcement"])
def test_policy_enforcement_has_no_sender(key: str) -> None:
    notice = {
        "recipient": {"id": PAGE},
        "timestamp": TS,
        key: {"action": "block", "reason": "spam"},
    }
    assert one(notice) == PolicyEnforcement(PAGE, AT, "block", "spam")


# -- everything else ------------------------------------------------------------------------
def test_unknown_event_keys_are_unhandled_by_name() -> None:
    edit = item(message_edit={"mid": "m_1", "text": "fixed", "num_edit": 1})
    assert one(edit) == Unhandled("message_edit", f"message_edit event from {PSID}")


def test_a_fixture_without_expectations_fails() -> None:
    with pytest.raises(pytest.fail.Exception, match="has no entry in EXPECTED"):
        check_fixture("messenger", "courier__hello_msg.json", {}, messenger.parse)
