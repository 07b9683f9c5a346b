"""The exact neutral events of every captured Instagram webhook in
../shared/fixtures/instagram (compare with `tests.channels.meta.compare.comparable`, which
ignores `raw`), or the exception for a body that is not an Instagram notification at all."""

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
    MessageDeleted,
    Sender,
    Unhandled,
)

ACCOUNT = "1234567890"  # the Instagram professional account (entry.id)
PERSON = Sender(address="5678", user_id="5678")  # IGSID
# 1459991487970 ms, the timestamp of nearly every capture.
T = datetime(2016, 4, 7, 1, 11, 27, 970000, tzinfo=UTC)


def message(
    kind: str,
    *,
    text: str | None = None,
    media: MediaRef | None = None,
    story: dict[str, Any] | None = None,
) -> InboundMessage:
    return InboundMessage(
        account=ACCOUNT,
        external_id="external_id",
        sender=PERSON,
        timestamp=T,
        kind=kind,
        text=text,
        media=media,
        story=story,
    )


HELLO = message("text", text="Hello World")

EXPECTED: dict[str, list[ChannelEvent] | type[Exception]] = {
    "courier__attachment.json": [
        message("image", media=MediaRef(kind="image", url="https://image-url/foo.png"))
    ],
    # Addressed to 1235 inside account 1234567890's entry: not routable with confidence.
    "courier__different_page.json": [
        Malformed("messaging", "recipient 1235 is not the entry's account 1234567890")
    ],
    # Both copies are reported; the inbox deduplicates on the mid.
    "courier__duplicate_msg.json": [HELLO, HELLO],
    # Sender and recipient the wrong way round for an echo (the account is the recipient):
    # the person is whichever side is not the account. No text, no attachment.
    "courier__echo.json": [
        Echo(account=ACCOUNT, external_id="qT7ywaK", recipient="5678", timestamp=T, kind="unknown")
    ],
    "courier__hello_msg.json": [HELLO],
    "courier__icebreaker_get_started.json": [
        InboundMessage(
            account=ACCOUNT,
            external_id="postback:5678:1459991487970",  # no mid: person and timestamp as sent
            sender=PERSON,
            timestamp=T,
            kind="postback",
            text="icebreaker question",
            payload="get_started",
        )
    ],
    "courier__invalid_urn.json": [
        Malformed("messaging", "sender id 'abc5678' is not a numeric id")
    ],
    "courier__like_heart.json": [message("like_heart", text="❤️")],
    "courier__no_entries.json": [],
    "courier__no_messaging_entries.json": [],
    "courier__not_instagram.json": WebhookFormatError,
    # The story's URL dies with it: the text says what the message was.
    "courier__story_mention.json": [
        message(
            "story_mention", text="Mentioned you in their story", story={"url": "https://story-url"}
        )
    ],
    "courier__unknown_messaging_entry.json": [
        Unhandled("messaging", "event from 5678 carries no known payload")
    ],
    "courier__unsent_msg.json": [
        MessageDeleted(
            account=ACCOUNT,
            sender=PERSON,
            external_id="external_id",
            timestamp=datetime(2019, 9, 23, 18, 14, 45, 349000, tzinfo=UTC),
        )
    ],
}
