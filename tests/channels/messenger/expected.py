"""The exact neutral events of every captured Messenger webhook in ../shared/fixtures/messenger
(compare with `tests.channels.meta.compare.comparable`, which ignores `raw`), or the
exception for a body that is not a Messenger notification at all."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from threadline.channels.adapter import WebhookFormatError
from threadline.channels.events import (
    ChannelEvent,
    Echo,
    InboundMessage,
    Malformed,
    MediaRef,
    PluginOptIn,
    Referral,
    Sender,
    StatusWatermark,
    SubscriptionChange,
    Unhandled,
)

PAGE = "1234567890"
PERSON = Sender(address="5678", user_id="5678")
# 1459991487970 ms, the timestamp of nearly every capture.
T = datetime(2016, 4, 7, 1, 11, 27, 970000, tzinfo=UTC)
TOKEN_EXPIRY = datetime(2038, 1, 1, tzinfo=UTC)  # token_expiry_timestamp 2145916800000


def message(
    kind: str,
    *,
    text: str | None = None,
    media: MediaRef | None = None,
    location: dict[str, Any] | None = None,
) -> InboundMessage:
    return InboundMessage(
        account=PAGE,
        external_id="external_id",
        sender=PERSON,
        timestamp=T,
        kind=kind,
        text=text,
        media=media,
        location=location,
    )


def postback(payload: str, referral: dict[str, str] | None = None) -> InboundMessage:
    return InboundMessage(
        account=PAGE,
        external_id="postback:5678:1459991487970",  # no mid: person and timestamp as sent
        sender=PERSON,
        timestamp=T,
        kind="postback",
        text="postback title",
        payload=payload,
        referral=referral,
    )


def subscription(account: str, status: str) -> SubscriptionChange:
    return SubscriptionChange(
        account=account,
        sender=PERSON,
        timestamp=T,
        status=status,
        token="12345678901234567890",
        expires_at=TOKEN_EXPIRY,
        topic="Bird Facts",
        frequency="DAILY",
        payload="3456",
    )


def referral(at: datetime) -> Referral:
    return Referral(
        account=PAGE,
        sender=PERSON,
        timestamp=at,
        source="referral source",
        ref="referral id",
        ad_id="ad id",
    )


HELLO = message("text", text="Hello World")

EXPECTED: dict[str, list[ChannelEvent] | type[Exception]] = {
    "courier__attachment.json": [
        message("image", media=MediaRef(kind="image", url="https://image-url/foo.png"))
    ],
    # Addressed to page 1235 inside page 1234567890's entry: not routable with confidence.
    "courier__different_page.json": [
        Malformed("messaging", "recipient 1235 is not the entry's account 1234567890")
    ],
    "courier__dlr.json": [
        StatusWatermark(
            account=PAGE,
            recipient="5678",
            status="delivered",
            watermark=datetime(2016, 3, 22, 17, 47, 36, 253000, tzinfo=UTC),
            mids=("mid.1458668856218:ed81099e15d3f4f233",),
        )
    ],
    # Both copies are reported; the inbox deduplicates on the mid.
    "courier__duplicate_msg.json": [HELLO, HELLO],
    # The capture has sender and recipient the wrong way round for an echo (the page is the
    # recipient): the person is whichever side is not the page. No text, no attachment.
    "courier__echo.json": [
        Echo(account=PAGE, external_id="qT7ywaK", recipient="5678", timestamp=T, kind="unknown")
    ],
    "courier__fallback.json": [
        message("link", text="Foo", media=MediaRef(kind="link", url="My Documents/foo.doc"))
    ],
    "courier__hello_msg.json": [HELLO],
    "courier__invalid_urn.json": [
        Malformed("messaging", "sender id 'abc5678' is not a numeric id")
    ],
    "courier__location_attachment.json": [
        message("location", location={"latitude": 1.2, "longitude": -1.3})
    ],
    "courier__no_entries.json": [],
    "courier__no_messaging_entries.json": [],
    "courier__not_page.json": WebhookFormatError,
    "courier__notification_messages_optin.json": [subscription(PAGE, "granted")],
    "courier__notification_messages_optout.json": [subscription("12345", "stopped")],
    "courier__postback.json": [
        postback(
            "postback payload",
            {"ref": "postback ref", "source": "postback source", "type": "postback type"},
        )
    ],
    "courier__postback_get_started.json": [postback("get_started")],
    "courier__postback_referral.json": [
        postback(
            "get_started",
            {
                "ref": "postback ref",
                "source": "postback source",
                "type": "postback type",
                "ad_id": "ad id",
            },
        )
    ],
    "courier__reel.json": [
        message("reel", media=MediaRef(kind="reel", url="/reel/123451234512345/"))
    ],
    "courier__referral.json": [referral(T)],
    "courier__referral_optin.json": [
        PluginOptIn(account=PAGE, timestamp=T, ref="optin_ref", user_ref=None, sender=PERSON)
    ],
    "courier__referral_optin_user_ref.json": [
        PluginOptIn(
            account=PAGE, timestamp=T, ref="optin_ref", user_ref="optin_user_ref", sender=PERSON
        )
    ],
    # timestamp 1701599111 is seconds (the entry's time, 1701599116216 ms, agrees).
    "courier__referral_seconds.json": [referral(datetime(2023, 12, 3, 10, 25, 11, tzinfo=UTC))],
    "courier__thumbs_up.json": [
        message(
            "like",
            text="👍",
            media=MediaRef(kind="sticker", url="https://scontent.xx.fbcdn.net/v/arst"),
        )
    ],
    "courier__unknown_messaging_entry.json": [
        Unhandled("messaging", "event from 5678 carries no known payload")
    ],
}
