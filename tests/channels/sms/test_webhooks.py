"""Form-encoded provider callbacks → neutral events: inbound SMS and MMS, delivery
statuses, the provider's own STOP handling, and forms that are not callbacks at all."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from threadline.channels.adapter import WebhookFormatError
from threadline.channels.events import (
    ChannelEvent,
    ErrorDetail,
    InboundMessage,
    Malformed,
    MediaRef,
    Sender,
    StatusUpdate,
    Suppression,
    SuppressionReason,
    Unhandled,
)
from threadline.channels.sms.webhooks import parse

AT = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
OURS = "+15550001111"
PERSON = "+15551230000"
SID = "SM0123456789abcdef0123456789abcdef"
ACCOUNT = "AC0123456789abcdef0123456789abcdef"


def inbound_form(**extra: str) -> list[tuple[str, str]]:
    """What Twilio posts to a number's messaging webhook (field order as it sends them)."""
    fields = {
        "ToCountry": "US",
        "SmsMessageSid": SID,
        "NumMedia": "0",
        "SmsSid": SID,
        "SmsStatus": "received",
        "Body": "Hi there",
        "To": OURS,
        "NumSegments": "1",
        "MessageSid": SID,
        "AccountSid": ACCOUNT,
        "From": PERSON,
        "ApiVersion": "2010-04-01",
        **extra,
    }
    return list(fields.items())


def status_form(status: str, **extra: str) -> dict[str, str]:
    """What Twilio posts to a message's StatusCallback."""
    return {
        "SmsSid": SID,
        "SmsStatus": status,
        "MessageStatus": status,
        "To": PERSON,
        "MessageSid": SID,
        "AccountSid": ACCOUNT,
        "From": OURS,
        "ApiVersion": "2010-04-01",
        **extra,
    }


def message(raw: list[tuple[str, str]], **changes: Any) -> InboundMessage:
    """The message the inbound form should parse into, with `changes` from the plain text."""
    plain = InboundMessage(
        account=OURS,
        external_id=SID,
        sender=Sender(address=PERSON, phone_id=PERSON),
        timestamp=AT,
        kind="text",
        text="Hi there",
        raw=dict(raw),
    )
    return dataclasses.replace(plain, **changes)


def test_inbound_text() -> None:
    form = inbound_form()
    assert parse(form, received_at=AT) == [message(form)]


def test_inbound_mms_with_two_media_keeps_the_first_and_every_url_in_raw() -> None:
    form = inbound_form(
        NumMedia="2",
        Body="",
        MediaContentType0="image/jpeg",
        MediaUrl0=f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages/{SID}/Media/ME1",
        MediaContentType1="application/pdf",
        MediaUrl1=f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages/{SID}/Media/ME2",
    )
    [event] = parse(form, received_at=AT)
    assert event == message(
        form,
        kind="image",
        text=None,
        media=MediaRef(kind="image", url=dict(form)["MediaUrl0"], mime_type="image/jpeg"),
    )
    assert isinstance(event, InboundMessage)
    assert event.raw["MediaUrl1"].endswith("/Media/ME2")


@pytest.mark.parametrize(
    ("mime", "kind"),
    [
        ("video/mp4", "video"),
        ("audio/amr", "audio"),
        ("text/vcard", "document"),
        ("application/pdf", "document"),
    ],
)
def test_the_media_kind_comes_from_its_content_type(mime: str, kind: str) -> None:
    form = inbound_form(NumMedia="1", MediaContentType0=mime, MediaUrl0="https://m.example/1")
    [event] = parse(form, received_at=AT)
    assert isinstance(event, InboundMessage)
    assert event.kind == kind and event.media is not None and event.media.kind == kind


def test_a_stop_the_provider_handled_also_suppresses_the_number() -> None:
    form = inbound_form(Body="STOP", OptOutType="STOP")
    assert parse(form, received_at=AT) == [
        message(form, text="STOP"),
        Suppression(
            account=OURS,
            address=PERSON,
            reason=SuppressionReason.CARRIER_OPT_OUT,
            timestamp=AT,
            detail="provider opt-out: STOP",
            reference=SID,
        ),
    ]


@pytest.mark.parametrize("kind", ["START", "HELP"])
def test_other_opt_out_types_stay_in_raw_only(kind: str) -> None:
    form = inbound_form(Body=kind, OptOutType=kind)
    assert parse(form, received_at=AT) == [message(form, text=kind)]


@pytest.mark.parametrize(
    ("provider_status", "status"),
    [("sending", "sent"), ("sent", "sent"), ("delivered", "delivered"), ("read", "read")],
)
def test_statuses(provider_status: str, status: str) -> None:
    assert parse(status_form(provider_status), received_at=AT) == [
        StatusUpdate(account=OURS, external_id=SID, status=status, timestamp=AT, recipient=PERSON)
    ]


def test_undelivered_with_30003_is_failed_with_the_codes_title() -> None:
    form = status_form("undelivered", ErrorCode="30003")
    assert parse(form, received_at=AT) == [
        StatusUpdate(
            account=OURS,
            external_id=SID,
            status="failed",
            timestamp=AT,
            recipient=PERSON,
            errors=(ErrorDetail(code=30003, title="Unreachable destination handset"),),
        )
    ]


def test_a_failure_keeps_the_providers_words_when_given() -> None:
    form = status_form("failed", ErrorCode="30034", ErrorMessage="Unregistered number")
    [event] = parse(form, received_at=AT)
    assert isinstance(event, StatusUpdate)
    assert event.errors == (
        ErrorDetail(code=30034, title="Unregistered number", message="Unregistered number"),
    )


def test_an_unknown_code_still_gets_a_title() -> None:
    [event] = parse(status_form("failed", ErrorCode="39999"), received_at=AT)
    assert isinstance(event, StatusUpdate)
    assert event.errors == (ErrorDetail(code=39999, title="Twilio error 39999"),)


def test_an_old_style_status_callback_has_sms_status_and_no_body() -> None:
    form = status_form("delivered")
    del form["MessageStatus"]
    [event] = parse(form, received_at=AT)
    assert isinstance(event, StatusUpdate) and event.status == "delivered"


@pytest.mark.parametrize("provider_status", ["queued", "accepted", "scheduled", "canceled"])
def test_statuses_the_send_outcome_already_said_are_unhandled(provider_status: str) -> None:
    assert parse(status_form(provider_status), received_at=AT) == [
        Unhandled(field="status", summary=f"{SID} {provider_status}")
    ]


@pytest.mark.parametrize("missing", ["MessageSid", "From", "To"])
@pytest.mark.parametrize("shape", ["inbound", "status"])
def test_a_form_without_its_ids_is_not_a_callback(missing: str, shape: str) -> None:
    form = dict(inbound_form()) if shape == "inbound" else status_form("sent")
    del form[missing]
    with pytest.raises(WebhookFormatError, match=missing):
        parse(form, received_at=AT)


def test_a_blank_id_counts_as_missing() -> None:
    with pytest.raises(WebhookFormatError, match="MessageSid"):
        parse(status_form("sent", MessageSid="  "), received_at=AT)


MALFORMED: list[tuple[str, dict[str, str], str]] = [
    ("inbound-from-not-e164", {**dict(inbound_form()), "From": "5551230000"}, "From"),
    ("inbound-whatsapp-address", {**dict(inbound_form()), "From": f"whatsapp:{PERSON}"}, "From"),
    ("status-to-not-e164", status_form("delivered", To="5551230000"), "To"),
    ("num-media-not-a-number", {**dict(inbound_form()), "NumMedia": "two"}, "NumMedia"),
    ("media-url-missing", {**dict(inbound_form()), "NumMedia": "1"}, "MediaUrl0"),
    ("error-code-not-a-number", status_form("failed", ErrorCode="x"), "ErrorCode"),
]


@pytest.mark.parametrize(
    ("form", "field"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_a_broken_callback_is_malformed_with_its_reason(form: dict[str, str], field: str) -> None:
    [event] = parse(form, received_at=AT)
    assert isinstance(event, Malformed)
    assert event.field == field and event.reason and event.raw == form


def test_a_short_code_sender_is_accepted_on_our_side() -> None:
    events: list[ChannelEvent] = parse(status_form("sent", From="72345"), received_at=AT)
    assert [type(e) for e in events] == [StatusUpdate]
