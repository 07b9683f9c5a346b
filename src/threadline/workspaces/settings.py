"""Per-workspace policy settings, stored as JSON on the workspace row."""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from threadline.channels.kinds import Channel
from threadline.policy.types import FrequencyCap, QuietHours

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
    double_opt_in_prompt: str = (
        "{business}: reply START to confirm you want {topic} messages from us. "
        "Reply STOP at any time to opt out."
    )
    opt_out_confirmation: str = (
        "You're unsubscribed and will get no more messages. Reply START to resubscribe."
    )

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone '{value}'") from exc
        return value

    def help_message(self, workspace_name: str) -> str:
        return self.help_text.format(business=self.business_name or workspace_name)

    def caps(self) -> tuple[FrequencyCap, ...]:
        return tuple(cap.to_cap() for cap in self.frequency_caps)
