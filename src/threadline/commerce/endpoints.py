"""/api/v1/commerce: the catalog, product messages, the payment provider and payment links;
and /webhooks/payments/{workspace_id}, where the provider posts its signed callbacks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel

from threadline.api.deps import CurrentWorkspace, Now, Session, app_state
from threadline.channels import registry
from threadline.channels import service as channels
from threadline.channels.kinds import Channel
from threadline.commerce import callbacks, catalog, payment_links, product_messages
from threadline.commerce.models import PaymentProvider
from threadline.commerce.schemas import (
    Availability,
    CatalogIn,
    ImportOut,
    PaymentLinkIn,
    PaymentLinkOut,
    ProductFields,
    ProductIn,
    ProductListOut,
    ProductMessageIn,
    ProductOut,
    ProductsIn,
    ProviderIn,
    ProviderOut,
)
from threadline.kit.errors import InvalidInput, NotFound
from threadline.messages.endpoints import MessageOut, message_out
from threadline.workspaces.models import Workspace

router = APIRouter(prefix="/api/v1/commerce", tags=["commerce"])
webhooks = APIRouter(tags=["webhooks"])
IMPORT_MAX = 20 * 1024 * 1024  # a catalog file of tens of thousands of products


class ProductMessageOut(BaseModel):
    message: MessageOut
    shown_as: str  # catalog, cards or text: how the channel shows the products


class CatalogOut(BaseModel):
    channel_id: str
    catalog_id: str | None


class CallbackOut(BaseModel):
    received: bool
    duplicate: bool
    status: str | None


# -- catalog ----------------------------------------------------------------------------------


@router.get("/products")
async def list_products(
    session: Session,
    workspace: CurrentWorkspace,
    availability: Availability | None = None,
    after: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=catalog.LIST_LIMIT)] = 100,
) -> ProductListOut:
    rows, cursor = await catalog.list_products(
        session,
        workspace.id,
        availability=availability.value if availability else None,
        after=after,
        limit=limit,
    )
    return ProductListOut(products=[catalog.product_out(r) for r in rows], next_cursor=cursor)


@router.post("/products")
async def upsert_products(
    body: ProductsIn, session: Session, workspace: CurrentWorkspace, now: Now
) -> ImportOut:
    """Create or replace products by retailer id, all or none."""
    return await catalog.upsert(session, workspace.id, body.products, now)


@router.post("/products/import")
async def import_products(
    request: Request, session: Session, workspace: CurrentWorkspace, now: Now
) -> ImportOut:
    """A catalog file as the body: CSV (`text/csv`; Threadline's columns or a Meta Commerce
    feed's) or JSON (`application/json`). One bad row names its line and imports nothing."""
    data = await request.body()
    if len(data) > IMPORT_MAX:
        raise InvalidInput("the file is larger than 20 MB", where="body")
    kind = request.headers.get("content-type", "")
    name = "catalog.json" if "json" in kind else "catalog.csv" if "csv" in kind else ""
    return await catalog.upsert(session, workspace.id, catalog.parse_file(name, data), now)


@router.get("/products/{retailer_id}")
async def get_product(
    retailer_id: str, session: Session, workspace: CurrentWorkspace
) -> ProductOut:
    return catalog.product_out(await catalog.get(session, workspace.id, retailer_id))


@router.put("/products/{retailer_id}")
async def put_product(
    retailer_id: str, body: ProductFields, session: Session, workspace: CurrentWorkspace, now: Now
) -> ProductOut:
    item = ProductIn.model_validate({**body.model_dump(), "retailer_id": retailer_id})
    await catalog.upsert(session, workspace.id, [item], now)
    return catalog.product_out(await catalog.get(session, workspace.id, retailer_id))


@router.delete("/products/{retailer_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_product(retailer_id: str, session: Session, workspace: CurrentWorkspace) -> None:
    await catalog.delete(session, workspace.id, retailer_id)


@router.put("/channels/{channel_id}/catalog")
async def set_channel_catalog(
    channel_id: str, body: CatalogIn, session: Session, workspace: CurrentWorkspace, now: Now
) -> CatalogOut:
    """Name the platform catalog connected to a channel (WhatsApp: the Commerce Manager
    catalog of the number), whose items product messages then show natively."""
    channel = await channels.get(session, workspace.id, channel_id)
    if not registry.capabilities_for(Channel(channel.kind)).catalog_products_max:
        title = registry.declaration(channel.kind).title
        raise InvalidInput(f"{title} shows no platform catalog", where="channel_id")
    channels.update_config(channel, now, catalog_id=body.catalog_id)
    return CatalogOut(channel_id=channel.id, catalog_id=body.catalog_id)


# -- product messages -------------------------------------------------------------------------


@router.post("/product-messages", status_code=status.HTTP_201_CREATED)
async def send_products(
    body: ProductMessageIn, session: Session, workspace: CurrentWorkspace, now: Now
) -> ProductMessageOut:
    """Send products of the catalog to a contact: one product, or a list in sections. The
    message is decided like any other (`queued`, `deferred` or `refused` with the reason)."""
    sent = await product_messages.send(session, workspace, body, now)
    return ProductMessageOut(message=message_out(sent.message), shown_as=sent.shown_as.value)


# -- payments ---------------------------------------------------------------------------------


def _provider_out(request: Request, workspace_id: str, row: PaymentProvider) -> ProviderOut:
    base = str(request.base_url).rstrip("/")
    return ProviderOut(
        api_url=row.api_url,
        callback_url=base + payment_links.callback_path(workspace_id),
        updated_at=row.updated_at,
    )


@router.put("/payment-provider")
async def put_provider(
    body: ProviderIn, request: Request, session: Session, workspace: CurrentWorkspace, now: Now
) -> ProviderOut:
    """Where payment links are made, with the API key and the callbacks' signing secret
    (sealed, never shown again). The answer names the callback URL to give the provider."""
    box = app_state(request).box
    row = await payment_links.configure(session, box, workspace.id, body, now)
    return _provider_out(request, workspace.id, row)


@router.get("/payment-provider")
async def get_provider(
    request: Request, session: Session, workspace: CurrentWorkspace
) -> ProviderOut:
    row = await payment_links.provider_of(session, workspace.id)
    if row is None:
        raise NotFound("no payment provider is set up", where="provider")
    return _provider_out(request, workspace.id, row)


@router.post("/payment-links", status_code=status.HTTP_201_CREATED)
async def create_link(
    body: PaymentLinkIn,
    request: Request,
    response: Response,
    session: Session,
    workspace: CurrentWorkspace,
    now: Now,
) -> PaymentLinkOut:
    """A payment link for an order, made at the provider: `open` with its URL until the
    provider's callback says it was paid. A replayed idempotency_key answers 200."""
    box = app_state(request).box
    row, created = await payment_links.create(session, box, workspace.id, body, now)
    if not created:
        response.status_code = status.HTTP_200_OK
    return payment_links.link_out(row)


@router.get("/payment-links")
async def list_links(
    contact_id: str, session: Session, workspace: CurrentWorkspace
) -> list[PaymentLinkOut]:
    rows = await payment_links.for_contact(session, workspace.id, contact_id)
    return [payment_links.link_out(r) for r in rows]


@router.get("/payment-links/{link_id}")
async def get_link(link_id: str, session: Session, workspace: CurrentWorkspace) -> PaymentLinkOut:
    return payment_links.link_out(await payment_links.get(session, workspace.id, link_id))


@webhooks.post("/webhooks/payments/{workspace_id}")
async def payment_callback(
    workspace_id: str, request: Request, session: Session, now: Now
) -> CallbackOut:
    """The provider's signed callback (no API key: the signature is the credential). 401 for
    a bad signature, 400 for a stale or malformed one; a redelivery answers 200 again."""
    workspace = await session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound("no such workspace", where="workspace")
    body = await request.body()
    header = request.headers.get(callbacks.SIGNATURE_HEADER)
    outcome = await callbacks.receive(session, app_state(request).box, workspace, header, body, now)
    return CallbackOut(received=True, duplicate=outcome.duplicate, status=outcome.status)
