"""Turn channel-neutral content into the exact body of `POST /v1/message` on the MSP gateway.

The body names the person (`destinationId`, their opaque id); the client adds the business
(`sourceId`) and, when the body has none, a fresh message `id`. A message that answers one of
ours (`envelope.callback_data`) gets an id derived from it, so a retry is the same message.

Choices: 2 to 5 short ones become a quick reply, more (or a list) a list picker, and beyond
what a picker holds inline (interactive data over 10 KB travels by reference, not built)
numbered text. A link becomes a rich link, a location a rich link to Apple Maps. Every limit
is checked here, before any HTTP call."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from threadline.channels import messages as m
from threadline.channels import products
from threadline.channels.adapter import Envelope, RenderError
from threadline.channels.apple.declaration import (
    APPLE,
    INTERACTIVE_INLINE_MAX,
    LIST_ROW_TITLE_MAX,
    LIST_ROWS_MAX,
    QUICK_REPLIES_MAX,
    QUICK_REPLIES_MIN,
    QUICK_REPLY_TITLE_MAX,
    TEXT_MAX,
)

__all__ = ["BID", "EventLocation", "RenderError", "TimeSlot", "render", "time_picker"]

# The Messages extension that shows Apple's own interactive messages (pickers, quick replies).
BID = (
    "com.apple.messages.MSMessageExtensionBalloonPlugin:0000000000:"
    "com.apple.icloud.apps.messages.business.extension"
)
INTERACTIVE_VERSION = "1.0"
BUBBLE_STYLE = "icon"  # receivedMessage / replyMessage: icon, small or large
MAPS_URL = "https://maps.apple.com/"
ADDRESS_MAX = 1000  # a sanity bound on the person's opaque id, not Apple's
# Ids derived from our message id live in a namespace of their own.
_NAMESPACE = uuid.UUID("e3a4eceb-f2a5-4fd8-b958-212f7cfab449")
TITLE = "Apple Messages for Business"


# -- what the neutral content does not have yet ----------------------------------------------
@dataclass(frozen=True, slots=True)
class TimeSlot:
    """One time a person may pick."""

    identifier: str
    start: datetime  # timezone-aware
    duration: timedelta


@dataclass(frozen=True, slots=True)
class EventLocation:
    """Where the event of a time picker is (shown on a map above the times)."""

    latitude: float
    longitude: float
    title: str
    radius_meters: float = 100.0


# -- checks -----------------------------------------------------------------------------------
def _limit(where: str, value: str | None, maximum: int, *, required: bool = False) -> None:
    if value is None or value == "":
        if required:
            raise RenderError(where, "must not be empty")
        return
    if len(value) > maximum:
        raise RenderError(where, f"is {len(value)} characters; {TITLE} takes {maximum} here")


def _unique(where: str, ids: Sequence[str]) -> None:
    if any(not i for i in ids):
        raise RenderError(where, "every choice needs an id")
    if len(set(ids)) != len(ids):
        raise RenderError(where, "ids must be unique")


def _uuid(kind: str, seed: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{seed}")).upper()


def message_id(callback_data: str) -> str:
    """The gateway message id of one of our messages: the same on every retry."""
    return _uuid("message", callback_data)


def request_identifier(envelope: Envelope, content: Any) -> str:
    """`data.requestIdentifier` of an interactive message. With our message id it is the
    message's own gateway id, so the person's answer (which echoes it) names the message it
    answers; without, it comes from the content and the person. A retry renders the same."""
    if envelope.callback_data:
        return message_id(envelope.callback_data)
    shown = json.dumps(content, sort_keys=True, default=str)
    return _uuid("request", f"{envelope.to}:{shown}")


# -- the body ---------------------------------------------------------------------------------
def render(content: m.Content, envelope: Envelope) -> dict[str, Any]:
    """The JSON body for `POST {gateway}/v1/message`."""
    _limit("to", envelope.to, ADDRESS_MAX, required=True)
    if isinstance(content, m.TimePicker):
        return _time_picker(content, envelope)
    if isinstance(content, m.ProductMessage | m.ProductListMessage):
        content = products.shown(content, APPLE.capabilities)  # numbered, prices and links
    body: dict[str, Any] = {"v": 1, **_message(content, envelope)}
    return _addressed(body, envelope)


def _time_picker(content: m.TimePicker, envelope: Envelope) -> dict[str, Any]:
    """The neutral picker as Apple's own, shown in the event's time zone (its offset at the
    first slot: Apple takes one offset per event)."""
    slots = [
        TimeSlot(slot.id, slot.start, timedelta(minutes=slot.duration_minutes))
        for slot in content.slots
    ]
    offset = content.slots[0].start.astimezone(ZoneInfo(content.timezone)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else None
    return time_picker(content.body, slots, envelope, timezone_offset_minutes=minutes)


def _addressed(body: dict[str, Any], envelope: Envelope) -> dict[str, Any]:
    body["destinationId"] = envelope.to
    # Typing is no message of ours: it never takes the id of the message it comes before.
    if envelope.callback_data and not body["type"].startswith("typing_"):
        body["id"] = message_id(envelope.callback_data)
    return body


def _message(content: m.Content, envelope: Envelope) -> dict[str, Any]:
    if isinstance(content, m.Text):
        return _text(content.body, "body")
    if isinstance(content, m.Buttons):
        return _buttons(content, envelope)
    if isinstance(content, m.ListMessage):
        return _list(content, envelope)
    if isinstance(content, m.Cards):
        return _cards(content, envelope)
    if isinstance(content, m.CtaUrl):
        return _cta(content)
    if isinstance(content, m.Location):
        return _location(content)
    if isinstance(content, m.LocationRequest):
        # Apple has no "share your location" request; the person shares from Messages.
        return _text(content.body, "body")
    if isinstance(content, m.Typing):
        return {"type": "typing_start" if content.on else "typing_end"}
    if isinstance(content, m.Media):
        raise RenderError("media", "Apple attachments need the preUpload flow, not built")
    raise RenderError("type", f"{TITLE} cannot send {type(content).__name__}")


def _text(text: str, where: str) -> dict[str, Any]:
    _limit(where, text, TEXT_MAX, required=True)
    return {"type": "text", "body": text}


def _said(header: str | None, body: str, footer: str | None) -> str:
    return "\n\n".join(part for part in (header, body, footer) if part)


def _numbered(said: str, titles: Sequence[str]) -> dict[str, Any]:
    """Choices the picker cannot hold, said as text (answered by number or title)."""
    lines = "\n".join(f"{n}. {title}" for n, title in enumerate(titles, start=1))
    return _text(f"{said}\n\n{lines}\n\nReply with a number.", "choices")


# -- choices ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Item:
    id: str
    title: str
    subtitle: str | None = None


@dataclass(frozen=True, slots=True)
class _Section:
    title: str | None
    items: tuple[_Item, ...]


def _buttons(content: m.Buttons, envelope: Envelope) -> dict[str, Any]:
    _limit("body", content.body, TEXT_MAX, required=True)
    if not content.buttons:
        raise RenderError("buttons", "there must be at least one")
    _unique("buttons", [b.id for b in content.buttons])
    for i, button in enumerate(content.buttons):
        _limit(f"buttons[{i}].title", button.title, TEXT_MAX, required=True)
    items = tuple(_Item(b.id, b.title) for b in content.buttons)
    said = _said(content.header, content.body, content.footer)
    fits = all(len(item.title) <= QUICK_REPLY_TITLE_MAX for item in items)
    if QUICK_REPLIES_MIN <= len(items) <= QUICK_REPLIES_MAX and fits:
        quick = _quick_reply(said, items, envelope)
        if quick is not None:
            return quick
    picker = _picker(content.body, content.footer, (_Section(None, items),), envelope)
    return picker or _numbered(said, [item.title for item in items])


def _list(content: m.ListMessage, envelope: Envelope) -> dict[str, Any]:
    _limit("body", content.body, TEXT_MAX, required=True)
    rows = [row for section in content.sections for row in section.rows]
    if not rows:
        raise RenderError("sections", "there must be at least one row")
    _unique("sections", [row.id for row in rows])
    sections = []
    for s, section in enumerate(content.sections):
        for r, row in enumerate(section.rows):
            _limit(f"sections[{s}].rows[{r}].title", row.title, TEXT_MAX, required=True)
        items = tuple(_Item(row.id, row.title, row.description) for row in section.rows)
        sections.append(_Section(section.title, items))
    subtitle = content.footer or content.button
    picker = _picker(content.body, subtitle, tuple(sections), envelope)
    said = _said(content.header, content.body, content.footer)
    return picker or _numbered(said, [row.title for row in rows])


def _cards(content: m.Cards, envelope: Envelope) -> dict[str, Any]:
    """No carousel: cards that are a choice (one answer each, nothing to open) become a list
    picker answering with the same ids; anything else is said as text with its links."""
    for i, card in enumerate(content.cards):
        _limit(f"cards[{i}].title", card.title, TEXT_MAX, required=True)
        for j, button in enumerate(card.buttons):
            if (button.id is None) == (button.url is None):
                raise RenderError(f"cards[{i}].buttons[{j}]", "give exactly one of id or url")

    def answer(card: m.Card) -> str | None:
        only = card.buttons[0] if len(card.buttons) == 1 else None
        return only.id if only is not None and only.id and not card.url else None

    ids = [answer(card) for card in content.cards]
    if all(ids) and len(set(ids)) == len(ids):
        items = tuple(
            _Item(answer_id or "", card.title, card.subtitle)
            for answer_id, card in zip(ids, content.cards, strict=True)
        )
        picker = _picker(content.body or "Choose", None, (_Section(None, items),), envelope)
        if picker is not None:
            return picker
    return _text(_cards_text(content), "cards")


def _cards_text(content: m.Cards) -> str:
    blocks = [content.body] if content.body else []
    for n, card in enumerate(content.cards, start=1):
        lines = [f"{n}. {card.title}"]
        if card.subtitle:
            lines.append(card.subtitle)
        if card.url:
            lines.append(card.url)
        lines += [f"{b.title}: {b.url}" for b in card.buttons if b.url]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _interactive(data: dict[str, Any], bubbles: dict[str, Any]) -> dict[str, Any] | None:
    """The interactive message, or None when its data is too large to go inline."""
    interactive = {"bid": BID, "data": data, **bubbles}
    size = len(json.dumps(interactive, ensure_ascii=False, separators=(",", ":")).encode())
    if size > INTERACTIVE_INLINE_MAX:
        return None
    return {"type": "interactive", "interactiveData": interactive}


def _bubble(title: str, subtitle: str | None = None) -> dict[str, Any]:
    bubble: dict[str, Any] = {"title": title, "style": BUBBLE_STYLE}
    if subtitle:
        bubble["subtitle"] = subtitle
    return bubble


def _quick_reply(said: str, items: Sequence[_Item], envelope: Envelope) -> dict[str, Any] | None:
    data = {
        "version": INTERACTIVE_VERSION,
        "requestIdentifier": request_identifier(envelope, [said, [i.id for i in items]]),
        "quick-reply": {
            "summaryText": said,
            "items": [{"identifier": item.id, "title": item.title} for item in items],
        },
    }
    return _interactive(data, {})


def _picker(
    title: str, subtitle: str | None, sections: Sequence[_Section], envelope: Envelope
) -> dict[str, Any] | None:
    """A list picker, or None when Apple could not take it inline (too many or too long
    items, or too large)."""
    items = [item for section in sections for item in section.items]
    if len(items) > LIST_ROWS_MAX or any(len(i.title) > LIST_ROW_TITLE_MAX for i in items):
        return None
    rendered = []
    for s, section in enumerate(sections):
        out: dict[str, Any] = {"order": s, "multipleSelection": False, "items": []}
        if section.title:
            out["title"] = section.title
        for order, item in enumerate(section.items):
            row: dict[str, Any] = {
                "identifier": item.id,
                "title": item.title,
                "order": order,
                "style": "default",
            }
            if item.subtitle:
                row["subtitle"] = item.subtitle
            out["items"].append(row)
        rendered.append(out)
    data = {
        "version": INTERACTIVE_VERSION,
        "mspVersion": INTERACTIVE_VERSION,
        "requestIdentifier": request_identifier(envelope, [title, [i.id for i in items]]),
        "listPicker": {"sections": rendered},
    }
    bubbles = {"receivedMessage": _bubble(title, subtitle), "replyMessage": _bubble(title)}
    return _interactive(data, bubbles)


# -- links and places -------------------------------------------------------------------------
def _rich_link(url: str, title: str) -> dict[str, Any]:
    return {"type": "richLink", "richLinkData": {"url": url, "title": title, "assets": {}}}


def _cta(content: m.CtaUrl) -> dict[str, Any]:
    """A rich link: Apple shows the page's title line and domain, no button, so the body is
    the title and `display_text` is not shown."""
    _limit("body", content.body, TEXT_MAX, required=True)
    if not content.url.startswith(("https://", "http://")):
        raise RenderError("url", "must be an http(s) URL")
    return _rich_link(content.url, content.body)


def _location(content: m.Location) -> dict[str, Any]:
    point = f"{content.latitude},{content.longitude}"
    label = ", ".join(part for part in (content.name, content.address) if part)
    url = f"{MAPS_URL}?{urlencode({'ll': point, 'q': label or point}, safe=',')}"
    return _rich_link(url, label or "Location")


# -- the time picker (no neutral content kind yet) ---------------------------------------------
def _apple_time(at: datetime) -> str:
    """Apple's `startTime`: ISO 8601 to the minute, in UTC (`2026-03-11T15:00+0000`)."""
    if at.tzinfo is None:
        raise RenderError("timeslots", "start times must be timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M+0000")


def time_picker(
    title: str,
    slots: Sequence[TimeSlot],
    envelope: Envelope,
    *,
    subtitle: str | None = None,
    event_identifier: str | None = None,
    timezone_offset_minutes: int | None = None,
    location: EventLocation | None = None,
) -> dict[str, Any]:
    """The body of a time picker: the person picks one of `slots` (an appointment, a
    delivery time); their answer comes back as an interactive message whose payload is the
    slot's identifier. `timezone_offset_minutes` is the event's offset from UTC (Apple shows
    the times in it); the slots are sent in UTC.

    Not reachable from neutral content yet (there is no time-picker kind in
    `channels/messages.py`): a caller with slots uses this directly."""
    _limit("to", envelope.to, ADDRESS_MAX, required=True)
    _limit("title", title, TEXT_MAX, required=True)
    if not slots:
        raise RenderError("timeslots", "there must be at least one")
    _unique("timeslots", [slot.identifier for slot in slots])
    timeslots = []
    for i, slot in enumerate(slots):
        seconds = int(slot.duration.total_seconds())
        if seconds <= 0:
            raise RenderError(f"timeslots[{i}].duration", "must be positive")
        timeslots.append(
            {
                "identifier": slot.identifier,
                "startTime": _apple_time(slot.start),
                "duration": seconds,
            }
        )
    rid = request_identifier(envelope, [title, [t["identifier"] for t in timeslots]])
    event: dict[str, Any] = {
        "identifier": event_identifier or rid,
        "title": title,
        "timeslots": timeslots,
    }
    if timezone_offset_minutes is not None:
        if not -14 * 60 <= timezone_offset_minutes <= 14 * 60:
            raise RenderError("timezoneOffset", "must be within ±14 hours")
        event["timezoneOffset"] = timezone_offset_minutes
    if location is not None:
        event["location"] = {
            "latitude": location.latitude,
            "longitude": location.longitude,
            "radius": location.radius_meters,
            "title": location.title,
        }
    data = {
        "version": INTERACTIVE_VERSION,
        "mspVersion": INTERACTIVE_VERSION,
        "requestIdentifier": rid,
        "event": event,
    }
    bubbles = {"receivedMessage": _bubble(title, subtitle), "replyMessage": _bubble(title)}
    interactive = _interactive(data, bubbles)
    if interactive is None:
        raise RenderError("timeslots", "too many slots to send inline (10 KB of data)")
    return _addressed({"v": 1, **interactive}, envelope)
