"""Messenger and Instagram webhook bodies, shaped like the platform's (and the fixtures in
/work/shared/fixtures/{messenger,instagram}): `{"object": "page"|"instagram", "entry": [{"id",
"time", "messaging": [{"sender", "recipient", "timestamp", <event>}]}]}`, times in ms.

Events from a person have sender = the person, recipient = the account; echoes and receipts
of the business's own messages have sender = the account, as Meta sends them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from threadline.emulator.hooks import WebhookSender
from threadline.emulator.meta_messaging import (
    MESSENGER,
    MetaAccount,
    MetaPerson,
    PostComment,
    Sent,
    SubscriptionToken,
    ms,
)


def envelope(account: MetaAccount, event: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {
        "object": account.object,
        "entry": [{"id": account.id, "time": ms(at), "messaging": [event]}],
    }


def comment_change(account: MetaAccount, comment: PostComment, username: str) -> dict[str, Any]:
    """A `comments` change (Instagram): feed-style, timed by the entry's `time` in seconds."""
    value = {
        "from": {"id": comment.person_id, "username": username},
        "media": {"id": comment.media_id, "media_product_type": "FEED"},
        "id": comment.id,
        "text": comment.text,
    }
    return {
        "object": account.object,
        "entry": [
            {
                "id": account.id,
                "time": int(comment.at.timestamp()),
                "changes": [{"field": "comments", "value": value}],
            }
        ],
    }


def from_person(
    account: MetaAccount, person: MetaPerson, at: datetime, **event: Any
) -> dict[str, Any]:
    """A webhook about something the person did."""
    item = {"sender": {"id": person.id}, "recipient": {"id": account.id}, "timestamp": ms(at)}
    return envelope(account, {**item, **event}, at)


def _app_id(account: MetaAccount) -> int | str:
    # Meta sends app_id as a number; keep a non-numeric test id as it was given.
    return int(account.app_id) if account.app_id.isdigit() else account.app_id


def echo(account: MetaAccount, person: MetaPerson, sent: Sent) -> dict[str, Any]:
    """`message_echoes` (Instagram: on the `messages` field): what the account sent."""
    message: dict[str, Any] = sent.entry.get("message") or {}
    echoed: dict[str, Any] = {"mid": sent.mid, "is_echo": True, "app_id": _app_id(account)}
    if message.get("metadata") is not None:
        echoed["metadata"] = message["metadata"]
    if message.get("text") is not None:
        echoed["text"] = message["text"]
    if message.get("attachment") is not None:
        echoed["attachments"] = [message["attachment"]]
    if message.get("quick_replies") is not None:
        echoed["quick_replies"] = message["quick_replies"]
    if message.get("reply_to") is not None:
        echoed["reply_to"] = message["reply_to"]
    event = {
        "sender": {"id": account.id},
        "recipient": {"id": person.id},
        "timestamp": ms(sent.at),
        "message": echoed,
    }
    return envelope(account, event, sent.at)


def delivery(account: MetaAccount, person: MetaPerson, sent: Sent, at: datetime) -> dict[str, Any]:
    """`message_deliveries`: everything sent up to the watermark has arrived."""
    receipt = {"mids": [sent.mid], "watermark": ms(sent.at)}
    return from_person(account, person, at, delivery=receipt)


def read(account: MetaAccount, person: MetaPerson, sent: Sent, at: datetime) -> dict[str, Any]:
    """Messenger `message_reads` carry a watermark; Instagram `messaging_seen` names the mid."""
    if account.kind == MESSENGER:
        return from_person(account, person, at, read={"watermark": ms(sent.at)})
    return from_person(account, person, at, read={"mid": sent.mid})


def schedule_receipts(
    hooks: WebhookSender, account: MetaAccount, person: MetaPerson, sent: Sent
) -> None:
    """After an accepted message: the echo, then (Messenger) the delivery, then the read.
    Instagram has no delivery webhook. Delays are the account's, in wall seconds; event
    timestamps advance by the same amount of emulator time."""

    def later(seconds: float) -> datetime:
        return sent.at + timedelta(seconds=seconds)

    hooks.schedule(account, echo(account, person, sent), account.echo_delay)
    if account.kind == MESSENGER:
        at = later(account.delivery_delay)
        hooks.schedule(account, delivery(account, person, sent, at), account.delivery_delay)
    if person.reads:
        at = later(account.read_delay)
        hooks.schedule(account, read(account, person, sent, at), account.read_delay)


def optin_event(token: SubscriptionToken, *, stopped: bool = False) -> dict[str, Any]:
    """`messaging_optins` of type notification_messages: the token, or its STOP."""
    optin: dict[str, Any] = {
        "type": "notification_messages",
        "payload": token.payload,
        "notification_messages_token": token.token,
        "notification_messages_frequency": token.frequency,
        "notification_messages_timezone": token.timezone,
        "token_expiry_timestamp": ms(token.expires_at),
        "user_token_status": "NOT_REFRESHED",
        "title": token.title,
    }
    if stopped:
        optin["notification_messages_status"] = "STOP_NOTIFICATIONS"
    return optin


REACTION_NAMES = {
    "❤": "love",
    "❤️": "love",
    "😆": "smile",
    "😄": "smile",
    "😠": "angry",
    "😢": "sad",
    "😮": "wow",
    "👍": "like",
    "👎": "dislike",
}


def reaction(mid: str, emoji: str | None) -> dict[str, Any]:
    """`message_reactions`: a reaction by name and emoji, or its removal (no emoji)."""
    if not emoji:
        return {"mid": mid, "action": "unreact"}
    return {
        "mid": mid,
        "action": "react",
        "reaction": REACTION_NAMES.get(emoji, "other"),
        "emoji": emoji,
    }
