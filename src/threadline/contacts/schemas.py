"""API shapes for contacts, custom fields and contact events."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_STRICT = ConfigDict(extra="forbid")


class ContactIn(BaseModel):
    model_config = _STRICT

    name: str = Field(default="", max_length=200)
    urns: list[str] = Field(default_factory=list, max_length=20)
    language: str | None = Field(default=None, max_length=16)
    timezone: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list, max_length=100)
    interests: list[str] = Field(default_factory=list, max_length=100)


class ContactPatch(BaseModel):
    model_config = _STRICT

    name: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, max_length=16)
    timezone: str | None = None
    fields: dict[str, Any] | None = None
    tags: list[str] | None = Field(default=None, max_length=100)
    interests: list[str] | None = Field(default=None, max_length=100)


class ContactOut(BaseModel):
    id: str
    name: str
    urns: list[str]
    language: str | None
    timezone: str | None
    fields: dict[str, Any]
    tags: list[str]
    interests: list[str]
    created_at: datetime
    updated_at: datetime


class ContactPage(BaseModel):
    items: list[ContactOut]
    next_cursor: str | None


class UrnIn(BaseModel):
    model_config = _STRICT

    urn: str


class MergeIn(BaseModel):
    model_config = _STRICT

    keep_id: str
    merge_id: str


class MergeOut(BaseModel):
    """The kept contact, and per table how many rows of the merged contact now point at it
    (`moved`, every table that references contacts) or were folded into an equal row it
    already had (`combined`: shared tags, a conversation on a channel both had)."""

    contact: ContactOut
    moved: dict[str, int]
    combined: dict[str, int]


class FieldType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    BOOLEAN = "boolean"


class FieldDefinitionIn(BaseModel):
    model_config = _STRICT

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    label: str = Field(default="", max_length=200)
    value_type: FieldType = FieldType.TEXT


class FieldDefinitionOut(BaseModel):
    key: str
    label: str
    value_type: FieldType


class EventKind(StrEnum):
    PURCHASE = "purchase"
    CART_UPDATED = "cart_updated"
    ORDER_STATUS = "order_status"
    APPOINTMENT_BOOKED = "appointment_booked"
    ORDER = "order"  # a cart sent from the catalog (or an order placed in the shop)
    ORDER_PAID = "order_paid"  # the payment provider confirmed the order's payment
    CUSTOM = "custom"


class EventIn(BaseModel):
    model_config = _STRICT

    idempotency_key: str = Field(min_length=1, max_length=200)
    kind: EventKind
    contact_id: str | None = None
    urn: str | None = None
    name: str | None = Field(default=None, max_length=100)
    occurred_at: datetime | None = None
    # What the database column holds (Numeric(14, 4)): anything else would be rounded or refused.
    value: Decimal | None = Field(default=None, max_digits=14, decimal_places=4)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    properties: dict[str, Any] = Field(default_factory=dict)


class EventOut(BaseModel):
    id: str
    contact_id: str
    kind: str
    name: str | None
    occurred_at: datetime
    value: Decimal | None
    currency: str | None
    properties: dict[str, Any]
    idempotency_key: str
