"""Inbound mail (the raw RFC 5322 message a relay posts to /webhooks/email) → neutral events.

- A person's message → `InboundMessage`: `external_id` its Message-ID (without angle
  brackets; a hash of the bytes when it has none), `reply_to` the message it answers
  (In-Reply-To, else the last of References: our Message-ID when they answer us), `text`
  what they wrote above the quoted history (`quotes.reply_text`), `raw` the subject,
  threading headers and recipients. Attachments: the first one is the message's media, as a
  `data:` URL when it is small enough to keep with the event (`INLINE_MEDIA_MAX`), else by
  name and checksum only; every attachment is listed in `raw["attachments"]`.
- A delivery status notification (RFC 3464, `multipart/report; report-type=delivery-status`)
  → per failed recipient a `StatusUpdate` "failed" of the bounced message (found by the
  Message-ID in the returned headers) and, when the status says the address is dead
  (`errors.HARD_BOUNCES`: 5.1.1, 5.1.2, …), a `Suppression` (hard_bounce). A full mailbox
  or a policy refusal fails the message but keeps the address. "delayed" (4.x.x) is
  nothing yet: Unhandled.
- A feedback report (RFC 5965 ARF, `report-type=feedback-report`) of type abuse → a
  `Suppression` (complaint) of the person who complained.
- A mail to our address with the subject "unsubscribe" (the List-Unsubscribe mailto) → a
  `Suppression` (unsubscribe) of its sender.
- Auto-replies (RFC 3834 Auto-Submitted, X-Autoreply, Precedence: auto_reply/bulk/junk)
  and bounces that are not reports (From MAILER-DAEMON) → Unhandled: answering them loops.

`account` of every event is the address the mail was for: given by the receiver (which
found the channel), else the first of Delivered-To, X-Original-To, To and Cc."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses
from typing import Any

from threadline.channels.adapter import WebhookFormatError
from threadline.channels.email.errors import dotted, enhanced, hard_bounce, reply_codes
from threadline.channels.email.quotes import html_text, reply_text
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

# Attachments up to this size travel inside the stored event (as a data: URL), so the
# media can be read later without the relay; larger ones are known by name only.
INLINE_MEDIA_MAX = 2 * 1024 * 1024
_AUTO_PRECEDENCE = {"auto_reply", "bulk", "junk"}
_DAEMONS = {"mailer-daemon", "postmaster"}
_ORIGINALS = ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers")


def read_message(raw: bytes) -> EmailMessage:
    """The parsed message; WebhookFormatError when the bytes are not an email (no From with
    an address)."""
    if not raw.strip():
        raise WebhookFormatError("the body is empty: expected an RFC 5322 message")
    msg = BytesParser(_class=EmailMessage, policy=policy.default).parsebytes(raw)
    if not isinstance(msg, EmailMessage) or not _addresses(msg, "From"):
        raise WebhookFormatError(
            "the body is not an RFC 5322 message (no From address); post the raw message "
            "as message/rfc822"
        )
    return msg


def recipients(msg: Message) -> list[str]:
    """The addresses a message may be for, most telling first (lower-case, unique): the
    delivery headers, To and Cc, and for a report the sender of the returned message."""
    found: list[str] = []
    for name in ("Delivered-To", "X-Original-To", "To", "Cc"):
        found += _addresses(msg, name)
    if _report_type(msg):
        original = _original(msg)
        if original is not None:
            found += _addresses(original, "From")
    return list(dict.fromkeys(found))


def parse_raw(
    raw: bytes, received_at: datetime, *, account: str | None = None
) -> list[ChannelEvent]:
    msg = read_message(raw)
    ours = (account or next(iter(recipients(msg)), "")).lower()
    report = _report_type(msg)
    if report == "delivery-status":
        return _dsn(msg, ours, received_at)
    if report == "feedback-report":
        return _feedback(msg, ours, received_at)
    sender = _addresses(msg, "From")[0]
    if _automatic(msg):
        subject = _header(msg, "Subject")
        return [Unhandled(field="auto_reply", summary=f"auto-reply from {sender}: {subject}")]
    if sender.partition("@")[0] in _DAEMONS:
        return [Unhandled(field="bounce", summary=f"a bounce that is no DSN, from {sender}")]
    message_id = _message_id(msg, raw)
    if _header(msg, "Subject").strip().lower() == "unsubscribe":
        return [
            Suppression(
                account=ours,
                address=sender,
                reason=SuppressionReason.UNSUBSCRIBE,
                timestamp=received_at,
                detail="mailto",
                reference=message_id,
            )
        ]
    return [_inbound(msg, ours, sender, message_id, received_at)]


# -- a person's message --------------------------------------------------------------------
def _inbound(
    msg: EmailMessage, ours: str, sender: str, message_id: str, at: datetime
) -> InboundMessage:
    attachments = list(_attachments(msg))
    listed = [_described(part) for part in attachments]
    media = _media(attachments[0]) if attachments else None
    text = reply_text(_body_text(msg)) or None
    references = _ids(_header(msg, "References"))
    answered = next(iter(_ids(_header(msg, "In-Reply-To"))), None) or (
        references[-1] if references else None
    )
    raw: dict[str, Any] = {
        "message_id": message_id,
        "subject": _header(msg, "Subject"),
        "in_reply_to": answered,
        "references": references,
        "to": _addresses(msg, "To"),
        "cc": _addresses(msg, "Cc"),
        "date": _header(msg, "Date") or None,
    }
    reply_address = _addresses(msg, "Reply-To")
    if reply_address and reply_address[0] != sender:
        raw["reply_to"] = reply_address[0]
    if listed:
        raw["attachments"] = listed
    return InboundMessage(
        account=ours,
        external_id=message_id,
        sender=Sender(address=sender, name=_display_name(msg) or None),
        timestamp=at,
        kind=media.kind if media is not None else "text",
        text=text,
        media=media,
        reply_to=answered,
        raw=raw,
    )


def _body_text(msg: EmailMessage) -> str:
    body = msg.get_body(preferencelist=("plain", "html"))
    if not isinstance(body, EmailMessage):
        return ""
    try:
        content = body.get_content()
    except (LookupError, ValueError):  # an unknown charset, a broken encoding
        payload = body.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    content = content.replace("\r\n", "\n")
    return html_text(content) if body.get_content_subtype() == "html" else content


def _attachments(msg: EmailMessage) -> Iterator[EmailMessage]:
    for part in msg.walk():
        if part.is_multipart() or not isinstance(part, EmailMessage):
            continue
        disposition = part.get_content_disposition()
        if disposition == "attachment" or (
            disposition is None and part.get_filename() and part.get_content_maintype() != "text"
        ):
            yield part


def _described(part: EmailMessage) -> dict[str, Any]:
    data = _bytes(part)
    return {
        "filename": part.get_filename(),
        "mime_type": part.get_content_type(),
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def _bytes(part: EmailMessage) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _media(part: EmailMessage) -> MediaRef:
    data = _bytes(part)
    mime = part.get_content_type()
    kind = part.get_content_maintype()
    url = None
    if len(data) <= INLINE_MEDIA_MAX:
        url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return MediaRef(
        kind=kind if kind in ("image", "video", "audio") else "document",
        mime_type=mime,
        sha256=hashlib.sha256(data).hexdigest(),
        url=url,
        filename=part.get_filename(),
    )


def _automatic(msg: EmailMessage) -> bool:
    submitted = _header(msg, "Auto-Submitted").strip().lower()
    if submitted and not submitted.startswith("no"):
        return True
    if _header(msg, "X-Autoreply") or _header(msg, "X-Autorespond"):
        return True
    return _header(msg, "Precedence").strip().lower() in _AUTO_PRECEDENCE


# -- delivery status notifications (RFC 3464) ----------------------------------------------
def _dsn(msg: EmailMessage, ours: str, at: datetime) -> list[ChannelEvent]:
    status_part = _part(msg, "message/delivery-status")
    if status_part is None:
        return [Malformed(field="dsn", reason="no message/delivery-status part")]
    blocks = _blocks(status_part)
    per_recipient = [block for block in blocks[1:] if _field(block, "Final-Recipient")]
    if not per_recipient:
        return [Malformed(field="dsn", reason="no per-recipient fields (Final-Recipient)")]
    original = _original(msg)
    bounced = _message_id_of(original) if original is not None else None
    events: list[ChannelEvent] = []
    for block in per_recipient:
        events += _recipient_status(block, ours, bounced, at)
    return events


def _recipient_status(
    block: Message, ours: str, bounced: str | None, at: datetime
) -> list[ChannelEvent]:
    address = _typed_address(_field(block, "Final-Recipient"))
    action = _field(block, "Action").strip().lower()
    status = _field(block, "Status").strip()
    diagnostic = _field(block, "Diagnostic-Code")
    said = diagnostic.partition(";")[2].strip() if ";" in diagnostic else diagnostic.strip()
    code, said_subcode = reply_codes(said)
    subcode = enhanced(status) or said_subcode
    if action != "failed" or subcode is None:
        return [Unhandled(field="dsn", summary=f"{action or 'no action'} {status} for {address}")]
    title = " ".join((said or dotted(subcode)).split())
    events: list[ChannelEvent] = []
    if bounced is not None:
        error = ErrorDetail(
            code=code or (550 if subcode >= 50000 else 450), title=title, subcode=subcode
        )
        events.append(
            StatusUpdate(
                account=ours,
                external_id=bounced,
                status="failed",
                timestamp=at,
                recipient=address,
                errors=(error,),
                callback_data=_our_ref(bounced, ours),
            )
        )
    if hard_bounce(subcode):
        events.append(
            Suppression(
                account=ours,
                address=address,
                reason=SuppressionReason.HARD_BOUNCE,
                timestamp=at,
                detail=f"{dotted(subcode)} {title}".strip(),
                reference=bounced,
            )
        )
    if not events:
        return [Unhandled(field="dsn", summary=f"failed {status} for {address}, message unknown")]
    return events


def _our_ref(message_id: str, ours: str) -> str | None:
    """Our message id, when the Message-ID is one we made (`<{message_ref}@{domain}>`)."""
    local, _, domain = message_id.rpartition("@")
    if not local or domain.lower() != ours.rpartition("@")[2] or local.startswith("tl."):
        return None
    return local


# -- feedback reports (RFC 5965) -----------------------------------------------------------
def _feedback(msg: EmailMessage, ours: str, at: datetime) -> list[ChannelEvent]:
    report = _part(msg, "message/feedback-report")
    if report is None:
        return [Malformed(field="feedback_report", reason="no message/feedback-report part")]
    fields = _blocks(report)
    first = fields[0] if fields else Message()
    feedback_type = _field(first, "Feedback-Type").strip().lower()
    original = _original(msg)
    reference = _message_id_of(original) if original is not None else None
    if feedback_type != "abuse":
        return [Unhandled(field="feedback_report", summary=f"{feedback_type or 'untyped'} report")]
    address = _typed_address(_field(first, "Original-Rcpt-To"))
    if not address and original is not None:
        address = next(iter(_addresses(original, "To")), "")
    if "@" not in address:
        return [Malformed(field="feedback_report", reason="the complaint names no recipient")]
    return [
        Suppression(
            account=ours,
            address=address,
            reason=SuppressionReason.COMPLAINT,
            timestamp=at,
            detail=feedback_type,
            reference=reference,
        )
    ]


# -- helpers -------------------------------------------------------------------------------
def _report_type(msg: Message) -> str | None:
    if msg.get_content_type() != "multipart/report":
        return None
    return str(msg.get_param("report-type") or "").lower() or None


def _part(msg: Message, content_type: str) -> Message | None:
    return next((part for part in msg.walk() if part.get_content_type() == content_type), None)


def _original(msg: Message) -> Message | None:
    """The returned message (or its headers) inside a report."""
    for part in msg.walk() if msg.is_multipart() else ():
        kind = part.get_content_type()
        if kind not in _ORIGINALS:
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            return payload[0]
        text = payload if isinstance(payload, str) else ""
        if part.get("Content-Transfer-Encoding", "").lower() in ("base64", "quoted-printable"):
            decoded = part.get_payload(decode=True)
            text = decoded.decode("utf-8", "replace") if isinstance(decoded, bytes) else text
        return HeaderParser(policy=policy.default).parsestr(text.lstrip("\r\n"))
    return None


def _blocks(part: Message) -> list[Message]:
    """The field groups of a delivery-status or feedback-report part: the parser gives
    them as messages, unless the part was encoded (then they are parsed here)."""
    payload = part.get_payload()
    if isinstance(payload, list) and all(isinstance(block, Message) for block in payload):
        return list(payload)
    decoded = part.get_payload(decode=True)
    text = decoded.decode("utf-8", "replace") if isinstance(decoded, bytes) else str(payload)
    text = text.replace("\r\n", "\n")
    return [
        HeaderParser(policy=policy.default).parsestr(chunk.strip("\n") + "\n")
        for chunk in text.split("\n\n")
        if chunk.strip()
    ]


def _field(block: Message, name: str) -> str:
    value = block.get(name)
    return " ".join(str(value).split()) if value is not None else ""


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except (ValueError, IndexError, TypeError):  # a header too broken to parse
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _addresses(msg: Message, name: str) -> list[str]:
    try:
        values = [str(value) for value in msg.get_all(name) or []]
    except (ValueError, IndexError, TypeError):
        return []
    return [addr.lower() for _, addr in getaddresses(values) if "@" in addr]


def _display_name(msg: Message) -> str:
    values = [str(value) for value in msg.get_all("From") or []]
    pairs = getaddresses(values)
    return pairs[0][0].strip() if pairs else ""


def _typed_address(value: str) -> str:
    """`rfc822; ana@example.net` → `ana@example.net`."""
    address = value.partition(";")[2] if ";" in value else value
    return address.strip().strip("<>").lower()


def _ids(value: str) -> list[str]:
    """The message ids of In-Reply-To / References, without angle brackets."""
    found = [token.strip("<>") for token in value.replace(",", " ").split() if token]
    return [token for token in found if "@" in token]


def _message_id_of(msg: Message) -> str | None:
    return next(iter(_ids(_header(msg, "Message-ID"))), None)


def _message_id(msg: Message, raw: bytes) -> str:
    found = _message_id_of(msg)
    if found:
        return found
    return f"tl.{hashlib.sha256(raw).hexdigest()[:32]}@no-message-id"
