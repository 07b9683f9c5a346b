"""Parse the provider's form-encoded callbacks into channel-neutral events.

One form is one event: a status callback (it has `MessageStatus`, or the older `SmsStatus`
without a `Body`) about a message we sent, or an inbound message (SMS, or MMS with
`NumMedia` media). Neither carries a timestamp, so the caller says when it arrived.

A form without `MessageSid`, `From` or `To` is not a callback at all (WebhookFormatError,
HTTP 400). A person's number that is not E.164 (`whatsapp:+…` belongs to another channel)
makes the event `Malformed`; our own side is not checked, since a sender may be a short code.

When the provider's own opt-out handling (Twilio Advanced Opt-Out) answered a STOP, the
inbound message has `OptOutType=STOP`: the provider now blocks the number (21610), so a
`Suppression` follows the message. `OptOutType` stays in `raw` whatever its value."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime

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
from threadline.channels.sms.errors import title

Form = Sequence[tuple[str, str]] | Mapping[str, str]

_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
# Provider statuses → the neutral ones; those absent (queued, accepted, scheduled,
# canceled, receiving, received) say nothing the send outcome did not.
STATUSES = {
    "sending": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
}
_MEDIA_KINDS = ("image", "video", "audio")


def parse(form: Form, *, received_at: datetime) -> list[ChannelEvent]:
    fields = _fields(form)
    sid, ours_from, ours_to = (_required(fields, name) for name in ("MessageSid", "From", "To"))
    if "MessageStatus" in fields or ("SmsStatus" in fields and "Body" not in fields):
        return [_status(fields, sid, ours_from, ours_to, received_at)]
    return _inbound(fields, sid, ours_from, ours_to, received_at)


def _fields(form: Form) -> dict[str, str]:
    """The form as one value per name (the first, should a name repeat)."""
    if isinstance(form, Mapping):
        return {str(k): str(v) for k, v in form.items()}
    fields: dict[str, str] = {}
    for name, value in form:
        fields.setdefault(name, value)
    return fields


def _required(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name, "").strip()
    if not value:
        raise WebhookFormatError(f"{name} is missing: not a messaging callback")
    return value


def _not_e164(field: str, number: str, fields: dict[str, str]) -> Malformed | None:
    if _E164.match(number):
        return None
    return Malformed(field, f"{number!r} is not an E.164 number", fields)


def _status(
    fields: dict[str, str], sid: str, sender: str, recipient: str, at: datetime
) -> ChannelEvent:
    """A callback about a message we sent: From is our number, To the person's."""
    said = fields.get("MessageStatus") or fields.get("SmsStatus", "")
    status = STATUSES.get(said.lower())
    if status is None:
        return Unhandled(field="status", summary=f"{sid} {said}".strip())
    broken = _not_e164("To", recipient, fields)
    if broken is not None:
        return broken
    errors = _errors(fields) if status == "failed" else ()
    if isinstance(errors, Malformed):
        return errors
    return StatusUpdate(
        account=sender,
        external_id=sid,
        status=status,
        timestamp=at,
        recipient=recipient,
        errors=errors,
    )


def _errors(fields: dict[str, str]) -> tuple[ErrorDetail, ...] | Malformed:
    code = fields.get("ErrorCode", "").strip()
    if not code:
        return ()
    if not code.isdigit():
        return Malformed("ErrorCode", f"{code!r} is not a number", fields)
    message = fields.get("ErrorMessage") or None
    number = int(code)
    return (ErrorDetail(code=number, title=message or title(number), message=message),)


def _inbound(
    fields: dict[str, str], sid: str, sender: str, ours: str, at: datetime
) -> list[ChannelEvent]:
    """A message a person sent: From is theirs, To is our number."""
    broken = _not_e164("From", sender, fields)
    if broken is not None:
        return [broken]
    media = _media(fields)
    if isinstance(media, Malformed):
        return [media]
    message = InboundMessage(
        account=ours,
        external_id=sid,
        sender=Sender(address=sender, phone_id=sender),
        timestamp=at,
        kind=media.kind if media else "text",
        text=fields.get("Body") or None,
        media=media,
        raw=fields,
    )
    if fields.get("OptOutType", "").upper() != "STOP":
        return [message]
    return [message, _provider_stop(ours, sender, sid, at)]


def _provider_stop(ours: str, sender: str, sid: str, at: datetime) -> Suppression:
    return Suppression(
        account=ours,
        address=sender,
        reason=SuppressionReason.CARRIER_OPT_OUT,
        timestamp=at,
        detail="provider opt-out: STOP",
        reference=sid,
    )


def _media(fields: dict[str, str]) -> MediaRef | Malformed | None:
    """The first attachment of an MMS (the others stay in raw as MediaUrl1…)."""
    count = fields.get("NumMedia", "0").strip() or "0"
    if not count.isdigit():
        return Malformed("NumMedia", f"{count!r} is not a number", fields)
    if int(count) == 0:
        return None
    url = fields.get("MediaUrl0", "")
    if not url:
        return Malformed("MediaUrl0", f"NumMedia is {count} but MediaUrl0 is missing", fields)
    mime = fields.get("MediaContentType0") or None
    return MediaRef(kind=_media_kind(mime), url=url, mime_type=mime)


def _media_kind(mime: str | None) -> str:
    major = (mime or "").split("/", 1)[0].lower()
    return major if major in _MEDIA_KINDS else "document"
