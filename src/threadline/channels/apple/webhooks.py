"""What Apple's gateway posts to the MSP (`POST …/message`), as neutral events.

One request is one message: `{"v": 1, "id", "type", "sourceId" (the person's opaque id),
"destinationId" (the business), "body", "attachments", "interactiveData" |
"interactiveDataRef", "intent", "group", "locale"}`, with the same ids in the `id`,
`source-id` and `destination-id` headers. Apple's bodies carry no time, so events are dated
when they arrived.

- `text` → a text message; each attachment (an encrypted file: `url`, `key`, `owner`,
  `signature-base64`, `size`) → a media message whose `raw.attachment` keeps the descriptor
  needed to download and decrypt it (`/v1/preDownload`, not built).
- `interactive` → the person's answer to a list picker (`interactive/list_reply`), a quick
  reply (`quick_reply`, as on Messenger) or a time picker (`interactive/time_reply`): the
  payload is the chosen identifier(s), comma-joined when several, the text their titles.
  Interactive data over 10 KB arrives as `interactiveDataRef`, to be fetched and decrypted
  first (not built): kept in `raw`, kind `interactive`, no text. Other interactive answers
  (Apple Pay, authentication, forms) are kept the same way.
- `typing_start` / `typing_end` → Unhandled; `close` (the person closed or deleted the
  conversation) → a Suppression of the person on this business."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from threadline.channels.adapter import WebhookFormatError
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

# What Messages puts in `body` where each attachment sits.
OBJECT_REPLACEMENT = "\ufffc"
# Headers worth keeping with a message: what the device is and what it can show.
KEPT_HEADERS = ("device-agent", "capability-list")
LIST_REPLY = "interactive/list_reply"
QUICK_REPLY = "quick_reply"
TIME_REPLY = "interactive/time_reply"
INTERACTIVE = "interactive"


def _lowered(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _id(body: dict[str, Any], field: str, headers: dict[str, str], header: str) -> str:
    value = body.get(field) or headers.get(header)
    if not isinstance(value, str) or not value.strip():
        raise WebhookFormatError(f"no {field}: not an Apple Messages for Business message")
    return value.strip()


def parse(body: Any, headers: Mapping[str, str], received_at: datetime) -> list[ChannelEvent]:
    """The events of one delivery; raises WebhookFormatError when it is not Apple's."""
    if not isinstance(body, dict):
        raise WebhookFormatError("an Apple Messages for Business message is a JSON object")
    kind = body.get("type")
    if not isinstance(kind, str) or not kind:
        raise WebhookFormatError("no type: not an Apple Messages for Business message")
    if "v" in body and body["v"] != 1:
        raise WebhookFormatError(f"unsupported message version {body['v']!r}")
    lowered = _lowered(headers)
    message = _Message(
        id=_id(body, "id", lowered, "id"),
        person=_id(body, "sourceId", lowered, "source-id"),
        business=_id(body, "destinationId", lowered, "destination-id"),
        at=received_at,
        raw={
            "body": body,
            "headers": {h: lowered[h] for h in KEPT_HEADERS if h in lowered},
        },
    )
    if kind == "text":
        return message.text(body)
    if kind == "interactive":
        return [message.interactive(body)]
    if kind == "close":
        return [
            Suppression(
                account=message.business,
                address=message.person,
                reason=SuppressionReason.CLOSED,
                timestamp=received_at,
                detail="the person closed the conversation",
                reference=message.id,
            )
        ]
    if kind in ("typing_start", "typing_end"):
        return [Unhandled(field=kind, summary=f"{message.person} ({message.id})")]
    return [Unhandled(field=kind, summary=f"{kind} from {message.person} ({message.id})")]


class _Message:
    def __init__(
        self, id: str, person: str, business: str, at: datetime, raw: dict[str, Any]
    ) -> None:
        self.id = id
        self.person = person
        self.business = business
        self.at = at
        self.raw = raw

    def inbound(self, kind: str, external_id: str | None = None, **fields: Any) -> InboundMessage:
        fields.setdefault("raw", self.raw)
        return InboundMessage(
            account=self.business,
            external_id=external_id or self.id,
            sender=Sender(address=self.person, user_id=self.person),
            timestamp=self.at,
            kind=kind,
            **fields,
        )

    def text(self, body: dict[str, Any]) -> list[ChannelEvent]:
        said = body.get("body")
        attachments = body.get("attachments") or []
        if not isinstance(attachments, list):
            return [Malformed("attachments", "attachments is not a list", self.raw)]
        if said is not None and not isinstance(said, str):
            return [Malformed("body", "body is not text", self.raw)]
        text = (said or "").replace(OBJECT_REPLACEMENT, "").strip() or None
        if not attachments:
            if text is None:
                return [Malformed("body", "a text message without text", self.raw)]
            return [self.inbound("text", text=text)]
        events: list[ChannelEvent] = []
        for n, descriptor in enumerate(attachments):
            where = f"attachments[{n}]"
            media = _media(descriptor)
            if media is None:
                events.append(Malformed(where, "an attachment without url", self.raw))
                continue
            events.append(
                self.inbound(
                    media.kind,
                    # One message per attachment: the first keeps Apple's id and the text.
                    external_id=self.id if n == 0 else f"{self.id}:{n}",
                    text=text if n == 0 else None,
                    media=media,
                    raw={**self.raw, "attachment": descriptor},
                )
            )
        return events

    def interactive(self, body: dict[str, Any]) -> ChannelEvent:
        data = body.get("interactiveData")
        if data is None and isinstance(body.get("interactiveDataRef"), dict):
            # Large data by reference: fetching and decrypting it is not built.
            return self.inbound(INTERACTIVE)
        if not isinstance(data, dict) or not isinstance(data.get("data"), dict):
            return Malformed("interactiveData", "no interactiveData.data", self.raw)
        answer = data["data"]
        request = answer.get("requestIdentifier")
        reply_to = request if isinstance(request, str) and request else None
        kind, chosen = _chosen(answer)
        ids = [identifier for identifier, _ in chosen]
        titles = [title for _, title in chosen if title]
        said = body.get("body") if isinstance(body.get("body"), str) else None
        text = ", ".join(titles) or _bubble_title(data) or _clean(said)
        return self.inbound(kind, text=text, payload=",".join(ids) or None, reply_to=reply_to)


def _clean(text: str | None) -> str | None:
    return (text or "").replace(OBJECT_REPLACEMENT, "").strip() or None


def _bubble_title(data: dict[str, Any]) -> str | None:
    reply = data.get("replyMessage")
    title = reply.get("title") if isinstance(reply, dict) else None
    return title if isinstance(title, str) and title else None


def _chosen(answer: dict[str, Any]) -> tuple[str, list[tuple[str, str | None]]]:
    """The kind of answer and the (identifier, title) pairs the person chose."""
    if isinstance(answer.get("listPicker"), dict):
        sections = answer["listPicker"].get("sections") or []
        picked = [
            (str(item["identifier"]), _title(item))
            for section in sections
            if isinstance(section, dict)
            for item in section.get("items") or []
            if isinstance(item, dict) and item.get("identifier") is not None
        ]
        return LIST_REPLY, picked
    quick = answer.get("quick-reply")
    if isinstance(quick, dict):
        selected = quick.get("selectedIdentifier")
        if selected is None:
            return QUICK_REPLY, []
        items = [i for i in quick.get("items") or [] if isinstance(i, dict)]
        title = next((_title(i) for i in items if str(i.get("identifier")) == str(selected)), None)
        return QUICK_REPLY, [(str(selected), title)]
    event = answer.get("event")
    if isinstance(event, dict):
        slots = [s for s in event.get("timeslots") or [] if isinstance(s, dict)]
        picked = [
            (
                str(s["identifier"]),
                s.get("startTime") if isinstance(s.get("startTime"), str) else None,
            )
            for s in slots
            if s.get("identifier") is not None
        ]
        return TIME_REPLY, picked
    return INTERACTIVE, []


def _title(item: dict[str, Any]) -> str | None:
    title = item.get("title")
    return title if isinstance(title, str) and title else None


def _media(descriptor: Any) -> MediaRef | None:
    if not isinstance(descriptor, dict) or not isinstance(descriptor.get("url"), str):
        return None
    mime = descriptor.get("mimeType")
    mime = mime if isinstance(mime, str) and mime else None
    name = descriptor.get("name")
    return MediaRef(
        kind=_kind_of(mime),
        url=descriptor["url"],
        mime_type=mime,
        filename=name if isinstance(name, str) and name else None,
    )


def _kind_of(mime: str | None) -> str:
    family = (mime or "").partition("/")[0]
    return family if family in ("image", "video", "audio") else "document"
