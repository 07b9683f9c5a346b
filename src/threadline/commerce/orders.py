"""Orders become contact events, which segments count and automations start and stop on:
`order` when a person sends the cart they filled from the catalog, `order_paid` when the
payment provider confirms a link was paid (`callbacks.py`). Each is recorded once, keyed by
what the platform or provider calls it, however often the webhook is delivered."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels import events as ev
from threadline.commerce.models import Product
from threadline.contacts import events as contact_events
from threadline.contacts.models import ContactEvent
from threadline.contacts.schemas import EventIn, EventKind
from threadline.flows import automations
from threadline.kit.scoped import Scope
from threadline.workspaces.models import Workspace

log = logging.getLogger("threadline.commerce")
_VALUE_SCALE = Decimal("0.0001")  # what an event's value holds (Numeric(14, 4))


def amount_text(value: Decimal) -> str:
    """A decimal as exact text ("180", "12.5"): JSON properties carry no float rounding."""
    return format(value.normalize(), "f")


async def record_event(
    session: AsyncSession, workspace: Workspace, data: EventIn, now: datetime
) -> tuple[ContactEvent, bool]:
    """Store the event once; a new one may end automations (exit_on) or start one."""
    event, created = await contact_events.ingest(
        session, workspace.id, data, now=now, default_region=None
    )
    if created:
        await automations.on_contact_event(session, workspace, event, now)
    return event, created


async def from_cart(
    session: AsyncSession,
    workspace: Workspace,
    contact_id: str,
    message: ev.InboundMessage,
    now: datetime,
) -> ContactEvent | None:
    """The `order` event of a cart a person sent: its id is the message's, its items carry
    the catalog's names where the shop's catalog knows the product."""
    order = message.order
    if order is None:
        return None
    currencies = {line.currency for line in order.lines}
    if len(currencies) != 1:
        log.warning("order %s mixes currencies %s: not recorded", message.external_id, currencies)
        return None
    names = await _names(session, workspace.id, [line.retailer_id for line in order.lines])
    items: list[dict[str, Any]] = []
    total = Decimal(0)
    for line in order.lines:
        price = Decimal(line.item_price)
        total += price * line.quantity
        item: dict[str, Any] = {
            "retailer_id": line.retailer_id,
            "quantity": line.quantity,
            "item_price": amount_text(price),
            "currency": line.currency,
        }
        if line.retailer_id in names:
            item["name"] = names[line.retailer_id]
        items.append(item)
    (currency,) = currencies
    properties: dict[str, Any] = {
        "order_id": message.external_id,
        "items": items,
        "total": amount_text(total),
        "currency": currency,
        "catalog_id": order.catalog_id,
    }
    if order.text:
        properties["text"] = order.text
    event, _created = await record_event(
        session,
        workspace,
        EventIn(
            idempotency_key=f"order:{message.external_id}",
            kind=EventKind.ORDER,
            contact_id=contact_id,
            occurred_at=min(message.timestamp, now),
            value=total.quantize(_VALUE_SCALE),
            currency=currency,
            properties=properties,
        ),
        now,
    )
    return event


async def _names(
    session: AsyncSession, workspace_id: str, retailer_ids: list[str]
) -> dict[str, str]:
    found = await Scope(session, workspace_id).keyed(Product, Product.retailer_id, retailer_ids)
    return {retailer_id: row.name for retailer_id, row in found.items()}
