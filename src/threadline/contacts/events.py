"""Contact events (purchases, carts, orders, appointments, custom): what segments and
automations read. Ingestion is idempotent on the caller's key."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.contacts import repository
from threadline.contacts.models import Contact, ContactEvent
from threadline.contacts.schemas import ContactIn, EventIn, EventKind, EventOut
from threadline.contacts.service import create_contact, find_by_urn, get_contact, parse_one_urn
from threadline.kit.clock import as_utc
from threadline.kit.errors import Conflict, InvalidInput
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope

_VALUE_SCALE = Decimal("0.0001")  # ContactEvent.value is Numeric(14, 4)
_REQUIRED_PROPERTIES: dict[EventKind, tuple[str, ...]] = {
    EventKind.ORDER_STATUS: ("order_id", "status"),
    EventKind.CART_UPDATED: ("cart_id",),
    EventKind.APPOINTMENT_BOOKED: ("starts_at",),
    EventKind.ORDER: ("order_id",),
    EventKind.ORDER_PAID: ("order_ref",),
}
# Kinds that are money: segments sum them (`order_paid.sum(30d)`), so both are required.
_PRICED = frozenset({EventKind.PURCHASE, EventKind.ORDER, EventKind.ORDER_PAID})


def _validate(data: EventIn) -> None:
    for key in _REQUIRED_PROPERTIES.get(data.kind, ()):
        if data.properties.get(key) in (None, ""):
            raise InvalidInput(
                f"{data.kind} events need properties.{key}", where=f"properties.{key}"
            )
    if data.kind in _PRICED and (data.value is None or data.currency is None):
        raise InvalidInput(f"{data.kind} events need value and currency", where="value")
    if data.value is not None and data.value < 0:
        raise InvalidInput("value must not be negative", where="value")
    if data.kind is EventKind.CUSTOM and not data.name:
        raise InvalidInput("custom events need a name", where="name")
    if data.kind is EventKind.APPOINTMENT_BOOKED:
        try:
            datetime.fromisoformat(str(data.properties["starts_at"]))
        except ValueError as exc:
            raise InvalidInput(
                "properties.starts_at must be an ISO 8601 date-time", where="properties.starts_at"
            ) from exc
    if (data.contact_id is None) == (data.urn is None):
        raise InvalidInput("give exactly one of contact_id or urn", where="contact_id")


async def _resolve_contact(
    session: AsyncSession,
    workspace_id: str,
    data: EventIn,
    now: datetime,
    default_region: str | None,
) -> Contact:
    if data.contact_id is not None:
        return await get_contact(session, workspace_id, data.contact_id)
    assert data.urn is not None
    urn = parse_one_urn(data.urn, default_region)
    found = await find_by_urn(session, workspace_id, urn)
    if found is not None:
        return found
    # A shop reports events for customers it knows by phone or email before they ever chat.
    return await create_contact(
        session, workspace_id, ContactIn(urns=[str(urn)]), now=now, default_region=default_region
    )


def _same(event: ContactEvent, data: EventIn, contact_id: str, occurred_at: datetime) -> bool:
    def num(value: Decimal | None) -> Decimal | None:
        return None if value is None else value.normalize()

    return (
        event.kind == data.kind.value
        and event.contact_id == contact_id
        and event.name == data.name
        and num(event.value) == num(data.value)
        and event.currency == data.currency
        and event.properties == data.properties
        and event.occurred_at == occurred_at
    )


async def _names_contact(
    session: AsyncSession,
    workspace_id: str,
    data: EventIn,
    contact_id: str,
    default_region: str | None,
) -> bool:
    """Does the request (by contact_id or by urn) point at `contact_id`?"""
    if data.contact_id is not None:
        return data.contact_id == contact_id
    assert data.urn is not None
    owner = await find_by_urn(session, workspace_id, parse_one_urn(data.urn, default_region))
    return owner is not None and owner.id == contact_id


async def ingest(
    session: AsyncSession,
    workspace_id: str,
    data: EventIn,
    *,
    now: datetime,
    default_region: str | None,
) -> tuple[ContactEvent, bool]:
    """Store the event once. Returns (event, created); a replay with the same key and body
    returns the stored event, a replay with a different body is a conflict."""
    _validate(data)
    existing = await session.scalar(
        Scope(session, workspace_id)
        .select(ContactEvent)
        .where(ContactEvent.idempotency_key == data.idempotency_key)
    )
    occurred_at = data.occurred_at or now
    if occurred_at.tzinfo is None:
        raise InvalidInput("occurred_at needs a time zone offset (e.g. Z)", where="occurred_at")
    if existing is not None:
        contact_id = existing.contact_id
        if await _names_contact(session, workspace_id, data, contact_id, default_region) and _same(
            existing,
            data,
            contact_id,
            occurred_at if data.occurred_at else existing.occurred_at,
        ):
            return existing, False
        raise Conflict(
            f"idempotency key '{data.idempotency_key}' was already used for a different event",
            where="idempotency_key",
        )
    contact = await _resolve_contact(session, workspace_id, data, now, default_region)
    event = ContactEvent(
        id=new_id("evt"),
        workspace_id=workspace_id,
        contact_id=contact.id,
        kind=data.kind.value,
        name=data.name,
        value=data.value,
        currency=data.currency,
        properties=data.properties,
        idempotency_key=data.idempotency_key,
        occurred_at=occurred_at,
        created_at=now,
    )
    repository.RECENT.forget(session, contact.id)
    try:
        async with session.begin_nested():
            session.add(event)
    except IntegrityError as exc:
        raise Conflict(
            f"idempotency key '{data.idempotency_key}' is being used concurrently; retry",
            where="idempotency_key",
        ) from exc
    return event, True


def event_out(event: ContactEvent) -> EventOut:
    return EventOut(
        id=event.id,
        contact_id=event.contact_id,
        kind=event.kind,
        name=event.name,
        # As the database hands them back, so a replay answers exactly like the first call.
        occurred_at=as_utc(event.occurred_at),
        value=None if event.value is None else event.value.quantize(_VALUE_SCALE),
        currency=event.currency,
        properties=event.properties or {},
        idempotency_key=event.idempotency_key,
    )


async def list_events(
    session: AsyncSession,
    workspace_id: str,
    contact_id: str,
    kind: str | None = None,
    limit: int = 100,
) -> list[ContactEvent]:
    await get_contact(session, workspace_id, contact_id)
    stmt = (
        Scope(session, workspace_id)
        .select(ContactEvent)
        .where(ContactEvent.contact_id == contact_id)
    )
    if kind:
        stmt = stmt.where(ContactEvent.kind == kind)
    return list(await session.scalars(stmt.order_by(ContactEvent.occurred_at.desc()).limit(limit)))
