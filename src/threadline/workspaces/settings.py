"""Per-workspace policy settings, stored as JSON on the workspace row."""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from threadline.channels.kinds import Channel
from threadline.kit.clock import known_zone
from threadline.policy.types import FrequencyCap, Purpose, QuietHours

DEFAULT_HELP_TEXT = (
    "{business}: reply STOP to unsubscribe, START to resubscribe. Message frequency varies. "
    "Msg & data rates may apply."
)


class CapSetting(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_messages: int = Field(ge=0)
    hours: int = Field(ge=1, le=24 * 31)
    channel: Channel | None = None

    def to_cap(self) -> FrequencyCap:
        return FrequencyCap(
            max_messages=self.max_messages,
            window=timedelta(hours=self.hours),
            channel=self.channel,
            label="workspace cap",
        )


class QuietHoursSetting(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: time = time(8, 0)
    end: time = time(21, 0)
    no_sundays: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> QuietHoursSetting:
        if self.start >= self.end:
            raise ValueError("quiet_hours.start must be before quiet_hours.end")
        return self

    def to_hours(self) -> QuietHours:
        return QuietHours(start=self.start, end=self.end, no_sundays=self.no_sundays)


def _default_caps() -> list[CapSetting]:
    return [CapSetting(max_messages=3, hours=24), CapSetting(max_messages=10, hours=24 * 7)]


class ContactStrategy(BaseModel):
    """For one purpose: the channels to try, best first, and what one send may cost."""

    model_config = ConfigDict(extra="forbid")

    order: list[Channel] = Field(min_length=1)
    max_cost: Decimal | None = Field(
        default=None, ge=0, description="skip a channel whose estimated price is above this"
    )

    @field_validator("order")
    @classmethod
    def _once_each(cls, value: list[Channel]) -> list[Channel]:
        if len(set(value)) != len(value):
            raise ValueError("each channel may appear once in a contact strategy")
        return value


def _default_strategies() -> dict[Purpose, ContactStrategy]:
    # Service answers go where people chat; marketing and updates prefer the channels whose
    # consent is recorded per number or address, WhatsApp first for its read rates.
    chat_first = [
        Channel.WHATSAPP,
        Channel.MESSENGER,
        Channel.INSTAGRAM,
        Channel.APPLE,
        Channel.SMS,
        Channel.EMAIL,
    ]
    outreach = [
        Channel.WHATSAPP,
        Channel.SMS,
        Channel.EMAIL,
        Channel.MESSENGER,
        Channel.INSTAGRAM,
        Channel.APPLE,
    ]
    return {
        purpose: ContactStrategy(order=chat_first if purpose is Purpose.SERVICE else outreach)
        for purpose in Purpose
    }


class WorkspaceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    business_name: str = ""
    default_timezone: str = "UTC"
    default_country: str | None = None
    global_control_percent: float = Field(default=0.0, ge=0, le=15)
    frequency_caps: list[CapSetting] = Field(default_factory=_default_caps)
    quiet_hours: QuietHoursSetting = Field(default_factory=QuietHoursSetting)
    monthly_budget: Decimal | None = Field(default=None, ge=0)
    marketing_templates_need_opt_out: bool = Field(
        default=False,
        description="the template linter refuses MARKETING templates without opt-out wording",
    )
    campaign_budgets: dict[str, Annotated[Decimal, Field(ge=0)]] = Field(
        default_factory=dict, description="campaign id -> its whole budget (rate-card currency)"
    )
    help_text: str = DEFAULT_HELP_TEXT
    contact_strategy: dict[Purpose, ContactStrategy] = Field(
        default_factory=_default_strategies,
        description="per purpose, the channel preference order 'send to a contact' follows",
    )
    double_opt_in_prompt: str = (
        "{business}: reply START to confirm you want {topic} messages from us. "
        "Reply STOP at any time to opt out."
    )
    # CTIA: a confirmation names the brand and says how to undo it; no marketing in it.
    opt_out_confirmation: str = (
        "{business}: you're unsubscribed and will get no more messages. Reply START to resubscribe."
    )
    opt_in_confirmation: str = (
        "{business}: you're subscribed again. Message frequency varies. "
        "Msg & data rates may apply. Reply HELP for help, STOP to unsubscribe."
    )

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)

    def help_message(self, workspace_name: str) -> str:
        return self.help_text.format(business=self.business_name or workspace_name)

    def opt_out_message(self, workspace_name: str) -> str:
        return self.opt_out_confirmation.format(business=self.business_name or workspace_name)

    def opt_in_message(self, workspace_name: str) -> str:
        return self.opt_in_confirmation.format(business=self.business_name or workspace_name)

    def strategy_for(self, purpose: Purpose) -> ContactStrategy:
        return self.contact_strategy.get(purpose) or _default_strategies()[purpose]

    def caps(self) -> tuple[FrequencyCap, ...]:
        return tuple(cap.to_cap() for cap in self.frequency_caps)
