"""API shapes for opt-in pages, their links and checkout opt-ins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_STRICT = ConfigDict(extra="forbid")
TOPIC = r"^[a-z][a-z0-9_]{0,63}$"


class PageIn(BaseModel):
    model_config = _STRICT

    topic: str = Field(pattern=TOPIC, description="the consent topic the page signs up to")
    title: str = Field(min_length=1, max_length=200)
    disclosure: str = Field(
        min_length=1,
        max_length=5000,
        description="the exact words beside the checkbox: business, what, how often, STOP",
    )
    keyword: str = Field(default="JOIN", max_length=32, description="the opt-in word by message")
    channels: list[str] = Field(
        default_factory=lambda: ["whatsapp", "sms", "email"],
        description="what the form offers: whatsapp, sms, email",
    )
    confirmation_text: str | None = Field(
        default=None, max_length=1000, description="the welcome; {business} and {topic} are filled"
    )
    confirmation_template: str | None = Field(
        default=None, max_length=200, description="WhatsApp: approved template for the welcome"
    )
    confirm_within_hours: int = Field(default=24, ge=1, le=720)
    slug: str | None = Field(default=None, max_length=64, description="/join/<slug>")


class PagePatch(BaseModel):
    model_config = _STRICT

    title: str | None = Field(default=None, min_length=1, max_length=200)
    disclosure: str | None = Field(default=None, min_length=1, max_length=5000)
    keyword: str | None = Field(default=None, max_length=32)
    channels: list[str] | None = None
    confirmation_text: str | None = Field(default=None, max_length=1000)
    confirmation_template: str | None = Field(default=None, max_length=200)
    confirm_within_hours: int | None = Field(default=None, ge=1, le=720)
    slug: str | None = Field(default=None, max_length=64)


class DisclosureOut(BaseModel):
    text: str
    version: str


class PageOut(BaseModel):
    id: str
    topic: str
    title: str
    slug: str
    keyword: str
    channels: list[str]
    disclosure: DisclosureOut
    version: int
    confirmation_text: str
    confirmation_template: str | None
    confirm_within_hours: int
    urls: dict[str, str | None]
    created_at: datetime
    updated_at: datetime


class LinkIn(BaseModel):
    model_config = _STRICT

    ref: str = Field(min_length=1, max_length=32, description="lower-case letters and digits")
    source: str = Field(default="qr", description="qr, ad, widget or keyword")
    label: str = Field(default="", max_length=200, description="e.g. 'poster by the till'")


class LinkOut(BaseModel):
    id: str
    page_id: str
    ref: str
    source: str
    label: str
    urls: dict[str, str | None]
    created_at: datetime


class CheckoutOptInIn(BaseModel):
    model_config = _STRICT

    checked: bool = Field(description="the checkbox as the person left it (unticked by default)")
    channels: list[str] = Field(min_length=1, description="whatsapp, sms, email")
    topic: str = Field(default="marketing", pattern=TOPIC)
    phone: str = Field(default="", max_length=40)
    email: str = Field(default="", max_length=320)
    disclosure_text: str = Field(min_length=1, max_length=5000)
    disclosure_version: str = Field(min_length=1, max_length=64)
    order_ref: str | None = Field(default=None, max_length=200)
    page_url: str | None = Field(default=None, max_length=2000)
    ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=500)
    occurred_at: datetime | None = None
    send_confirmation: bool = True


class JoinedOut(BaseModel):
    channel: str
    contact_id: str
    consent_event_id: str


class CheckoutOptInOut(BaseModel):
    granted: list[JoinedOut]
    confirmations: list[dict[str, Any]]
