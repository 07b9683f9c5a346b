"""API shapes for asking the policy engine about a hypothetical send."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from threadline.channels.kinds import Channel
from threadline.channels.rules import Basis
from threadline.policy.types import Outcome, Purpose, Quality, Reason, TemplateCategory

_STRICT = ConfigDict(extra="forbid")


class TemplateIn(BaseModel):
    model_config = _STRICT

    name: str = Field(min_length=1, max_length=512)
    category: TemplateCategory
    status: str = Field(default="approved", pattern=r"^[a-z_]+$")


class ChannelStateIn(BaseModel):
    """Hypothetical sending-number state; real channels supply their own."""

    model_config = _STRICT

    quality: Quality = Quality.GREEN
    messaging_limit: int | None = Field(default=None, ge=0)


class ExplainRequest(BaseModel):
    model_config = _STRICT

    contact_id: str
    channel: Channel
    purpose: Purpose
    topic: str = "marketing"
    template: TemplateIn | None = None
    human_agent: bool = False
    campaign_id: str | None = Field(default=None, max_length=40)
    campaign_holdout_percent: float = Field(default=0.0, ge=0, le=50)
    cost_estimate: Decimal | None = Field(default=None, ge=0)
    sender: str | None = Field(default=None, max_length=100)
    channel_state: ChannelStateIn | None = None
    at: datetime | None = Field(default=None, description="When the send would happen")


class DecisionOut(BaseModel):
    outcome: Outcome
    reason: Reason | None
    detail: str
    requires: list[str]
    cost_estimate: Decimal | None
    defer_until: datetime | None
    basis: Basis | None = Field(
        default=None,
        description="Why an allowed send may go: service_window, ad_window, human_agent, "
        "template, subscription, consent or private_reply (None when refused or deferred)",
    )
    facts: dict[str, Any] = Field(description="What the engine knew when it decided")
