"""Parse WhatsApp Cloud API webhook bodies into channel-neutral events.

A payload that is not a WhatsApp notification at all raises WebhookFormatError (HTTP 400).
One broken item inside a good payload becomes a `Malformed` event and the rest is processed:
a single odd message must not cost the others in the same delivery.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from threadline.channels.adapter import WebhookFormatError
from threadline.channels.events import (
    CartOrder,
    ChannelEvent,
    ErrorDetail,
    InboundMessage,
    Malformed,
    MarketingPreference,
    MediaRef,
    NumberQualityChange,
    OrderLine,
    PlatformErrors,
    Pricing,
    Sender,
    StatusUpdate,
    TemplateCategoryChange,
    TemplateQualityChange,
    TemplateStatusChange,
    Unhandled,
)
from threadline.channels.parsing import MessageContent

MEDIA_KINDS = frozenset({"image", "video", "audio", "document", "sticker", "voice"})
STATUSES = frozenset({"sent", "delivered", "read", "played", "failed"})
_PHONE_ID = re.compile(r"^\d{3,20}$")
# Business-scoped user ids: a region code, a dot, digits (e.g. US.13491208655302741918).
_USER_ID = re.compile(r"^[A-Z]{2}(\.ENT)?\.\d+$")


def _timestamp(value: Any) -> datetime:
    seconds = int(str(value))
    return datetime.fromtimestamp(seconds, tz=UTC)


def _errors(raw: Any) -> tuple[ErrorDetail, ...]:
    if not isinstance(raw, list):
        return ()
    out = []
    for item in raw:
        if not isinstance(item, dict) or "code" not in item:
            continue
        data = item.get("error_data") if isinstance(item.get("error_data"), dict) else {}
        out.append(
            ErrorDetail(
                code=int(item["code"]),
                title=str(item.get("title", "")),
                message=item.get("message"),
                details=(data or {}).get("details"),
            )
        )
    return tuple(out)


TEMPLATE_EVENTS = (TemplateStatusChange, TemplateCategoryChange, TemplateQualityChange)


def parse(payload: Any) -> list[ChannelEvent]:
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        raise WebhookFormatError("object must be 'whatsapp_business_account'")
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise WebhookFormatError("entry must be a list")
    events: list[ChannelEvent] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise WebhookFormatError("each entry must be an object")
        waba = str(entry.get("id", ""))
        notified_at = entry.get("time") if isinstance(entry.get("time"), int) else None
        for change in entry.get("changes") or []:
            if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                events.append(Malformed("changes", "change without a value object"))
                continue
            field = str(change.get("field", ""))
            for event in _parse_change(waba, field, change["value"]):
                if notified_at is not None and isinstance(event, TEMPLATE_EVENTS):
                    event = dataclasses.replace(event, notified_at=notified_at)
                events.append(event)
    return events


def _parse_change(waba: str, field: str, value: dict[str, Any]) -> Iterator[ChannelEvent]:
    if field == "messages":
        yield from _parse_messages_value(value)
    elif field == "user_preferences":
        yield from _parse_preferences(value)
    elif field == "message_template_status_update":
        yield _guard(field, value, lambda: _template_status(waba, value))
    elif field == "template_category_update":
        yield _guard(field, value, lambda: _template_category(waba, value))
    elif field == "message_template_quality_update":
        yield _guard(field, value, lambda: _template_quality(waba, value))
    elif field == "phone_number_quality_update":
        yield _guard(field, value, lambda: _number_quality(waba, value))
    else:
        event = value.get("event") or value.get("type") or ""
        yield Unhandled(field=field, summary=f"{field} {event}".strip())


def _guard(field: str, value: dict[str, Any], build: Any) -> ChannelEvent:
    try:
        event: ChannelEvent = build()
    except (KeyError, TypeError, ValueError) as exc:
        return Malformed(field, f"missing or invalid {exc}", value)
    return event


def _account(value: dict[str, Any]) -> str:
    metadata = value.get("metadata")
    return str(metadata.get("phone_number_id", "")) if isinstance(metadata, dict) else ""


def _parse_messages_value(value: dict[str, Any]) -> Iterator[ChannelEvent]:
    account = _account(value)
    profiles = _profiles(value.get("contacts"))
    for message in value.get("messages") or []:
        yield _message(account, message, profiles)
    for status in value.get("statuses") or []:
        yield _status(account, status)
    errors = _errors(value.get("errors"))
    if errors:
        yield PlatformErrors(account=account or None, errors=errors)


def _profiles(contacts: Any) -> dict[str, dict[str, Any]]:
    """Contacts keyed by every id they are known under."""
    out: dict[str, dict[str, Any]] = {}
    for contact in contacts if isinstance(contacts, list) else []:
        if not isinstance(contact, dict):
            continue
        for key in ("wa_id", "user_id"):
            if contact.get(key):
                out[str(contact[key])] = contact
    return out


def _sender(message: dict[str, Any], profiles: dict[str, dict[str, Any]]) -> Sender:
    phone = message.get("from")
    user_id = message.get("from_user_id")
    if phone is not None and not _PHONE_ID.match(str(phone)):
        if _USER_ID.match(str(phone)):
            user_id, phone = str(phone), None
        else:
            raise ValueError(f"sender id {phone!r} is neither a phone id nor a user id")
    if user_id is not None and not _USER_ID.match(str(user_id)):
        user_id = None  # a malformed optional id must not cost us the message
    if phone is None and user_id is None:
        raise ValueError("message has no sender (from / from_user_id)")
    profile = profiles.get(str(phone)) or profiles.get(str(user_id)) or {}
    details = profile.get("profile") if isinstance(profile.get("profile"), dict) else {}
    return Sender(
        address=str(phone or user_id),
        phone_id=str(phone) if phone else None,
        user_id=str(user_id) if user_id else None,
        name=(details or {}).get("name"),
        username=(details or {}).get("username"),
    )


def _message(
    account: str, message: Any, profiles: dict[str, dict[str, Any]]
) -> InboundMessage | Malformed:
    if not isinstance(message, dict):
        return Malformed("messages", "message is not an object")
    try:
        return _build_message(account, message, profiles)
    except (KeyError, TypeError, ValueError) as exc:
        return Malformed("messages", str(exc), message)


def _media(kind: str, body: dict[str, Any]) -> MessageContent:
    media = MediaRef(
        kind="audio" if kind == "voice" else kind,
        media_id=body.get("id"),
        mime_type=body.get("mime_type"),
        sha256=body.get("sha256"),
        url=body.get("url") or body.get("file"),
        filename=body.get("filename"),
        voice=bool(body.get("voice")) or kind == "voice",
        animated=bool(body.get("animated")),
    )
    return MessageContent(kind, text=body.get("caption"), media=media)


def _interactive(body: dict[str, Any]) -> MessageContent:
    sub = str(body.get("type", ""))
    # Meta sometimes sends an interactive message without its body (reported in
    # value.errors as "Unsupported webhook payload"): keep the plain kind then.
    kind = f"interactive/{sub}" if sub else "interactive"
    found_reply = body.get(sub)
    reply: dict[str, Any] = found_reply if isinstance(found_reply, dict) else {}
    return MessageContent(
        kind, text=reply.get("title") or reply.get("body"), payload=reply.get("id")
    )


def _content(kind: str, body: dict[str, Any]) -> MessageContent:
    if kind == "text":
        return MessageContent(kind, text=body.get("body"))
    if kind in MEDIA_KINDS:
        return _media(kind, body)
    if kind == "location":
        keys = ("latitude", "longitude", "name", "address", "url")
        return MessageContent(kind, location={k: body.get(k) for k in keys})
    if kind == "button":
        return MessageContent(kind, text=body.get("text"), payload=body.get("payload"))
    if kind == "interactive":
        return _interactive(body)
    if kind == "reaction":
        return MessageContent(kind, text=body.get("emoji") or "", payload=body.get("message_id"))
    if kind == "system":
        return MessageContent(f"system/{body.get('type', 'unknown')}", text=body.get("body"))
    if kind == "order":
        return MessageContent(kind, text=body.get("text") or None)
    return MessageContent(kind)


def _order(body: dict[str, Any]) -> CartOrder:
    """The cart a person sent: every line must name a product, a positive quantity and a
    price, or the whole order is malformed (half an order would bill the wrong total)."""
    items = body.get("product_items")
    if not isinstance(items, list) or not items:
        raise ValueError("order has no product_items")
    lines = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not item.get("product_retailer_id"):
            raise ValueError(f"order item {i} has no product_retailer_id")
        quantity = item.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise ValueError(f"order item {i} has an invalid quantity {quantity!r}")
        try:
            price = Decimal(str(item.get("item_price")))
        except InvalidOperation as exc:
            raise ValueError(f"order item {i} has an invalid item_price") from exc
        if not price.is_finite() or price < 0:
            raise ValueError(f"order item {i} has an invalid item_price")
        currency = str(item.get("currency") or "").upper()
        if len(currency) != 3:
            raise ValueError(f"order item {i} has no currency")
        lines.append(OrderLine(str(item["product_retailer_id"]), quantity, str(price), currency))
    catalog = body.get("catalog_id")
    return CartOrder(
        catalog_id=str(catalog) if catalog else None,
        lines=tuple(lines),
        text=body.get("text") or None,
    )


def _message_timestamp(message: dict[str, Any], external_id: Any) -> datetime:
    try:
        return _timestamp(message["timestamp"])
    except (KeyError, ValueError) as exc:
        raise ValueError(f"message {external_id} has an invalid timestamp") from exc


def _build_message(
    account: str, message: dict[str, Any], profiles: dict[str, dict[str, Any]]
) -> InboundMessage:
    external_id = message.get("id")
    if not external_id:
        raise ValueError("message has no id")
    timestamp = _message_timestamp(message, external_id)
    kind = str(message.get("type", "unknown"))
    found = message.get(kind)
    content = _content(kind, found if isinstance(found, dict) else {})
    order = _order(found if isinstance(found, dict) else {}) if kind == "order" else None
    found_context = message.get("context")
    context: dict[str, Any] = found_context if isinstance(found_context, dict) else {}
    return InboundMessage(
        account=account,
        external_id=str(external_id),
        sender=_sender(message, profiles),
        timestamp=timestamp,
        kind=content.kind,
        text=content.text,
        payload=content.payload,
        media=content.media,
        location=content.location,
        reply_to=(context or {}).get("id"),
        forwarded=bool(
            (context or {}).get("forwarded") or (context or {}).get("frequently_forwarded")
        ),
        referral=message.get("referral") if isinstance(message.get("referral"), dict) else None,
        errors=_errors(message.get("errors")),
        raw=message,
        order=order,
    )


def _pricing(raw: Any) -> Pricing | None:
    if not isinstance(raw, dict):
        return None
    billable = raw.get("billable")
    return Pricing(
        model=raw.get("pricing_model"),
        category=raw.get("category"),
        type=raw.get("type"),
        billable=bool(billable) if billable is not None else None,
    )


def _status(account: str, status: Any) -> StatusUpdate | Malformed | Unhandled:
    if not isinstance(status, dict):
        return Malformed("statuses", "status is not an object")
    value = str(status.get("status", ""))
    if value == "deleted":
        return Unhandled("statuses", f"status deleted for {status.get('id')}")
    if value not in STATUSES:
        return Malformed("statuses", f"unknown status {value!r}", status)
    try:
        timestamp = _timestamp(status["timestamp"])
    except (KeyError, ValueError):
        return Malformed("statuses", "status has an invalid timestamp", status)
    if not status.get("id"):
        return Malformed("statuses", "status has no message id", status)
    conversation = (
        status.get("conversation") if isinstance(status.get("conversation"), dict) else {}
    )
    origin = (conversation or {}).get("origin")
    return StatusUpdate(
        account=account,
        external_id=str(status["id"]),
        status=value,
        timestamp=timestamp,
        recipient=status.get("recipient_id") or status.get("recipient_user_id"),
        errors=_errors(status.get("errors")),
        pricing=_pricing(status.get("pricing")),
        conversation_id=(conversation or {}).get("id"),
        conversation_origin=origin.get("type") if isinstance(origin, dict) else None,
        callback_data=status.get("biz_opaque_callback_data"),
    )


def _parse_preferences(value: dict[str, Any]) -> Iterator[ChannelEvent]:
    account = _account(value)
    for item in value.get("user_preferences") or []:
        if not isinstance(item, dict) or item.get("category") != "marketing_messages":
            yield Unhandled("user_preferences", f"preference {item!r:.80}")
            continue
        try:
            yield MarketingPreference(
                account=account,
                address=str(item["wa_id"]),
                value=str(item["value"]),
                timestamp=_timestamp(item["timestamp"]),
                detail=item.get("detail"),
            )
        except (KeyError, ValueError) as exc:
            yield Malformed("user_preferences", f"missing or invalid {exc}", item)


def _template_status(waba: str, value: dict[str, Any]) -> TemplateStatusChange:
    detail: dict[str, Any] = {
        key: value[key]
        for key in ("rejection_info", "disable_info", "other_info", "title")
        if key in value
    }
    return TemplateStatusChange(
        account=waba,
        template_id=str(value["message_template_id"]),
        name=str(value["message_template_name"]),
        language=str(value["message_template_language"]),
        status=str(value["event"]),
        reason=value.get("reason"),
        category=value.get("message_template_category"),
        detail=detail,
    )


def _template_category(waba: str, value: dict[str, Any]) -> TemplateCategoryChange:
    return TemplateCategoryChange(
        account=waba,
        template_id=str(value["message_template_id"]),
        name=str(value["message_template_name"]),
        language=str(value["message_template_language"]),
        new_category=str(value["new_category"]),
        previous_category=value.get("previous_category"),
    )


def _template_quality(waba: str, value: dict[str, Any]) -> TemplateQualityChange:
    return TemplateQualityChange(
        account=waba,
        template_id=str(value["message_template_id"]),
        name=str(value["message_template_name"]),
        language=str(value["message_template_language"]),
        new_score=str(value["new_quality_score"]),
        previous_score=value.get("previous_quality_score"),
    )


def _number_quality(waba: str, value: dict[str, Any]) -> NumberQualityChange:
    daily = value.get("max_daily_conversations_per_business")
    return NumberQualityChange(
        account=waba,
        display_phone_number=str(value["display_phone_number"]),
        event=str(value["event"]),
        current_limit=value.get("current_limit"),
        old_limit=value.get("old_limit"),
        max_daily_conversations=int(daily)
        if isinstance(daily, int | str) and str(daily).isdigit()
        else None,
    )
