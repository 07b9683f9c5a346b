"""Commerce catalogs of the emulated WhatsApp Business accounts, and the checks the Cloud API
makes on a single- or multi-product message: the catalog must exist, every product must be
in it, and the message must have the parts and sizes the platform requires (header and body
for a list, 1–10 titled sections, at most 30 products)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from threadline.emulator.runtime import runtime
from threadline.emulator.state import Refusal

router = APIRouter(prefix="/_emulator", tags=["emulator control"])
SECTIONS_MAX = 10
ITEMS_MAX = 30
SECTION_TITLE_MAX = 24
HEADER_MAX = 60
BODY_MAX = 1024
PRODUCT_TYPES = frozenset({"product", "product_list"})


class CatalogIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    catalog_id: str = Field(pattern=r"^\d+$")
    retailer_ids: list[str] = Field(min_length=1)


@router.post("/catalogs")
async def add_catalog(body: CatalogIn, request: Request) -> dict[str, Any]:
    """A catalog connected to the business (Commerce Manager), with its products' ids."""
    catalogs = runtime(request).state.catalogs
    catalogs.setdefault(body.catalog_id, set()).update(body.retailer_ids)
    return {"catalog_id": body.catalog_id, "products": len(catalogs[body.catalog_id])}


def _missing(what: str) -> Refusal:
    return Refusal(131008, f"(#131008) Required parameter is missing: {what}")


def _invalid(what: str) -> Refusal:
    return Refusal(131009, f"(#131009) Parameter value is not valid: {what}")


def _text(part: Any, where: str, most: int) -> None:
    text = part.get("text") if isinstance(part, dict) else None
    if not isinstance(text, str) or not text:
        raise _missing(where)
    if len(text) > most:
        raise _invalid(f"{where} is longer than {most} characters")


def check_products(catalogs: dict[str, set[str]], interactive: Any) -> None:
    """Refuse a product message as the platform would; other interactive types pass."""
    if not isinstance(interactive, dict) or interactive.get("type") not in PRODUCT_TYPES:
        return
    action = interactive.get("action")
    if not isinstance(action, dict):
        raise _missing("interactive.action")
    catalog_id = action.get("catalog_id")
    if not catalog_id:
        raise _missing("action.catalog_id")
    known = catalogs.get(str(catalog_id))
    if known is None:
        raise _invalid(f"catalog {catalog_id} is not connected to this account")
    if "body" in interactive:
        _text(interactive["body"], "body.text", BODY_MAX)
    if interactive["type"] == "product":
        if "header" in interactive:
            raise _invalid("a single-product message takes no header")
        _in_catalog(known, action.get("product_retailer_id"), catalog_id)
        return
    header = interactive.get("header")
    if not isinstance(header, dict) or header.get("type") != "text":
        raise _missing("header (type text)")
    _text(header, "header.text", HEADER_MAX)
    _text(interactive.get("body"), "body.text", BODY_MAX)
    sections = action.get("sections")
    if not isinstance(sections, list) or not 1 <= len(sections) <= SECTIONS_MAX:
        raise _invalid(f"action.sections must hold 1 to {SECTIONS_MAX} sections")
    count = 0
    for section in sections:
        title = section.get("title") if isinstance(section, dict) else None
        if not isinstance(title, str) or not title:
            raise _missing("sections[].title")
        if len(title) > SECTION_TITLE_MAX:
            raise _invalid(f"section title is longer than {SECTION_TITLE_MAX} characters")
        items = section.get("product_items")
        if not isinstance(items, list) or not items:
            raise _missing("sections[].product_items")
        for item in items:
            _in_catalog(
                known,
                item.get("product_retailer_id") if isinstance(item, dict) else None,
                catalog_id,
            )
        count += len(items)
    if count > ITEMS_MAX:
        raise _invalid(f"{count} products; a product list holds at most {ITEMS_MAX}")


def _in_catalog(known: set[str], retailer_id: Any, catalog_id: Any) -> None:
    if not retailer_id:
        raise _missing("product_retailer_id")
    if str(retailer_id) not in known:
        raise _invalid(f"product {retailer_id} is not in catalog {catalog_id}")
