"""API shapes of commerce: products, product messages, the payment provider, payment links."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from threadline.policy.types import Purpose

_STRICT = ConfigDict(extra="forbid")
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. EUR")]
Sku = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\s/]+$")]


def _http_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("https://", "http://")):
        raise ValueError("must be an http(s) URL")
    return value


class Availability(StrEnum):
    IN_STOCK = "in_stock"
    OUT_OF_STOCK = "out_of_stock"
    PREORDER = "preorder"
    DISCONTINUED = "discontinued"

    @property
    def offered(self) -> bool:
        """Whether a product message may offer it: nobody should fill a cart in vain."""
        return self in (Availability.IN_STOCK, Availability.PREORDER)


class ProductFields(BaseModel):
    """A product without its id (the body of `PUT /commerce/products/{retailer_id}`)."""

    model_config = _STRICT
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    price: Decimal = Field(ge=0, max_digits=14, decimal_places=4)
    currency: Currency
    image_url: str | None = Field(default=None, max_length=2000)
    url: str | None = Field(default=None, max_length=2000)
    availability: Availability = Availability.IN_STOCK

    @field_validator("image_url", "url")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        return _http_url(value)


class ProductIn(ProductFields):
    retailer_id: Sku


class ProductOut(BaseModel):
    id: str
    retailer_id: str
    name: str
    description: str | None
    price: Decimal
    currency: str
    image_url: str | None
    url: str | None
    availability: str
    updated_at: datetime


class ProductsIn(BaseModel):
    model_config = _STRICT
    products: list[ProductIn] = Field(min_length=1, max_length=5000)


class ImportOut(BaseModel):
    created: int
    updated: int


class ProductListOut(BaseModel):
    products: list[ProductOut]
    next_cursor: str | None = Field(description="the retailer_id to pass as `after`")


class SectionIn(BaseModel):
    model_config = _STRICT
    title: str = Field(min_length=1, max_length=24)
    retailer_ids: list[Sku] = Field(min_length=1)


class ProductMessageIn(BaseModel):
    """Products of the catalog sent to a contact: one (`retailer_ids` with one id) or a list
    (several ids, or `sections`). Each channel shows them its way (`shown_as`)."""

    model_config = _STRICT
    contact_id: str
    purpose: Purpose = Purpose.MARKETING
    topic: str = "marketing"
    channel_id: str | None = None
    retailer_ids: list[Sku] = Field(default_factory=list)
    sections: list[SectionIn] = Field(default_factory=list)
    header: str | None = Field(default=None, max_length=60)
    body: str | None = Field(default=None, max_length=1024)
    footer: str | None = Field(default=None, max_length=60)
    idempotency_key: str | None = Field(default=None, max_length=200)


class ProviderIn(BaseModel):
    """The workspace's payment provider: its API (where links are made) and credentials."""

    model_config = _STRICT
    api_url: str = Field(max_length=500)
    api_key: str = Field(min_length=1, max_length=500)
    signing_secret: str = Field(min_length=16, max_length=500)

    @field_validator("api_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value) or value


class ProviderOut(BaseModel):
    api_url: str
    callback_url: str = Field(description="where the provider posts its signed callbacks")
    updated_at: datetime


class LinkItemIn(BaseModel):
    model_config = _STRICT
    retailer_id: Sku
    quantity: int = Field(ge=1, le=10_000)
    name: str | None = Field(default=None, max_length=200)
    price: Decimal | None = Field(default=None, ge=0, description="unit price; else catalog's")


class PaymentLinkIn(BaseModel):
    model_config = _STRICT
    contact_id: str
    order_ref: str = Field(min_length=1, max_length=100)
    amount: Decimal | None = Field(
        default=None, gt=0, max_digits=14, decimal_places=4, description="else the items' total"
    )
    currency: Currency | None = None
    items: list[LinkItemIn] = Field(default_factory=list, max_length=500)
    idempotency_key: str | None = Field(default=None, max_length=200)


class PaymentLinkOut(BaseModel):
    id: str
    contact_id: str
    order_ref: str
    amount: Decimal
    currency: str
    items: list[dict[str, Any]]
    status: str
    url: str
    paid_at: datetime | None
    created_at: datetime


class CatalogIn(BaseModel):
    model_config = _STRICT
    catalog_id: str | None = Field(
        max_length=100, pattern=r"^\d+$", description="the platform catalog's id; null removes"
    )
