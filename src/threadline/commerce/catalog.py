"""The workspace's catalog: upsert by retailer id, list, delete, and import from CSV or JSON.

The CSV reader takes Threadline's column names and those of a Meta Commerce data feed
(`id`, `title`, `price` as "9.99 USD", `link`, `image_link`, `availability` as "in stock"),
so the file a shop already uploads to Meta imports unchanged."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.commerce.models import Product
from threadline.commerce.schemas import ImportOut, ProductIn, ProductOut
from threadline.kit.errors import InvalidInput, NotFound
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope

# Column names as shops and Meta's feed spell them → ours.
_COLUMNS = {
    "retailer_id": "retailer_id",
    "sku": "retailer_id",
    "id": "retailer_id",
    "name": "name",
    "title": "name",
    "description": "description",
    "price": "price",
    "currency": "currency",
    "image_url": "image_url",
    "image_link": "image_url",
    "url": "url",
    "link": "url",
    "availability": "availability",
}
# Meta's feed writes availability in words.
_AVAILABILITY = {
    "in stock": "in_stock",
    "out of stock": "out_of_stock",
    "preorder": "preorder",
    "available for order": "preorder",
    "discontinued": "discontinued",
}
LIST_LIMIT = 500


def product_out(row: Product) -> ProductOut:
    return ProductOut(
        id=row.id,
        retailer_id=row.retailer_id,
        name=row.name,
        description=row.description,
        price=row.price.normalize(),
        currency=row.currency,
        image_url=row.image_url,
        url=row.url,
        availability=row.availability,
        updated_at=row.updated_at,
    )


async def upsert(
    session: AsyncSession, workspace_id: str, items: Sequence[ProductIn], now: datetime
) -> ImportOut:
    """Create or replace each product by its retailer id; the last of a repeated id wins."""
    latest = {item.retailer_id: item for item in items}
    scope = Scope(session, workspace_id)
    existing = await scope.keyed(Product, Product.retailer_id, latest)
    created = 0
    for retailer_id, item in latest.items():
        row = existing.get(retailer_id)
        if row is None:
            row = Product(
                id=new_id("prd"), workspace_id=workspace_id, retailer_id=retailer_id, created_at=now
            )
            session.add(row)
            created += 1
        row.name = item.name
        row.description = item.description
        row.price = item.price
        row.currency = item.currency
        row.image_url = item.image_url
        row.url = item.url
        row.availability = item.availability.value
        row.updated_at = now
    await session.flush()
    return ImportOut(created=created, updated=len(latest) - created)


async def get(session: AsyncSession, workspace_id: str, retailer_id: str) -> Product:
    row = await session.scalar(
        Scope(session, workspace_id).select(Product).where(Product.retailer_id == retailer_id)
    )
    if row is None:
        raise NotFound(f"no product {retailer_id} in this catalog", where="retailer_id")
    return row


async def by_retailer_ids(
    session: AsyncSession, workspace_id: str, retailer_ids: Sequence[str], where: str
) -> dict[str, Product]:
    """The products, every one of them, or InvalidInput naming the first unknown id."""
    found = await Scope(session, workspace_id).keyed(Product, Product.retailer_id, retailer_ids)
    for i, retailer_id in enumerate(retailer_ids):
        if retailer_id not in found:
            raise InvalidInput(f"no product {retailer_id} in this catalog", where=f"{where}[{i}]")
    return found


async def list_products(
    session: AsyncSession,
    workspace_id: str,
    *,
    availability: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> tuple[list[Product], str | None]:
    """A page of the catalog in retailer-id order, and where the next page starts."""
    stmt = Scope(session, workspace_id).select(Product)
    if availability:
        stmt = stmt.where(Product.availability == availability)
    if after:
        stmt = stmt.where(Product.retailer_id > after)
    rows = list(await session.scalars(stmt.order_by(Product.retailer_id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1].retailer_id if more and rows else None


async def delete(session: AsyncSession, workspace_id: str, retailer_id: str) -> None:
    result = await session.execute(
        Scope(session, workspace_id).delete(Product).where(Product.retailer_id == retailer_id)
    )
    if not getattr(result, "rowcount", 0):
        raise NotFound(f"no product {retailer_id} in this catalog", where="retailer_id")


# -- import -----------------------------------------------------------------------------------


def _validated(raw: dict[str, Any], where: str) -> ProductIn:
    try:
        return ProductIn.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(row)"
        raise InvalidInput(f"{where}: {field}: {first['msg']}", where=where) from None


def _feed_price(raw: dict[str, Any]) -> None:
    """Meta's feed says "9.99 USD" in one column; ours has price and currency apart."""
    price = str(raw.get("price") or "").strip()
    number, _, currency = price.partition(" ")
    if currency and not raw.get("currency"):
        raw["price"], raw["currency"] = number, currency.strip().upper()


def parse_csv(text: str) -> list[ProductIn]:
    """Products from CSV text; an error names the line (1 is the header)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames:
        raise InvalidInput("the file is empty", where="line 1")
    known = {name: _COLUMNS.get(name.strip().lower()) for name in reader.fieldnames}
    if "retailer_id" not in known.values() or "name" not in known.values():
        raise InvalidInput(
            "the header needs a retailer_id (or sku, id) and a name (or title) column",
            where="line 1",
        )
    products = []
    for line, row in enumerate(reader, start=2):
        raw: dict[str, Any] = {}
        for column, value in row.items():
            field = known.get(column) if column is not None else None
            if field and value is not None and value.strip() != "":
                raw[field] = value.strip()
        if not raw:
            continue  # a blank line
        _feed_price(raw)
        if "availability" in raw:
            spoken = str(raw["availability"]).lower()
            raw["availability"] = _AVAILABILITY.get(spoken, spoken.replace(" ", "_"))
        products.append(_validated(raw, f"line {line}"))
    return products


def parse_json(data: bytes | str) -> list[ProductIn]:
    """Products from JSON: a list of products, or `{"products": [...]}`."""
    try:
        loaded = json.loads(data)
    except ValueError as exc:
        raise InvalidInput(f"not JSON: {exc}", where="body") from None
    items = loaded.get("products") if isinstance(loaded, dict) else loaded
    if not isinstance(items, list):
        raise InvalidInput("expected a list of products", where="products")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidInput("a product is an object", where=f"products[{i}]")
        out.append(_validated(item, f"products[{i}]"))
    return out


def parse_file(name: str, data: bytes) -> list[ProductIn]:
    """By the file's name (or its first character when the name says nothing)."""
    text = data.decode("utf-8-sig")
    if name.lower().endswith(".json") or text.lstrip()[:1] in ("[", "{"):
        return parse_json(text)
    return parse_csv(text)
