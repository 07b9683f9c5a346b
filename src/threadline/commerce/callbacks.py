"""The payment provider's callbacks: verified, taken in once by the provider's event id, and
turned into what they mean — a paid link records the contact event `order_paid`.

A callback is signed with the workspace's signing secret:
`Payment-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` (several
`v1=` while a secret is being rotated). The timestamp is inside the signature and must be
within five minutes of our clock, so a captured callback cannot be replayed later."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.commerce import orders
from threadline.commerce.models import PaymentEvent, PaymentLink
from threadline.commerce.payment_links import LinkState, credentials, provider_of
from threadline.contacts.schemas import EventIn, EventKind
from threadline.kit.crypto import SecretBox
from threadline.kit.errors import NotFound, ThreadlineError
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope
from threadline.workspaces.models import Workspace

log = logging.getLogger("threadline.commerce.callbacks")
SIGNATURE_HEADER = "Payment-Signature"
TOLERANCE = timedelta(minutes=5)
PAID = "payment_link.paid"
EXPIRED = "payment_link.expired"


class BadSignature(ThreadlineError):
    status_code = 401
    code = "bad_signature"


class BadCallback(ThreadlineError):
    """Malformed, or signed too long ago (400: the provider should not retry it as is)."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value for a body signed at `timestamp` (what the provider sends)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def _parts(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise BadCallback(
            f"{SIGNATURE_HEADER} must read t=<unix seconds>,v1=<hex>", where=SIGNATURE_HEADER
        )
    return timestamp, signatures


def verify(secret: str, header: str | None, body: bytes, now: datetime) -> None:
    """Raises BadSignature (401: not signed with the secret) or BadCallback (400: stale)."""
    if not header:
        raise BadSignature(f"missing {SIGNATURE_HEADER}", where=SIGNATURE_HEADER)
    timestamp, signatures = _parts(header)
    expected = sign(secret, timestamp, body).rpartition("v1=")[2]
    if not any(hmac.compare_digest(expected, given) for given in signatures):
        raise BadSignature("the signature does not match the body", where=SIGNATURE_HEADER)
    if abs(now.timestamp() - timestamp) > TOLERANCE.total_seconds():
        raise BadCallback(
            "the signature's timestamp is more than 5 minutes from now", where=SIGNATURE_HEADER
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    duplicate: bool
    link_id: str | None = None
    status: str | None = None
    event_id: str | None = None  # the order_paid contact event


def _payload(body: bytes) -> tuple[str, str, dict[str, Any]]:
    try:
        data = json.loads(body)
        event_id, kind = str(data["id"]), str(data["type"])
        details = data.get("data") or {}
    except (ValueError, KeyError, TypeError) as exc:
        raise BadCallback("a callback is JSON with id, type and data", where="body") from exc
    if not isinstance(details, dict) or not event_id:
        raise BadCallback("a callback is JSON with id, type and data", where="body")
    return event_id, kind, details


async def receive(
    session: AsyncSession,
    box: SecretBox,
    workspace: Workspace,
    header: str | None,
    body: bytes,
    now: datetime,
) -> Outcome:
    provider = await provider_of(session, workspace.id)
    if provider is None:
        raise NotFound("this workspace takes no payment callbacks", where="workspace")
    verify(credentials(box, provider).signing_secret, header, body, now)
    event_id, kind, details = _payload(body)
    scope = Scope(session, workspace.id)
    seen = await session.scalar(
        scope.select(PaymentEvent).where(PaymentEvent.provider_event_id == event_id)
    )
    if seen is not None:
        return Outcome(duplicate=True, link_id=seen.link_id)
    link = await _link_of(session, workspace.id, details)
    record = PaymentEvent(
        id=new_id("pev"),
        workspace_id=workspace.id,
        provider_event_id=event_id,
        type=kind[:60],
        link_id=link.id if link else None,
        received_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(record)
    except IntegrityError:
        # Delivered twice at once: the other delivery holds it and does the work.
        return Outcome(duplicate=True, link_id=link.id if link else None)
    if link is None:
        log.info("payment callback %s (%s) names no link of ours", event_id, kind)
        return Outcome(duplicate=False)
    if kind == PAID:
        return await _paid(session, workspace, link, event_id, now)
    if kind == EXPIRED and link.status == LinkState.OPEN:
        link.status, link.updated_at = LinkState.EXPIRED, now
    return Outcome(duplicate=False, link_id=link.id, status=link.status)


async def _link_of(
    session: AsyncSession, workspace_id: str, details: dict[str, Any]
) -> PaymentLink | None:
    """By the provider's link id; our own id in the metadata also names it."""
    scope = Scope(session, workspace_id)
    provider_link = details.get("payment_link")
    if provider_link:
        found = await session.scalar(
            scope.select(PaymentLink).where(PaymentLink.provider_link_id == str(provider_link))
        )
        if found is not None:
            return found
    metadata = details.get("metadata")
    ours = metadata.get("threadline_link_id") if isinstance(metadata, dict) else None
    return await scope.get(PaymentLink, str(ours)) if ours else None


async def _paid(
    session: AsyncSession, workspace: Workspace, link: PaymentLink, event_id: str, now: datetime
) -> Outcome:
    """Paid once: a second `paid` (another event id for the same link) changes nothing, and
    the contact event is keyed by the link, so it is recorded exactly once either way."""
    if link.status != LinkState.PAID:
        link.status, link.paid_at, link.updated_at = LinkState.PAID, now, now
    amount = Decimal(link.amount)
    event, _created = await orders.record_event(
        session,
        workspace,
        EventIn(
            idempotency_key=f"order_paid:{link.id}",
            kind=EventKind.ORDER_PAID,
            contact_id=link.contact_id,
            occurred_at=link.paid_at,
            value=amount.quantize(Decimal("0.0001")),
            currency=link.currency,
            properties={
                "order_ref": link.order_ref,
                "amount": orders.amount_text(amount),
                "currency": link.currency,
                "payment_link_id": link.id,
                "items": list(link.items or []),
            },
        ),
        now,
    )
    return Outcome(duplicate=False, link_id=link.id, status=link.status, event_id=event.id)
