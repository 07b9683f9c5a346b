"""API shapes for consent topics and the consent ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from threadline.consent.projection import Action

_STRICT = ConfigDict(extra="forbid")


class TopicIn(BaseModel):
    model_config = _STRICT

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)


class TopicOut(BaseModel):
    key: str
    name: str
    description: str


class Disclosure(BaseModel):
    model_config = _STRICT

    text: str = Field(min_length=1, max_length=5000)
    version: str = Field(min_length=1, max_length=64)


class Evidence(BaseModel):
    model_config = _STRICT

    ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=500)
    page_url: str | None = Field(default=None, max_length=2000)
    message_id: str | None = Field(default=None, max_length=200)


class ConsentIn(BaseModel):
    model_config = _STRICT

    action: Action
    channel: str = Field(description="whatsapp, messenger, instagram, apple, sms, email or *")
    topic: str = Field(description="a topic key, transactional, marketing:* or *")
    source: str
    disclosure: Disclosure | None = None
    evidence: Evidence = Field(default_factory=Evidence)
    actor: str | None = Field(default=None, max_length=200)
    occurred_at: datetime | None = None
    address: str | None = Field(default=None, max_length=400)


class ConsentEventOut(BaseModel):
    id: str
    action: str
    channel: str
    topic: str
    source: str
    address: str | None
    disclosure_text: str | None
    disclosure_version: str | None
    disclosure_sha256: str | None
    evidence: dict[str, Any]
    actor: str
    occurred_at: datetime
    expires_at: datetime | None
    recorded_at: datetime
    prompt: PromptOut | None = None


class PromptOut(BaseModel):
    """The double opt-in confirmation prompt Threadline queued (or why it could not)."""

    message_id: str | None
    status: str
    reason: str | None = None
    detail: str | None = None


class ConsentStateOut(BaseModel):
    channel: str
    topic: str
    status: str
