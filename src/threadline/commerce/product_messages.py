"""Products of the catalog, sent to a contact as one message.

The message carries a snapshot of each product (name, price, image, link) so that whichever
channel sends it can show it — natively from the platform catalog the account names, as a
carousel, or as numbered text — and the channel's capabilities decide which (the registry's
`product_form`). It then goes the way of every message: policy, outbox, dispatcher."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels import messages as m
from threadline.channels import registry
from threadline.channels.capabilities import ProductForm
from threadline.channels.kinds import Channel
from threadline.channels.models import ChannelAccount
from threadline.commerce import catalog
from threadline.commerce.models import Product
from threadline.commerce.schemas import Availability, ProductMessageIn
from threadline.kit.errors import InvalidInput
from threadline.messages import service as messages
from threadline.messages.models import Message
from threadline.workspaces.models import Workspace

DEFAULT_SECTION = "Products"  # a list's one section needs a title on WhatsApp
DEFAULT_HEADER = "Our products"


@dataclass(frozen=True, slots=True)
class Sent:
    message: Message
    shown_as: ProductForm


def catalog_of(channel: ChannelAccount) -> str | None:
    """The platform catalog the account's products come from, for types that show one."""
    if not registry.capabilities_for(Channel(channel.kind)).catalog_products_max:
        return None
    found = (channel.config or {}).get("catalog_id")
    return str(found) if found else None


def _item(row: Product) -> m.ProductItem:
    return m.ProductItem(
        retailer_id=row.retailer_id,
        name=row.name,
        price=row.price.normalize(),
        currency=row.currency,
        description=row.description,
        image_url=row.image_url,
        url=row.url,
    )


def _sections(body: ProductMessageIn) -> list[tuple[str, list[str], str]]:
    """(title, retailer ids, where in the request) of each section asked for."""
    if body.sections and body.retailer_ids:
        raise InvalidInput("give retailer_ids or sections, not both", where="sections")
    if body.sections:
        return [
            (section.title, section.retailer_ids, f"sections[{i}].retailer_ids")
            for i, section in enumerate(body.sections)
        ]
    if not body.retailer_ids:
        raise InvalidInput("name at least one product", where="retailer_ids")
    return [(DEFAULT_SECTION, body.retailer_ids, "retailer_ids")]


async def compose(
    session: AsyncSession, workspace_id: str, body: ProductMessageIn, catalog_id: str | None
) -> m.ProductMessage | m.ProductListMessage:
    sections = _sections(body)
    items: list[tuple[str, list[m.ProductItem]]] = []
    for title, retailer_ids, where in sections:
        found = await catalog.by_retailer_ids(session, workspace_id, retailer_ids, where)
        for i, retailer_id in enumerate(retailer_ids):
            if not Availability(found[retailer_id].availability).offered:
                raise InvalidInput(
                    f"product {retailer_id} is {found[retailer_id].availability}: "
                    "it cannot be ordered",
                    where=f"{where}[{i}]",
                )
        items.append((title, [_item(found[r]) for r in retailer_ids]))
    currencies = {item.currency for _title, products in items for item in products}
    if len(currencies) > 1:
        # One cart is paid in one currency; the platform refuses a mixed one too.
        raise InvalidInput(
            f"products in one message share a currency (found {', '.join(sorted(currencies))})",
            where="retailer_ids",
        )
    if len(items) == 1 and len(items[0][1]) == 1 and not body.header and not body.sections:
        return m.ProductMessage(
            product=items[0][1][0], body=body.body, footer=body.footer, catalog_id=catalog_id
        )
    return m.ProductListMessage(
        header=body.header or DEFAULT_HEADER,
        body=body.body or body.header or DEFAULT_HEADER,
        footer=body.footer,
        catalog_id=catalog_id,
        sections=[m.ProductSection(title=title, products=products) for title, products in items],
    )


async def send(
    session: AsyncSession, workspace: Workspace, body: ProductMessageIn, now: datetime
) -> Sent:
    channel, _address = await messages.channel_for(
        session, workspace.id, body.contact_id, body.channel_id
    )
    content = await compose(session, workspace.id, body, catalog_of(channel))
    message = await messages.enqueue(
        session,
        workspace,
        messages.SendRequest(
            contact_id=body.contact_id,
            purpose=body.purpose,
            content=content,
            channel_id=channel.id,
            topic=body.topic,
            idempotency_key=body.idempotency_key,
        ),
        now,
    )
    return Sent(message, registry.product_form(Channel(channel.kind), content))
