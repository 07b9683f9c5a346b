"""Payment links: the workspace's provider makes a hosted payment page for an order, the
link goes to the contact in a message, and the provider's signed callback says it was paid
(`callbacks.py`).

The provider speaks a small generic API (docs/commerce.md), the shape of the hosted
payment-link APIs of the common providers: `POST {api_url}/v1/payment_links` with the amount,
currency, the order's reference and our link id as metadata, answered `{id, url}`. The
provider is asked before anything is written, so a refusal leaves nothing behind."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.commerce.models import PaymentLink, PaymentProvider, Product
from threadline.commerce.orders import amount_text
from threadline.commerce.schemas import PaymentLinkIn, PaymentLinkOut, ProviderIn
from threadline.contacts.service import get_contact
from threadline.kit.crypto import SecretBox
from threadline.kit.errors import Conflict, InvalidInput, ThreadlineError
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope

PROVIDER_TIMEOUT = 10.0
CALLBACK_PATH = "/webhooks/payments/{workspace_id}"


class ProviderError(ThreadlineError):
    """The payment provider refused or could not be reached: nothing was stored."""

    status_code = 502
    code = "provider_error"


class LinkState:
    OPEN = "open"
    PAID = "paid"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Credentials:
    api_key: str
    signing_secret: str


def callback_path(workspace_id: str) -> str:
    return CALLBACK_PATH.format(workspace_id=workspace_id)


async def configure(
    session: AsyncSession, box: SecretBox, workspace_id: str, data: ProviderIn, now: datetime
) -> PaymentProvider:
    """Set (or replace) the provider; its key and signing secret are sealed, never shown."""
    scope = Scope(session, workspace_id)
    row = await session.scalar(scope.select(PaymentProvider))
    if row is None:
        row = PaymentProvider(id=new_id("ppr"), workspace_id=workspace_id, created_at=now)
        session.add(row)
    row.api_url = data.api_url.rstrip("/")
    row.sealed = box.encrypt(
        json.dumps({"api_key": data.api_key, "signing_secret": data.signing_secret})
    )
    row.updated_at = now
    await session.flush()
    return row


async def provider_of(session: AsyncSession, workspace_id: str) -> PaymentProvider | None:
    return await session.scalar(Scope(session, workspace_id).select(PaymentProvider))


def credentials(box: SecretBox, provider: PaymentProvider) -> Credentials:
    opened = json.loads(box.decrypt(provider.sealed))
    return Credentials(api_key=opened["api_key"], signing_secret=opened["signing_secret"])


def link_out(row: PaymentLink) -> PaymentLinkOut:
    return PaymentLinkOut(
        id=row.id,
        contact_id=row.contact_id,
        order_ref=row.order_ref,
        amount=row.amount.normalize(),
        currency=row.currency,
        items=list(row.items or []),
        status=row.status,
        url=row.url,
        paid_at=row.paid_at,
        created_at=row.created_at,
    )


async def get(session: AsyncSession, workspace_id: str, link_id: str) -> PaymentLink:
    return await Scope(session, workspace_id).one(PaymentLink, link_id, "payment link")


async def for_contact(
    session: AsyncSession, workspace_id: str, contact_id: str
) -> list[PaymentLink]:
    await get_contact(session, workspace_id, contact_id)
    stmt = (
        Scope(session, workspace_id)
        .select(PaymentLink)
        .where(PaymentLink.contact_id == contact_id)
        .order_by(PaymentLink.created_at.desc())
    )
    return list(await session.scalars(stmt))


async def _items(
    session: AsyncSession, workspace_id: str, data: PaymentLinkIn
) -> tuple[list[dict[str, Any]], Decimal | None, str | None]:
    """The order's lines with names and unit prices (the catalog's unless given), their
    total and the catalog's currency for them."""
    if not data.items:
        return [], None, None
    ids = [item.retailer_id for item in data.items]
    known = await Scope(session, workspace_id).keyed(Product, Product.retailer_id, ids)
    lines: list[dict[str, Any]] = []
    total = Decimal(0)
    currencies: set[str] = set()
    for i, item in enumerate(data.items):
        product = known.get(item.retailer_id)
        if product is None and (item.price is None or not item.name):
            raise InvalidInput(
                f"no product {item.retailer_id} in this catalog: give its name and price",
                where=f"items[{i}]",
            )
        if product is not None:
            currencies.add(product.currency)
        price = item.price if item.price is not None else product.price if product else None
        assert price is not None  # checked above
        total += price * item.quantity
        lines.append(
            {
                "retailer_id": item.retailer_id,
                "name": item.name or (product.name if product else item.retailer_id),
                "quantity": item.quantity,
                "price": amount_text(price),
            }
        )
    if len(currencies) > 1:
        raise InvalidInput("an order is paid in one currency", where="items")
    return lines, total, next(iter(currencies), None)


async def create(
    session: AsyncSession,
    box: SecretBox,
    workspace_id: str,
    data: PaymentLinkIn,
    now: datetime,
) -> tuple[PaymentLink, bool]:
    """A new open link (and whether it is new: a replay of the idempotency key returns the
    stored one)."""
    scope = Scope(session, workspace_id)
    if data.idempotency_key:
        stored = await session.scalar(
            scope.select(PaymentLink).where(PaymentLink.idempotency_key == data.idempotency_key)
        )
        if stored is not None:
            if stored.contact_id != data.contact_id or stored.order_ref != data.order_ref:
                raise Conflict(
                    "idempotency key already used for another payment link",
                    where="idempotency_key",
                )
            return stored, False
    await get_contact(session, workspace_id, data.contact_id)
    lines, total, currency = await _items(session, workspace_id, data)
    amount = data.amount if data.amount is not None else total
    if amount is None or amount <= 0:
        raise InvalidInput("give the amount, or items to total", where="amount")
    if total is not None and data.amount is not None and total != data.amount:
        raise InvalidInput(
            f"amount {amount_text(data.amount)} is not the items' total {amount_text(total)}",
            where="amount",
        )
    currency = data.currency or currency
    if currency is None:
        raise InvalidInput("give the currency", where="currency")
    if data.currency and lines and currency != data.currency:
        raise InvalidInput("the items are priced in another currency", where="currency")
    provider = await provider_of(session, workspace_id)
    if provider is None:
        raise InvalidInput(
            "set up a payment provider first (PUT /api/v1/commerce/payment-provider)",
            where="provider",
        )
    link_id = new_id("pay")
    made = await _ask_provider(
        provider, credentials(box, provider), link_id, data, amount, currency
    )
    row = PaymentLink(
        id=link_id,
        workspace_id=workspace_id,
        contact_id=data.contact_id,
        order_ref=data.order_ref,
        amount=amount,
        currency=currency,
        items=lines,
        status=LinkState.OPEN,
        url=made["url"],
        provider_link_id=made["id"],
        idempotency_key=data.idempotency_key,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return row, True


async def _ask_provider(
    provider: PaymentProvider,
    creds: Credentials,
    link_id: str,
    data: PaymentLinkIn,
    amount: Decimal,
    currency: str,
) -> dict[str, str]:
    body = {
        "amount": amount_text(amount),
        "currency": currency,
        "reference": data.order_ref,
        "metadata": {"threadline_link_id": link_id},
    }
    headers = {"Authorization": f"Bearer {creds.api_key}", "Idempotency-Key": link_id}
    async with httpx.AsyncClient(timeout=PROVIDER_TIMEOUT) as http:
        try:
            answer = await http.post(
                f"{provider.api_url}/v1/payment_links", json=body, headers=headers
            )
        except httpx.HTTPError as exc:
            raise ProviderError(f"the payment provider is unreachable: {exc}") from exc
    if answer.status_code >= 400:
        raise ProviderError(
            f"the payment provider refused the link ({answer.status_code}): {answer.text[:200]}"
        )
    try:
        made = answer.json()
        found = {"id": str(made["id"]), "url": str(made["url"])}
    except (ValueError, KeyError, TypeError) as exc:
        raise ProviderError("the payment provider's answer has no id and url") from exc
    if not found["url"].startswith(("https://", "http://")):
        raise ProviderError("the payment provider's link is not an http(s) URL")
    return found
