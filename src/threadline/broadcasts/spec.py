"""What a broadcast is: its audience, channels, content, schedule and limits, as the API
takes it and as it is stored (validated once, on the way in)."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from threadline.channels.kinds import Channel
from threadline.channels.messages import Content, MarkRead, Reaction, Typing
from threadline.kit.clock import known_zone
from threadline.policy.types import FrequencyCap, Purpose

DEFAULT = "default"  # the content key used on a channel that has none of its own


class ScheduleKind(StrEnum):
    NOW = "now"  # as soon as it is sent
    AT = "at"  # at one moment, for everyone
    LOCAL_TIME = "local_time"  # at a wall-clock time on a date, in each recipient's zone


class Recurrence(StrEnum):
    NONE = "none"
    DAILY = "daily"
    WEEKLY = "weekly"


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ScheduleKind = ScheduleKind.NOW
    at: dt.datetime | None = Field(default=None, description="kind=at: the moment (with offset)")
    date: dt.date | None = Field(default=None, description="kind=local_time: the first date")
    local_time: dt.time | None = Field(default=None, description="kind=local_time: e.g. 10:00")
    zone: str | None = Field(
        default=None, description="kind=at with recurrence: the zone whose wall clock repeats"
    )
    recurrence: Recurrence = Recurrence.NONE
    until: dt.date | None = Field(default=None, description="last date of a recurring broadcast")

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.kind is ScheduleKind.AT and (self.at is None or self.at.tzinfo is None):
            raise ValueError("schedule.at must be a moment with its UTC offset")
        if self.kind is ScheduleKind.LOCAL_TIME and (self.date is None or self.local_time is None):
            raise ValueError("a local_time schedule needs schedule.date and schedule.local_time")
        if self.kind is ScheduleKind.NOW and self.recurrence is not Recurrence.NONE:
            raise ValueError("a recurring broadcast needs kind 'at' or 'local_time'")
        if self.zone is not None:
            known_zone(self.zone)
        return self


class CapSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_messages: int = Field(ge=0)
    hours: int = Field(ge=1, le=24 * 31)

    def to_cap(self) -> FrequencyCap:
        return FrequencyCap(
            max_messages=self.max_messages,
            window=timedelta(hours=self.hours),
            label="broadcast cap",
        )


class Guardrails(BaseModel):
    """When a broadcast pauses itself. Rates are over its messages of the last `window`,
    once `min_sample` of them have been sent (a rate of 1 in 3 says nothing)."""

    model_config = ConfigDict(extra="forbid")

    window_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    min_sample: int = Field(default=200, ge=1)
    # Defaults follow the providers' own pause points (docs/broadcasts.md).
    max_failure_rate: float = Field(default=0.10, ge=0, le=1)
    max_opt_out_rate: float = Field(default=0.03, ge=0, le=1)
    max_block_rate: float = Field(default=0.005, ge=0, le=1)
    pause_on_red_quality: bool = True


class BroadcastSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    audience: str = Field(min_length=1, max_length=10_000, description="segment language")
    purpose: Purpose = Purpose.MARKETING
    topic: str = Field(default="marketing", max_length=64)
    channels: list[Channel] = Field(
        default_factory=list,
        description="preference order; empty: the workspace's contact strategy for the purpose",
    )
    content: dict[str, Content] = Field(
        description="per channel type (or 'default'): the message, with {{contact.name}} and "
        "{{contact.<field>|fallback}} placeholders; a template's parameters are mapped the same "
        "way"
    )
    session_content: dict[str, Content] = Field(
        default_factory=dict,
        description="per channel type: a free-form message for recipients whose service "
        "window is open (free), instead of the template",
    )
    schedule: Schedule = Field(default_factory=Schedule)
    throttle_per_minute: int | None = Field(default=None, ge=1, le=6_000_000)
    frequency_cap: CapSpec | None = None
    holdout_percent: float = Field(default=0.0, ge=0, le=50)
    budget: Annotated[Decimal, Field(ge=0)] | None = None
    add_opt_out_instructions: bool = Field(
        default=True,
        description="marketing text on channels whose rules ask for it (SMS) ends with how "
        "to opt out, unless it already says so",
    )
    guardrails: Guardrails = Field(default_factory=Guardrails)

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        known = {DEFAULT, *(kind.value for kind in Channel)}
        for where, table in (("content", self.content), ("session_content", self.session_content)):
            for key, item in table.items():
                if key not in known:
                    raise ValueError(f"{where} key '{key}' is not a channel type or 'default'")
                if isinstance(item, Reaction | MarkRead | Typing):
                    raise ValueError(f"{where}.{key}: a broadcast cannot send a {item.type}")
        if not self.content:
            raise ValueError("content needs at least one message")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("channels lists a channel type twice")
        return self

    def content_for(self, kind: Channel) -> Content | None:
        return self.content.get(kind.value) or self.content.get(DEFAULT)
