"""GET/POST /webhooks/whatsapp on the shared Meta receiver. WhatsApp names the number in
`metadata.phone_number_id`, and the business account (WABA) in `entry.id`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from threadline.channels.directory import KnownChannel
from threadline.channels.events import ChannelEvent, NumberQualityChange
from threadline.channels.meta.receiver import webhook_router
from threadline.channels.whatsapp.adapter import ADAPTER


def _referenced(payload: Any) -> tuple[set[str], set[str]]:
    """Phone-number ids and WABA ids a notification is about."""
    numbers: set[str] = set()
    accounts: set[str] = set()
    for entry in payload.get("entry") or [] if isinstance(payload, dict) else []:
        if not isinstance(entry, dict):
            continue
        accounts.add(str(entry.get("id", "")))
        for change in entry.get("changes") or []:
            value = change.get("value") if isinstance(change, dict) else None
            metadata = value.get("metadata") if isinstance(value, dict) else None
            if isinstance(metadata, dict) and metadata.get("phone_number_id"):
                numbers.add(str(metadata["phone_number_id"]))
    return numbers, accounts


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _owner(event: ChannelEvent, targets: Sequence[KnownChannel]) -> KnownChannel:
    """Number events name the number; account events (templates) go to the first number of
    the account; a quality change names the number by its display form."""
    if isinstance(event, NumberQualityChange):
        wanted = _digits(event.display_phone_number)
        found = next(
            (c for c in targets if _digits(str(c.config.get("display_number", ""))) == wanted),
            None,
        )
        return found or targets[0]
    account = str(getattr(event, "account", ""))
    return next((c for c in targets if c.address == account), targets[0])


router = webhook_router(ADAPTER, referenced=_referenced, owner=_owner)
