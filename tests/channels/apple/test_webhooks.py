"""What Apple's gateway posts to the MSP → neutral events: texts, attachments, list picker /
quick reply / time picker answers, large interactive data by reference, typing, close, and
bodies that are not Apple's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from threadline.channels.adapter import WebhookFormatError
from threadline.channels.apple.adapter import ADAPTER, AppleDelivery
from threadline.channels.apple.render import BID
from threadline.channels.apple.webhooks import parse
from threadline.channels.events import (
    ChannelEvent,
    InboundMessage,
    Malformed,
    MediaRef,
    Sender,
    Suppression,
    SuppressionReason,
    Unhandled,
)

BUSINESS = "8d2a1f0e-4c1b-4f57-9a53-3b6f1c2d9e10"
PERSON = "urn:mbid:AQAAY7Lq9Xh2"
MESSAGE = "5B3C2A0E-9F0D-4A57-8E21-7C6B5A4D3E2F"
AT = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
HEADERS = {
    "id": MESSAGE,
    "source-id": PERSON,
    "destination-id": BUSINESS,
    "Device-Agent": "iPhone OS",
    "capability-list": "QUICK,LIST,TIME",
    "Authorization": "Bearer secret-never-kept",
}
KEPT = {"device-agent": "iPhone OS", "capability-list": "QUICK,LIST,TIME"}
ANA = Sender(address=PERSON, user_id=PERSON)


def apple(kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "v": 1,
        "id": MESSAGE,
        "type": kind,
        "sourceId": PERSON,
        "destinationId": BUSINESS,
        **fields,
    }


def raw(body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"body": body, "headers": KEPT, **extra}


def message(body: dict[str, Any], kind: str, **fields: Any) -> InboundMessage:
    fields.setdefault("raw", raw(body))
    return InboundMessage(
        account=BUSINESS, external_id=MESSAGE, sender=ANA, timestamp=AT, kind=kind, **fields
    )


TEXT = apple("text", body="Hi! Is my order on its way?", locale="en_US")
PHOTO_URL = "https://p57-content.icloud.com/M1/abc"
PDF_URL = "https://p57-content.icloud.com/M1/pdf"
ATTACHMENT: dict[str, Any] = {
    "name": "IMG_0042.HEIC",
    "mimeType": "image/heic",
    "size": 204_800,
    "url": PHOTO_URL,
    "owner": "p57-content.icloud.com",
    "signature-base64": "c2lnbmF0dXJl",
    "key": "00a1b2c3",
}
PDF = {**ATTACHMENT, "name": "receipt.pdf", "mimeType": "application/pdf", "url": PDF_URL}
PHOTO = apple("text", body="\ufffcThis one", attachments=[ATTACHMENT])
TWO_FILES = apple("text", body="\ufffc\ufffc", attachments=[ATTACHMENT, PDF])
LIST_ANSWER = apple(
    "interactive",
    interactiveData={
        "bid": BID,
        "data": {
            "requestIdentifier": "C1282469-0EFB-59D0-B063-D8400D537A36",
            "version": "1.0",
            "listPicker": {
                "sections": [
                    {
                        "order": 0,
                        "title": "Sizes",
                        "items": [{"identifier": "m", "title": "Medium", "order": 1}],
                    }
                ]
            },
        },
        "replyMessage": {"title": "Which size?", "style": "icon"},
    },
)
TWO_PICKED = apple(
    "interactive",
    interactiveData={
        "bid": BID,
        "data": {
            "requestIdentifier": "R2",
            "listPicker": {
                "sections": [
                    {"items": [{"identifier": "a", "title": "Apples"}]},
                    {"items": [{"identifier": "p", "title": "Pears"}]},
                ]
            },
        },
    },
)
QUICK_ANSWER = apple(
    "interactive",
    interactiveData={
        "bid": BID,
        "data": {
            "requestIdentifier": "R3",
            "version": "1.0",
            "quick-reply": {
                "items": [
                    {"identifier": "yes", "title": "Yes"},
                    {"identifier": "no", "title": "No"},
                ],
                "selectedIdentifier": "no",
                "selectedIndex": 1,
            },
        },
    },
)
TIME_ANSWER = apple(
    "interactive",
    interactiveData={
        "bid": BID,
        "data": {
            "requestIdentifier": "R4",
            "event": {
                "identifier": "fitting",
                "title": "Pick a time",
                "timeslots": [
                    {"identifier": "s2", "startTime": "2026-03-11T16:30+0000", "duration": 3600}
                ],
            },
        },
        "replyMessage": {"title": "Pick a time"},
    },
)
PAY_ANSWER = apple(
    "interactive",
    interactiveData={
        "bid": BID,
        "data": {"requestIdentifier": "R5", "payment": {"status": "success"}},
        "replyMessage": {"title": "Paid", "style": "icon"},
    },
)
BY_REFERENCE = apple(
    "interactive",
    interactiveDataRef={
        "bid": BID,
        "url": "https://p57-content.icloud.com/M2/ref",
        "owner": "p57-content.icloud.com",
        "signature-base64": "c2ln",
        "key": "00ff",
        "size": 40_000,
    },
)
CLOSE = apple("close")

CASES: list[tuple[str, dict[str, Any], list[ChannelEvent]]] = [
    ("text", TEXT, [message(TEXT, "text", text="Hi! Is my order on its way?")]),
    (
        "photo-with-text",
        PHOTO,
        [
            message(
                PHOTO,
                "image",
                text="This one",
                media=MediaRef(
                    kind="image",
                    url=PHOTO_URL,
                    mime_type="image/heic",
                    filename="IMG_0042.HEIC",
                ),
                raw=raw(PHOTO, attachment=ATTACHMENT),
            )
        ],
    ),
    (
        "two-attachments-two-messages",
        TWO_FILES,
        [
            message(
                TWO_FILES,
                "image",
                media=MediaRef(
                    kind="image",
                    url=PHOTO_URL,
                    mime_type="image/heic",
                    filename="IMG_0042.HEIC",
                ),
                raw=raw(TWO_FILES, attachment=ATTACHMENT),
            ),
            InboundMessage(
                account=BUSINESS,
                external_id=f"{MESSAGE}:1",
                sender=ANA,
                timestamp=AT,
                kind="document",
                media=MediaRef(
                    kind="document",
                    url=PDF_URL,
                    mime_type="application/pdf",
                    filename="receipt.pdf",
                ),
                raw=raw(TWO_FILES, attachment=PDF),
            ),
        ],
    ),
    (
        "list-picker-answer",
        LIST_ANSWER,
        [
            message(
                LIST_ANSWER,
                "interactive/list_reply",
                text="Medium",
                payload="m",
                reply_to="C1282469-0EFB-59D0-B063-D8400D537A36",
            )
        ],
    ),
    (
        "list-picker-two-picked",
        TWO_PICKED,
        [
            message(
                TWO_PICKED,
                "interactive/list_reply",
                text="Apples, Pears",
                payload="a,p",
                reply_to="R2",
            )
        ],
    ),
    (
        "quick-reply-tap",
        QUICK_ANSWER,
        [message(QUICK_ANSWER, "quick_reply", text="No", payload="no", reply_to="R3")],
    ),
    (
        "time-picker-answer",
        TIME_ANSWER,
        [
            message(
                TIME_ANSWER,
                "interactive/time_reply",
                text="2026-03-11T16:30+0000",
                payload="s2",
                reply_to="R4",
            )
        ],
    ),
    (
        "other-interactive-answer",
        PAY_ANSWER,
        [message(PAY_ANSWER, "interactive", text="Paid", reply_to="R5")],
    ),
    ("interactive-by-reference", BY_REFERENCE, [message(BY_REFERENCE, "interactive")]),
    ("typing-start", apple("typing_start"), [Unhandled("typing_start", f"{PERSON} ({MESSAGE})")]),
    ("typing-end", apple("typing_end"), [Unhandled("typing_end", f"{PERSON} ({MESSAGE})")]),
    (
        "close",
        CLOSE,
        [
            Suppression(
                account=BUSINESS,
                address=PERSON,
                reason=SuppressionReason.CLOSED,
                timestamp=AT,
                detail="the person closed the conversation",
                reference=MESSAGE,
            )
        ],
    ),
    (
        "unknown-type-kept",
        apple("richLink", richLinkData={"url": "https://x"}),
        [Unhandled("richLink", f"richLink from {PERSON} ({MESSAGE})")],
    ),
    (
        "text-without-text",
        apple("text", body=" \ufffc "),
        [Malformed("body", "a text message without text", raw(apple("text", body=" \ufffc ")))],
    ),
    (
        "attachment-without-url",
        apple("text", body="\ufffc", attachments=[{"name": "x"}]),
        [
            Malformed(
                "attachments[0]",
                "an attachment without url",
                raw(apple("text", body="\ufffc", attachments=[{"name": "x"}])),
            )
        ],
    ),
    (
        "interactive-without-data",
        apple("interactive", interactiveData={"bid": BID}),
        [
            Malformed(
                "interactiveData",
                "no interactiveData.data",
                raw(apple("interactive", interactiveData={"bid": BID})),
            )
        ],
    ),
]


@pytest.mark.parametrize(("name", "body", "expected"), CASES, ids=[c[0] for c in CASES])
def test_parse(name: str, body: dict[str, Any], expected: list[ChannelEvent]) -> None:
    assert parse(body, HEADERS, AT) == expected


def test_the_ids_may_come_from_the_headers_alone() -> None:
    body = {"v": 1, "type": "text", "body": "Hello"}
    (event,) = parse(body, HEADERS, AT)
    assert isinstance(event, InboundMessage)
    assert (event.account, event.external_id, event.sender) == (BUSINESS, MESSAGE, ANA)


def test_the_token_is_never_kept() -> None:
    (event,) = parse(TEXT, HEADERS, AT)
    assert isinstance(event, InboundMessage)
    assert "Authorization" not in str(event.raw) and "secret-never-kept" not in str(event.raw)


@pytest.mark.parametrize(
    "body",
    [
        [],
        "text",
        {},
        {"object": "page", "entry": []},  # a Meta notification
        {"type": "", "id": MESSAGE},
        {**TEXT, "v": 2},
    ],
)
def test_not_an_apple_body(body: Any) -> None:
    with pytest.raises(WebhookFormatError):
        parse(body, HEADERS, AT)


@pytest.mark.parametrize("missing", ["id", "sourceId", "destinationId"])
def test_a_body_that_names_no_message_or_party_is_not_apple_s(missing: str) -> None:
    body = {k: v for k, v in TEXT.items() if k != missing}
    with pytest.raises(WebhookFormatError, match=missing):
        parse(body, {}, AT)


def test_the_adapter_takes_a_delivery() -> None:
    assert ADAPTER.parse(AppleDelivery(TEXT, AT, HEADERS)) == parse(TEXT, HEADERS, AT)
    with pytest.raises(WebhookFormatError):
        ADAPTER.parse(TEXT)
