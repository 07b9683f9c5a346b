"""Inbound mail → neutral events: replies (threaded, quoted history stripped), attachments,
delivery status notifications (RFC 3464), feedback reports (RFC 5965), the mailto
unsubscribe, auto-replies that must never be answered, and bodies that are no email.

The samples are written here in the structure the RFCs give (their examples, trimmed),
with CRLF line ends as a relay posts them."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest

from threadline.channels.adapter import WebhookFormatError
from threadline.channels.email.quotes import html_text, reply_text
from threadline.channels.email.webhooks import (
    INLINE_MEDIA_MAX,
    parse_raw,
    read_message,
    recipients,
)
from threadline.channels.events import (
    ErrorDetail,
    InboundMessage,
    Malformed,
    MediaRef,
    Sender,
    StatusUpdate,
    Suppression,
    Unhandled,
)

AT = datetime(2026, 3, 10, 15, 5, tzinfo=UTC)
OURS = "shop@example.com"


def mail(*lines: str) -> bytes:
    return "\r\n".join(lines).encode()


REPLY = mail(
    "Delivered-To: shop@example.com",
    "From: Ana Lima <Ana@Example.NET>",
    "To: Corner Shop <shop@example.com>",
    "Subject: Re: Which colour?",
    "Date: Tue, 10 Mar 2026 15:04:00 +0000",
    "Message-ID: <CAB123@mail.gmail.com>",
    "In-Reply-To: <msg_1@example.com>",
    "References: <msg_0@example.com> <msg_1@example.com>",
    "MIME-Version: 1.0",
    'Content-Type: multipart/alternative; boundary="b1"',
    "",
    "--b1",
    'Content-Type: text/plain; charset="UTF-8"',
    "",
    "2 please",
    "",
    "On Tue, 10 Mar 2026 at 15:00, Corner Shop <shop@example.com>",
    "wrote:",
    "> Which colour?",
    ">",
    "> 1. Red",
    "> 2. Blue",
    "",
    "--b1",
    'Content-Type: text/html; charset="UTF-8"',
    "",
    '<div dir="ltr">2 please</div><div class="gmail_quote">On Tue ... wrote:<br>'
    "<blockquote>Which colour?</blockquote></div>",
    "--b1--",
    "",
)


def test_a_reply_is_threaded_and_only_its_new_words_are_read() -> None:
    assert parse_raw(REPLY, AT) == [
        InboundMessage(
            account=OURS,
            external_id="CAB123@mail.gmail.com",
            sender=Sender(address="ana@example.net", name="Ana Lima"),
            timestamp=AT,
            kind="text",
            text="2 please",
            reply_to="msg_1@example.com",
            raw={
                "message_id": "CAB123@mail.gmail.com",
                "subject": "Re: Which colour?",
                "in_reply_to": "msg_1@example.com",
                "references": ["msg_0@example.com", "msg_1@example.com"],
                "to": [OURS],
                "cc": [],
                "date": "Tue, 10 Mar 2026 15:04:00 +0000",
            },
        )
    ]


def test_the_account_is_the_one_the_receiver_found() -> None:
    (event,) = parse_raw(REPLY, AT, account="Sales@Example.com")
    assert isinstance(event, InboundMessage) and event.account == "sales@example.com"


def test_recipients_most_telling_first() -> None:
    msg = read_message(
        mail(
            "Delivered-To: shop@example.com",
            "From: ana@example.net",
            "To: Sales <sales@example.com>, shop@example.com",
            "Cc: care@example.com",
            "",
            "hi",
        )
    )
    assert recipients(msg) == ["shop@example.com", "sales@example.com", "care@example.com"]


QUOTES: list[tuple[str, str, str]] = [
    ("plain", "Yes", "Yes"),
    ("crlf-and-trailing-blank-lines", "Yes\r\n\r\n\r\n", "Yes"),
    (
        "gmail-one-line-attribution",
        "STOP\n\nOn Tue, Mar 10, 2026 at 3:00 PM Shop <shop@example.com> wrote:\n> Sale!",
        "STOP",
    ),
    ("quoted-lines-anywhere", "> Which one?\nThe red one\n> thanks\nBye", "The red one\nBye"),
    ("signature", "Thanks!\n-- \nAna Lima\nCEO", "Thanks!"),
    (
        "outlook-block",
        "Yes please\n\n________________________________\nFrom: Corner Shop <shop@example.com>\n"
        "Sent: Tuesday, March 10, 2026 3:00 PM\nTo: Ana\nSubject: Booking\n\nConfirm?",
        "Yes please",
    ),
    (
        "outlook-original-message",
        "No\n\n-----Original Message-----\nFrom: shop@example.com\nConfirm?",
        "No",
    ),
    ("portuguese", "Sim\n\nEm ter., 10 de mar. de 2026, Loja escreveu:\n> Confirma?", "Sim"),
    ("french", "Oui\n\nLe mar. 10 mars 2026, Boutique a écrit :\n> Confirmer ?", "Oui"),
    (
        "a-sentence-starting-with-on-is-kept",
        "On Monday I can come.\nThanks",
        "On Monday I can come.\nThanks",
    ),
    (
        "a-from-line-alone-is-kept",
        "From: my phone, sorry for typos\nok",
        "From: my phone, sorry for typos\nok",
    ),
    ("only-quote", "> hello", ""),
]


@pytest.mark.parametrize(
    ("text", "expected"), [(t, e) for _, t, e in QUOTES], ids=[n for n, _, _ in QUOTES]
)
def test_reply_text(text: str, expected: str) -> None:
    assert reply_text(text) == expected


def test_html_text_leaves_out_quotes_styles_and_tags() -> None:
    page = (
        "<html><head><style>p{color:red}</style></head><body><p>Hello &amp; welcome</p>"
        "<div>Line<br>two</div><blockquote>old stuff</blockquote><ul><li>a</li></ul></body>"
    )
    assert html_text(page) == "Hello & welcome\n\nLine\ntwo\n\na"


def test_an_html_only_reply() -> None:
    raw = mail(
        "From: ana@example.net",
        "To: shop@example.com",
        "Subject: Re: Sale",
        "Message-ID: <h1@example.net>",
        "Content-Type: text/html; charset=utf-8",
        "",
        "<p>Yes, the <b>blue</b> one</p><blockquote>Sale!</blockquote>",
    )
    (event,) = parse_raw(raw, AT)
    assert isinstance(event, InboundMessage)
    assert event.text == "Yes, the blue one"
    assert event.sender == Sender(address="ana@example.net", name=None)
    assert event.reply_to is None


def test_a_message_without_message_id_gets_a_stable_one() -> None:
    raw = mail("From: ana@example.net", "To: shop@example.com", "Subject: hi", "", "hello")
    (first,) = parse_raw(raw, AT)
    (again,) = parse_raw(raw, AT)
    assert isinstance(first, InboundMessage) and isinstance(again, InboundMessage)
    assert first.external_id == again.external_id
    assert first.external_id == f"tl.{hashlib.sha256(raw).hexdigest()[:32]}@no-message-id"


def test_reply_to_falls_back_to_the_last_reference_and_keeps_reply_to_header() -> None:
    raw = mail(
        "From: ana@example.net",
        "Reply-To: ana.work@example.org",
        "To: shop@example.com",
        "Message-ID: <r2@example.net>",
        "References: <a@example.com>\r\n <msg_9@example.com>",
        "",
        "ok",
    )
    (event,) = parse_raw(raw, AT)
    assert isinstance(event, InboundMessage)
    assert event.reply_to == "msg_9@example.com"
    assert event.raw["reply_to"] == "ana.work@example.org"


def _with_attachment(data: bytes, filename: str, mime: str) -> bytes:
    encoded = base64.b64encode(data).decode()
    return mail(
        "From: ana@example.net",
        "To: shop@example.com",
        "Subject: photo",
        "Message-ID: <att@example.net>",
        'Content-Type: multipart/mixed; boundary="m"',
        "",
        "--m",
        "Content-Type: text/plain",
        "",
        "Here it is",
        "--m",
        f"Content-Type: {mime}",
        f'Content-Disposition: attachment; filename="{filename}"',
        "Content-Transfer-Encoding: base64",
        "",
        *(encoded[i : i + 76] for i in range(0, len(encoded), 76)),
        "--m--",
        "",
    )


def test_a_small_attachment_travels_with_the_message() -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 20
    (event,) = parse_raw(_with_attachment(png, "shelf.png", "image/png"), AT)
    assert isinstance(event, InboundMessage)
    digest = hashlib.sha256(png).hexdigest()
    assert event.kind == "image" and event.text == "Here it is"
    assert event.media == MediaRef(
        kind="image",
        mime_type="image/png",
        sha256=digest,
        url="data:image/png;base64," + base64.b64encode(png).decode(),
        filename="shelf.png",
    )
    assert event.raw["attachments"] == [
        {"filename": "shelf.png", "mime_type": "image/png", "size": len(png), "sha256": digest}
    ]


def test_a_large_attachment_is_known_by_name_only() -> None:
    big = b"%PDF" + b"x" * INLINE_MEDIA_MAX
    (event,) = parse_raw(_with_attachment(big, "big.pdf", "application/pdf"), AT)
    assert isinstance(event, InboundMessage)
    assert event.kind == "document"
    assert event.media is not None and event.media.url is None
    assert event.media.sha256 == hashlib.sha256(big).hexdigest()


# -- RFC 3464 delivery status notifications ------------------------------------------------
def dsn(*recipient_blocks: str, returned: str = "text/rfc822-headers") -> bytes:
    return mail(
        "From: Mail Delivery System <MAILER-DAEMON@relay.example.com>",
        "To: shop@example.com",
        "Subject: Undelivered Mail Returned to Sender",
        "Auto-Submitted: auto-replied",
        "Message-ID: <dsn-1@relay.example.com>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"',
        "",
        "--r",
        "Content-Type: text/plain",
        "",
        "I'm sorry to have to inform you that your message could not be delivered.",
        "--r",
        "Content-Type: message/delivery-status",
        "",
        "Reporting-MTA: dns; relay.example.com",
        "Arrival-Date: Tue, 10 Mar 2026 15:00:01 +0000",
        "",
        *recipient_blocks,
        "--r",
        f"Content-Type: {returned}",
        "",
        "From: Corner Shop <shop@example.com>",
        "To: nobody@example.net",
        "Subject: Spring sale",
        "Message-ID: <msg_7@example.com>",
        "",
        "--r--",
        "",
    )


def block(recipient: str, action: str, status: str, diagnostic: str | None = None) -> str:
    lines = [
        f"Final-Recipient: rfc822; {recipient}",
        f"Original-Recipient: rfc822;{recipient}",
        f"Action: {action}",
        f"Status: {status}",
        "Remote-MTA: dns; mx.example.net",
    ]
    if diagnostic:
        lines.append(f"Diagnostic-Code: smtp; {diagnostic}")
    return "\r\n".join([*lines, ""])


def test_a_hard_bounce_fails_the_message_and_suppresses_the_address() -> None:
    raw = dsn(
        block(
            "Nobody@Example.net",
            "failed",
            "5.1.1",
            "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown",
        )
    )
    title = "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown"
    assert parse_raw(raw, AT) == [
        StatusUpdate(
            account=OURS,
            external_id="msg_7@example.com",
            status="failed",
            timestamp=AT,
            recipient="nobody@example.net",
            errors=(ErrorDetail(code=550, title=title, subcode=50101),),
            callback_data="msg_7",
        ),
        Suppression(
            account=OURS,
            address="nobody@example.net",
            reason="hard_bounce",
            timestamp=AT,
            detail=f"5.1.1 {title}",
            reference="msg_7@example.com",
        ),
    ]


def test_the_returned_message_may_be_a_whole_message() -> None:
    raw = dsn(block("nobody@example.net", "failed", "5.1.2"), returned="message/rfc822")
    update, suppression = parse_raw(raw, AT)
    assert isinstance(update, StatusUpdate) and isinstance(suppression, Suppression)
    assert update.external_id == "msg_7@example.com"
    assert update.errors == (ErrorDetail(code=550, title="5.1.2", subcode=50102),)


def test_a_full_mailbox_fails_the_message_but_keeps_the_address() -> None:
    raw = dsn(block("ana@example.net", "failed", "5.2.2", "552 5.2.2 Mailbox full"))
    (update,) = parse_raw(raw, AT)
    assert isinstance(update, StatusUpdate)
    assert update.errors == (ErrorDetail(code=552, title="552 5.2.2 Mailbox full", subcode=50202),)


def test_a_delayed_dsn_changes_nothing() -> None:
    raw = dsn(block("ana@example.net", "delayed", "4.4.7", "421 4.4.7 try again later"))
    assert parse_raw(raw, AT) == [
        Unhandled(field="dsn", summary="delayed 4.4.7 for ana@example.net")
    ]


def test_each_recipient_of_a_dsn_counts_alone() -> None:
    raw = dsn(
        block("ana@example.net", "delivered", "2.0.0"),
        block("nobody@example.net", "failed", "5.1.1"),
    )
    kinds = [type(event).__name__ for event in parse_raw(raw, AT)]
    assert kinds == ["Unhandled", "StatusUpdate", "Suppression"]


def test_a_dsn_without_recipients_is_malformed() -> None:
    raw = dsn()
    assert parse_raw(raw, AT) == [
        Malformed(field="dsn", reason="no per-recipient fields (Final-Recipient)")
    ]


# -- RFC 5965 feedback reports -------------------------------------------------------------
def arf(feedback_type: str = "abuse", rcpt_to: str | None = "ana@example.net") -> bytes:
    fields = [
        f"Feedback-Type: {feedback_type}",
        "User-Agent: SomeGenerator/1.0",
        "Version: 1",
        "Original-Mail-From: <shop@example.com>",
        *([f"Original-Rcpt-To: <{rcpt_to}>"] if rcpt_to else []),
        "Arrival-Date: Tue, 10 Mar 2026 15:00:05 +0000",
        "Reported-Domain: example.com",
        "Source-IP: 192.0.2.1",
    ]
    return mail(
        "From: <abuse@mailbox.example.net>",
        "To: <fbl@example.com>",
        "Subject: FW: Spring sale",
        "Date: Tue, 10 Mar 2026 15:10:00 +0000",
        "Message-ID: <arf-1@mailbox.example.net>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type=feedback-report; boundary="f"',
        "",
        "--f",
        'Content-Type: text/plain; charset="US-ASCII"',
        "",
        "This is an email abuse report for an email message received from IP 192.0.2.1.",
        "--f",
        "Content-Type: message/feedback-report",
        "",
        *fields,
        "",
        "--f",
        "Content-Type: message/rfc822",
        "Content-Disposition: inline",
        "",
        "From: Corner Shop <shop@example.com>",
        "To: Ana <ana@example.net>",
        "Subject: Spring sale",
        "Message-ID: <msg_8@example.com>",
        "",
        "20% off!",
        "--f--",
        "",
    )


def test_a_complaint_suppresses_the_person() -> None:
    # The report goes to the feedback address; the returned message says which account.
    assert parse_raw(arf(), AT) == [
        Suppression(
            account="fbl@example.com",
            address="ana@example.net",
            reason="complaint",
            timestamp=AT,
            detail="abuse",
            reference="msg_8@example.com",
        )
    ]
    assert recipients(read_message(arf()))[-1] == OURS
    (event,) = parse_raw(arf(), AT, account=OURS)
    assert isinstance(event, Suppression) and event.account == OURS


def test_a_redacted_complaint_falls_back_to_the_original_recipient() -> None:
    (event,) = parse_raw(arf(rcpt_to=None), AT, account=OURS)
    assert isinstance(event, Suppression) and event.address == "ana@example.net"


def test_other_feedback_types_change_nothing() -> None:
    assert parse_raw(arf("not-spam"), AT) == [
        Unhandled(field="feedback_report", summary="not-spam report")
    ]


# -- the mailto unsubscribe, auto-replies, not-mail ----------------------------------------
def test_an_unsubscribe_mail_suppresses_its_sender() -> None:
    raw = mail(
        "From: Ana <ana@example.net>",
        "To: shop@example.com",
        "Subject: Unsubscribe ",
        "Message-ID: <u1@example.net>",
        "",
        "",
    )
    assert parse_raw(raw, AT) == [
        Suppression(
            account=OURS,
            address="ana@example.net",
            reason="unsubscribe",
            timestamp=AT,
            detail="mailto",
            reference="u1@example.net",
        )
    ]


@pytest.mark.parametrize(
    "header",
    [
        "Auto-Submitted: auto-replied",
        "Auto-Submitted: auto-generated",
        "X-Autoreply: yes",
        "X-Autorespond: Out of office",
        "Precedence: auto_reply",
        "Precedence: bulk",
    ],
)
def test_auto_replies_are_never_answered(header: str) -> None:
    raw = mail(
        "From: ana@example.net",
        "To: shop@example.com",
        "Subject: Out of office",
        header,
        "",
        "I am away until Monday.",
    )
    assert parse_raw(raw, AT) == [
        Unhandled(field="auto_reply", summary="auto-reply from ana@example.net: Out of office")
    ]


def test_auto_submitted_no_is_a_person() -> None:
    raw = mail("From: ana@example.net", "To: shop@example.com", "Auto-Submitted: no", "", "hi")
    (event,) = parse_raw(raw, AT)
    assert isinstance(event, InboundMessage) and event.text == "hi"


def test_a_bounce_that_is_no_report_is_not_a_person() -> None:
    raw = mail("From: MAILER-DAEMON@relay.example.com", "To: shop@example.com", "", "failed")
    assert parse_raw(raw, AT) == [
        Unhandled(
            field="bounce", summary="a bounce that is no DSN, from mailer-daemon@relay.example.com"
        )
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   \r\n",
        b'{"entry": [{"id": "1"}]}',
        b"hello world",
        b"To: shop@example.com\r\n\r\nx",
    ],
)
def test_what_is_not_an_email_is_refused(body: bytes) -> None:
    with pytest.raises(WebhookFormatError):
        parse_raw(body, AT)
