"""Parse Messenger and Instagram messaging webhooks into channel-neutral events.

Both platforms share one envelope, told apart by `object` ("page" or "instagram"):
`{"object", "entry": [{"id": <account>, "time", "messaging": [<item>], "standby": [<item>]}]}`
where each item is `{sender:{id}, recipient:{id}, timestamp (ms), <one event key>}`.

A body that is not the expected channel's notification raises WebhookFormatError (HTTP 400).
One broken item becomes a `Malformed` event and the rest is still processed: a single odd item
must not cost the others in the same delivery.

Choices this parser makes (the tests pin each one):
- A message with several attachments becomes one InboundMessage per attachment: the first keeps
  the platform's `mid`, the n-th (n > 0) gets `mid#n`, so every image of an album is stored and
  deduplicated on its own while replies and reactions (which name the plain mid) find the first.
- `standby` items (events for an app that does not own the thread, under Conversation Routing
  or the Handover protocol) become `ThreadControl(action="standby")` for the person, and their
  content is not parsed: another app is answering, so nothing here may start a reply.
- An item whose `recipient` is not the entry's account is Malformed: it cannot be routed to an
  account with confidence. An echo must have the account on one side; the person is the other.
- Timestamps below 10**11 are read as seconds (some captures carry seconds; in milliseconds
  they would fall in 1973), everything else as milliseconds.
- Reactions carry no id of their own: `reaction:<person>:<timestamp as sent>` is stable across
  redeliveries and distinct between a react and its later unreact. Postbacks without `mid` get
  `postback:<person>:<timestamp as sent>` the same way.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

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
    Referral,
    Sender,
    StatusWatermark,
    SubscriptionChange,
    ThreadControl,
    Unhandled,
)
from threadline.channels.meta.comments import parse_changes
from threadline.channels.parsing import MessageContent

# Page-scoped (PSID) and Instagram-scoped (IGSID) ids are decimal digits.
_SCOPED_ID = re.compile(r"^\d{1,32}$")
# Below this a timestamp is seconds: as milliseconds it would be before March 1973.
_SECONDS_LIMIT = 10**11
# Messenger's Like button sends a sticker in three sizes (how long the person held it).
THUMBS_UP_STICKERS = frozenset({369239263222822, 369239343222814, 369239383222810})
STORY_MENTION_TEXT = "Mentioned you in their story"
MEDIA_KINDS = {"image": "image", "video": "video", "audio": "audio", "file": "document"}
SUBSCRIPTION_STATUSES = {
    None: "granted",
    "RESUME_NOTIFICATIONS": "resumed",
    "STOP_NOTIFICATIONS": "stopped",
}
# Keys every item carries besides its one event key.
_ITEM_KEYS = frozenset({"sender", "recipient", "timestamp"})

Broken = (KeyError, TypeError, ValueError)


def parse(payload: Any, *, expected_object: str) -> list[ChannelEvent]:
    """Neutral events of a verified body; `expected_object` is "page" or "instagram"."""
    if not isinstance(payload, dict) or payload.get("object") != expected_object:
        raise WebhookFormatError(f"object must be {expected_object!r}")
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise WebhookFormatError("entry must be a list")
    events: list[ChannelEvent] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise WebhookFormatError("each entry must be an object")
        events.extend(_parse_entry(entry, comments=expected_object == "instagram"))
    return events


def _parse_entry(entry: dict[str, Any], *, comments: bool) -> list[ChannelEvent]:
    account = _account_id(entry.get("id"))
    if account is None:
        return [Malformed("entry", "entry has no account id", entry)]
    events: list[ChannelEvent] = []
    for where in ("messaging", "standby"):
        items = entry.get(where)
        if items is None:
            continue
        if not isinstance(items, list):
            events.append(Malformed(where, f"{where} is not a list", entry))
            continue
        for item in items:
            events.extend(_parse_item(account, item, where))
    events.extend(parse_changes(account, entry, comments))
    return events


def _account_id(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value) or None


# -- one messaging item ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Item:
    account: str
    body: dict[str, Any]
    timestamp: datetime
    stamp: int  # the timestamp as sent, for synthetic ids that must survive redelivery

    def sender(self) -> Sender:
        """The person who acted (sender.id, validated)."""
        return _person(_side(self.body, "sender"), "sender")

    def person(self) -> Sender:
        """The person on the other side of the account: for an echo that is whichever of
        sender / recipient is not the account (captured echoes have them either way round)."""
        if not _is_echo(self.body):
            return self.sender()
        sender, recipient = _side(self.body, "sender"), _side(self.body, "recipient")
        if self.account not in (sender, recipient):
            raise ValueError(f"echo involves neither side as the account {self.account}")
        other = recipient if sender == self.account else sender
        return _person(other, "recipient" if sender == self.account else "sender")

    def optional_sender(self) -> Sender | None:
        return None if _side(self.body, "sender") is None else self.sender()


def _side(body: dict[str, Any], key: str) -> str | None:
    found = body.get(key)
    if not isinstance(found, dict) or found.get("id") is None:
        return None
    value = found["id"]
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""


def _person(psid: str | None, role: str) -> Sender:
    if psid is None:
        raise ValueError(f"event has no {role} id")
    if not _SCOPED_ID.match(psid):
        raise ValueError(f"{role} id {psid!r} is not a numeric id")
    return Sender(address=psid, user_id=psid)


def _is_echo(body: dict[str, Any]) -> bool:
    message = body.get("message")
    return isinstance(message, dict) and bool(message.get("is_echo"))


def _stamp(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise ValueError(f"invalid timestamp {value!r}")
    return int(value)


def _when(value: Any) -> datetime:
    """Milliseconds since the epoch (or seconds, see the module notes) → aware UTC."""
    number = _stamp(value)
    if number < _SECONDS_LIMIT:
        return datetime.fromtimestamp(number, tz=UTC)
    # Integer arithmetic keeps the milliseconds exact (a float division would not).
    seconds, millis = divmod(number, 1000)
    return datetime.fromtimestamp(seconds, tz=UTC) + timedelta(milliseconds=millis)


def _parse_item(account: str, raw: Any, where: str) -> list[ChannelEvent]:
    if not isinstance(raw, dict):
        return [Malformed(where, "event is not an object", {"event": raw})]
    try:
        stamp = _stamp(raw.get("timestamp"))
        item = _Item(account, raw, _when(stamp), stamp)
        _check_recipient(item)
        if where == "standby":
            return [ThreadControl(account, item.person(), item.timestamp, "standby")]
        return _dispatch(item)
    except Broken as exc:
        reason = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        return [Malformed(where, reason, raw)]


def _check_recipient(item: _Item) -> None:
    if _is_echo(item.body):
        return  # checked by _Item.person(): the account is the sender there
    recipient = _side(item.body, "recipient")
    if recipient is not None and recipient != item.account:
        raise ValueError(f"recipient {recipient} is not the entry's account {item.account}")


def _dispatch(item: _Item) -> list[ChannelEvent]:
    for key, handler in HANDLERS.items():
        if key in item.body:
            body = item.body[key]
            if not isinstance(body, dict):
                raise ValueError(f"{key} is not an object")
            return handler(item, body)
    other = sorted(set(item.body) - _ITEM_KEYS)
    who = _side(item.body, "sender") or "unknown sender"
    if not other:
        return [Unhandled("messaging", f"event from {who} carries no known payload")]
    return [Unhandled(other[0], f"{other[0]} event from {who}")]


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _dict_or_none(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


# -- messages -------------------------------------------------------------------------------
def _message(item: _Item, body: dict[str, Any]) -> list[ChannelEvent]:
    mid = body.get("mid")
    if not mid:
        raise ValueError("message has no mid")
    if body.get("is_echo"):
        return [_echo(item, body, str(mid))]
    sender = item.sender()
    if body.get("is_deleted"):
        return [MessageDeleted(item.account, sender, str(mid), item.timestamp)]
    reply = _dict_or_none(body.get("reply_to")) or {}
    story = _dict_or_none(reply.get("story"))
    replied_story = {"id": story.get("id"), "url": story.get("url")} if story else None
    return [
        InboundMessage(
            account=item.account,
            external_id=str(mid) if n == 0 else f"{mid}#{n}",
            sender=sender,
            timestamp=item.timestamp,
            kind=part.kind,
            text=part.text,
            payload=part.payload,
            media=part.media,
            location=part.location,
            reply_to=_opt_str(reply.get("mid")),
            referral=_dict_or_none(body.get("referral")),
            story=part.story or replied_story,
            raw=item.body,
        )
        for n, part in enumerate(_contents(body))
    ]


def _echo(item: _Item, body: dict[str, Any], mid: str) -> Echo:
    first = _contents(body)[0]
    return Echo(
        account=item.account,
        external_id=mid,
        recipient=item.person().address,
        timestamp=item.timestamp,
        text=first.text,
        app_id=_opt_str(body.get("app_id")),
        kind=first.kind,
    )


def _contents(body: dict[str, Any]) -> list[MessageContent]:
    """One content per attachment (at least one); the person's own words go on the first."""
    text = _opt_str(body.get("text"))
    attachments = body.get("attachments")
    if isinstance(attachments, list) and attachments:
        parts = [_attachment(a) for a in attachments]
        parts[0] = dataclasses.replace(parts[0], text=text or parts[0].text)
        return parts
    if attachments is not None and not isinstance(attachments, list):
        raise ValueError("message attachments is not a list")
    quick = _dict_or_none(body.get("quick_reply"))
    if quick is not None:
        return [MessageContent("quick_reply", text, payload=_opt_str(quick.get("payload")))]
    if body.get("is_unsupported"):
        return [MessageContent("unsupported", text)]
    return [MessageContent("text" if text is not None else "unknown", text)]


def _attachment(attachment: Any) -> MessageContent:
    if not isinstance(attachment, dict):
        raise ValueError("attachment is not an object")
    kind = str(attachment.get("type") or "unknown")
    payload = _dict_or_none(attachment.get("payload")) or {}
    # Older captures put url and title beside the payload rather than inside it.
    url = _opt_str(payload.get("url") or attachment.get("url"))
    title = _opt_str(payload.get("title") or attachment.get("title"))
    if kind == "image" and "sticker_id" in payload:
        return _sticker(payload, url)
    if kind in MEDIA_KINDS:
        return MessageContent(MEDIA_KINDS[kind], media=MediaRef(kind=MEDIA_KINDS[kind], url=url))
    if kind == "location":
        return MessageContent("location", location=_coordinates(payload))
    if kind == "fallback":  # a shared link: keep where it points
        return MessageContent("link", text=title, media=MediaRef(kind="link", url=url))
    if kind in ("ig_reel", "reel"):
        return MessageContent("reel", text=title, media=MediaRef(kind="reel", url=url))
    if kind == "story_mention":
        # The URL dies with the story: the text says what the message meant.
        story = {"url": url} | ({"id": str(payload["id"])} if payload.get("id") else {})
        return MessageContent("story_mention", text=STORY_MENTION_TEXT, story=story)
    if kind == "like_heart":
        return MessageContent("like_heart", text="❤️")
    # share, template, ...: not understood yet, but keep what can be shown.
    return MessageContent(kind, text=title, media=MediaRef(kind=kind, url=url) if url else None)


def _sticker(payload: dict[str, Any], url: str | None) -> MessageContent:
    media = MediaRef(kind="sticker", url=url)
    if payload.get("sticker_id") in THUMBS_UP_STICKERS:
        return MessageContent("like", text="👍", media=media)
    return MessageContent("sticker", media=media)


def _coordinates(payload: dict[str, Any]) -> dict[str, Any]:
    found = _dict_or_none(payload.get("coordinates")) or {}
    lat, long = found.get("lat"), found.get("long")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, long)):
        raise ValueError("location attachment has no numeric coordinates")
    return {"latitude": lat, "longitude": long}


# -- other events ---------------------------------------------------------------------------
def _postback(item: _Item, body: dict[str, Any]) -> list[ChannelEvent]:
    sender = item.sender()
    mid = body.get("mid")
    return [
        InboundMessage(
            account=item.account,
            external_id=str(mid) if mid else f"postback:{sender.address}:{item.stamp}",
            sender=sender,
            timestamp=item.timestamp,
            kind="postback",
            text=_opt_str(body.get("title")),
            payload=_opt_str(body.get("payload")),
            referral=_dict_or_none(body.get("referral")),
            raw=item.body,
        )
    ]


def _referral(item: _Item, body: dict[str, Any]) -> list[ChannelEvent]:
    return [
        Referral(
            account=item.account,
            sender=item.sender(),
            timestamp=item.timestamp,
            source=str(body.get("source") or ""),
            ref=_opt_str(body.get("ref")),
            ad_id=_opt_str(body.get("ad_id")),
            raw=item.body,
        )
    ]


def _optin(item: _Item, body: dict[str, Any]) -> list[ChannelEvent]:
    kind = body.get("type")
    if kind == "notification_messages":
        return [_subscription(item, body)]
    if kind is not None:  # one_time_notif_req (retired) and anything newer
        return [Unhandled("optin", f"optin type {kind}")]
    # Checkbox / send-to-Messenger plugin: the person may be known only by user_ref.
    found = _dict_or_none(item.body.get("sender")) or {}
    return [
        PluginOptIn(
            account=item.account,
            timestamp=item.timestamp,
            ref=_opt_str(body.get("ref")),
            user_ref=_opt_str(body.get("user_ref") or found.get("user_ref")),
            sender=item.optional_sender(),
        )
    ]


def _subscription(item: _Item, body: dict[str, Any]) -> SubscriptionChange:
    status = body.get("notification_messages_status")
    if status not in SUBSCRIPTION_STATUSES:
        raise ValueError(f"unknown notification_messages_status {status!r}")
    expiry = body.get("token_expiry_timestamp")
    return SubscriptionChange(
        account=item.account,
        sender=item.sender(),
        timestamp=item.timestamp,
        status=SUBSCRIPTION_STATUSES[status],
        token=_opt_str(body.get("notification_messages_token")),
        expires_at=None if expiry is None else _when(expiry),
        topic=_opt_str(body.get("title")),
        frequency=_opt_str(body.get("notification_messages_frequency")),
        payload=_opt_str(body.get("payload")),
    )


def _watermark(status: str) -> Callable[[_Item, dict[str, Any]], list[ChannelEvent]]:
    def build(item: _Item, body: dict[str, Any]) -> list[ChannelEvent]:
        mids = body.get("mids")
        if not isinstance(mids, list):
            mids = [body["mid"]] if body.get("mid") else []
        mark = body.get("watermark")
        return [
            StatusWatermark(
                account=item.account,
                recipient=item.sender().address,  # the person who received / read
                status=status,
                # Instagram's read names one `mid` and no watermark: seen when it says so.
                watermark=item.timestamp if mark is None else _when(mark),
                mids=tuple(str(m) for m in mids),
            )
        ]

    return build


def _reaction(item: _Item, body: dict[str, Any]) -> list[ChannelEvent]:
    sender = item.sender()
    if not body.get("mid"):
        raise ValueError("reaction has no mid")
    emoji = "" if body.get("action") == "unreact" else str(body.get("emoji") or "")
    return [
        InboundMessage(
            account=item.account,
            external_id=f"reaction:{sender.address}:{item.stamp}",
            sender=sender,
            timestamp=item.timestamp,
            kind="reaction",
            text=emoji,
            payload=str(body["mid"]),
            raw=item.body,
        )
    ]


def _handover(action: str, app_key: str) -> Callable[[_Item, dict[str, Any]], list[ChannelEvent]]:
    def build(item: _Item, body: dict[str, Any]) -> list[ChannelEvent]:
        app_id = _opt_str(body.get(app_key))
        return [ThreadControl(item.account, item.sender(), item.timestamp, action, app_id)]

    return build


def _policy(item: _Item, body: dict[str, Any]) -> list[ChannelEvent]:
    # Sent about the account itself: there is no sender.
    action = body.get("action")
    if not action:
        raise ValueError("policy enforcement has no action")
    return [
        PolicyEnforcement(item.account, item.timestamp, str(action), _opt_str(body.get("reason")))
    ]


# The first of these keys an item carries decides what it is.
HANDLERS: dict[str, Callable[[_Item, dict[str, Any]], list[ChannelEvent]]] = {
    "message": _message,
    "postback": _postback,
    "referral": _referral,
    "optin": _optin,
    "delivery": _watermark("delivered"),
    "read": _watermark("read"),
    "messaging_seen": _watermark("read"),
    "reaction": _reaction,
    "pass_thread_control": _handover("pass", "new_owner_app_id"),
    "take_thread_control": _handover("take", "new_owner_app_id"),
    "request_thread_control": _handover("request", "requested_owner_app_id"),
    "policy_enforcement": _policy,
    "policy-enforcement": _policy,
}
