"""The flow file format: what a flow author writes, as typed models.

Flows are YAML files a team reviews in git. `format: 1` names this version of the format;
`docs/flow.schema.json` is generated from these models (`threadline flows schema`)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from threadline.channels.kinds import Channel

FORMAT_VERSION = 1
Outcome = Literal["resolved", "lead_captured", "purchased", "handed_off", "abandoned"]
OUTCOMES: tuple[str, ...] = ("resolved", "lead_captured", "purchased", "handed_off", "abandoned")
# A session recorded for a contact in an automation's control group: it ran no node and sent
# nothing, and it is what the holdout comparison counts (the ghost exposure).
HELD_OUT = "held_out"
NODE_ID = r"^[a-z][a-z0-9_]{0,39}$"
_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str) and (found := _DURATION.match(value)):
        amount, unit = found.groups()
        return timedelta(**{_UNITS[unit]: int(amount)})
    raise ValueError("a duration like 30s, 10m, 2h or 3d")


def _render_duration(value: timedelta) -> str:
    return f"{int(value.total_seconds())}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    PlainSerializer(_render_duration, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": _DURATION.pattern},
                {"type": "integer", "minimum": 0, "description": "seconds"},
            ]
        }
    ),
]
NodeId = Annotated[str, Field(pattern=NODE_ID)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- conditions (branch)


class Condition(_Strict):
    """One test; every key given must hold. `all`/`any`/`not` combine conditions."""

    answer: str | None = Field(default=None, description="an answer saved by an ask (save_as)")
    field: str | None = Field(default=None, description="a contact field")
    equals: Any = None
    one_of: list[Any] | None = Field(default=None, alias="in")
    at_least: float | None = Field(default=None, alias="gte")
    at_most: float | None = Field(default=None, alias="lte")
    contains: str | None = None
    exists: bool | None = None
    tag: str | None = None
    interest: str | None = None
    channel: Channel | None = None
    trigger: str | None = Field(default=None, description="how the session started")
    hours: tuple[int, int] | None = Field(
        default=None, description="contact's local hour in [from, to) — e.g. [9, 18]"
    )
    weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] | None = None
    event: str | None = Field(default=None, description="a contact event kind seen recently")
    within: Duration = timedelta(days=30)
    score_at_least: float | None = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(default=None, alias="not")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_subject(self) -> Condition:
        subjects = [
            self.answer,
            self.field,
            self.tag,
            self.interest,
            self.channel,
            self.trigger,
            self.hours,
            self.weekdays,
            self.event,
            self.score_at_least,
            self.all,
            self.any,
            self.not_,
        ]
        if sum(s is not None for s in subjects) != 1:
            raise ValueError(
                "a condition tests exactly one of answer, field, tag, interest, channel, "
                "trigger, hours, weekdays, event, score_at_least, all, any, not"
            )
        tests = [self.equals, self.one_of, self.at_least, self.at_most, self.contains, self.exists]
        if (self.answer or self.field) and all(t is None for t in tests):
            raise ValueError(
                "answer/field conditions need equals, in, gte, lte, contains or exists"
            )
        return self


# ---------------------------------------------------------------- nodes


class ChoiceSpec(_Strict):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,100}$")]
    title: Annotated[str, Field(min_length=1, max_length=72)]
    description: str | None = Field(default=None, max_length=72)
    synonyms: list[str] = Field(default_factory=list)
    next: NodeId | None = Field(
        default=None, description="where this choice leads (else node next)"
    )


class MediaSpec(_Strict):
    kind: Literal["image", "video", "audio", "document"]
    url: str
    caption: str | None = None
    filename: str | None = None


class CtaSpec(_Strict):
    display_text: Annotated[str, Field(min_length=1, max_length=20)]
    url: str


class TemplateSpec(_Strict):
    """The approved template to send instead when the conversation window is closed."""

    name: str
    language: str = "en_US"
    body: list[str] = Field(default_factory=list, description="values for {{1}}, {{2}}, ...")


class _Node(_Strict):
    id: NodeId
    next: NodeId | None = None


class Say(_Node):
    type: Literal["say"]
    text: str | None = None
    media: MediaSpec | None = None
    cta: CtaSpec | None = None
    template: TemplateSpec | None = None

    @model_validator(mode="after")
    def _something(self) -> Say:
        if self.text is None and self.media is None:
            raise ValueError("say needs text or media")
        if self.cta is not None and self.text is None:
            raise ValueError("a CTA button needs text to sit under")
        return self


Expect = Literal["choice", "text", "email", "phone", "number", "date", "yes_no"]


class Ask(_Node):
    type: Literal["ask"]
    text: str
    expect: Expect | None = Field(default=None, description="defaults to choice when choices given")
    choices: list[ChoiceSpec] = Field(default_factory=list)
    save_as: str | None = None
    min: float | None = None
    max: float | None = None
    retries: int | None = Field(default=None, ge=0, le=5, description="re-prompts before fallback")
    reprompt: str | None = None
    timeout: Duration | None = None
    on_timeout: NodeId | None = None
    on_invalid: NodeId | None = Field(default=None, description="instead of the honest fallback")
    list_button: str = Field(default="Choose", max_length=20)

    @model_validator(mode="after")
    def _expectation(self) -> Ask:
        kind = self.expect or ("choice" if self.choices else "text")
        if kind == "choice" and not self.choices:
            raise ValueError("expect: choice needs choices")
        if kind != "choice" and self.choices:
            raise ValueError(f"choices only go with expect: choice (not {kind})")
        ids = [c.id for c in self.choices]
        if len(ids) != len(set(ids)):
            raise ValueError("choice ids must be unique")
        if (self.min is not None or self.max is not None) and kind != "number":
            raise ValueError("min/max only go with expect: number")
        return self

    @property
    def kind(self) -> Expect:
        return self.expect or ("choice" if self.choices else "text")


class Case(_Strict):
    when: Condition
    next: NodeId


class Branch(_Node):
    type: Literal["branch"]
    cases: list[Case] = Field(min_length=1)
    default: NodeId


class TagChanges(_Strict):
    add: list[str] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)


class SetNode(_Node):
    type: Literal["set"]
    fields: dict[str, Any] = Field(default_factory=dict)
    tags: TagChanges = Field(default_factory=TagChanges)
    interests: list[str] = Field(default_factory=list)
    score: float | None = Field(default=None, description="added to the lead score")
    answers: dict[str, Any] = Field(default_factory=dict, description="values for later nodes")


class Webhook(_Node):
    type: Literal["webhook"]
    url: str
    method: Literal["GET", "POST", "PUT", "PATCH"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] | None = None
    timeout: Duration = timedelta(seconds=5)
    save_as: str | None = Field(default=None, description="the JSON answer, or the mapped result")
    map: dict[str, str] = Field(
        default_factory=dict, description="name -> dotted path in the JSON answer"
    )
    on_failure: NodeId = Field(description="non-2xx, timeout or network error")

    @model_validator(mode="after")
    def _bounded(self) -> Webhook:
        if not timedelta(seconds=1) <= self.timeout <= timedelta(seconds=30):
            raise ValueError("webhook timeout must be between 1s and 30s")
        return self


class Recommend(_Node):
    type: Literal["recommend"]
    text: str
    where: dict[str, str] = Field(
        default_factory=dict, description="catalog attribute -> value (templated), equal"
    )
    tags_any: list[str] = Field(default_factory=list, description="at least one of these tags")
    price_max: str | float | None = None
    limit: int = Field(default=5, ge=1, le=10)
    style: Literal["list", "cards"] = "list"
    save_as: str | None = Field(default=None, description="wait for a pick and save its id")
    on_empty: NodeId
    timeout: Duration | None = None
    on_timeout: NodeId | None = None


class Handoff(_Node):
    type: Literal["handoff"]
    team: str = "support"
    summary: str = "Customer asked for a person"
    text: str | None = Field(default="Connecting you with a person now. They will reply here.")


class Csat(_Node):
    type: Literal["csat"]
    text: str = "How would you rate this conversation, from 1 (bad) to 5 (great)?"
    save_as: str = "csat"
    timeout: Duration | None = None


class WaitNode(_Node):
    """A pause: for a while (`for: 1h`) or until a moment (`until:` a placeholder that gives
    an ISO date-time, minus `before`). The session sleeps without holding the conversation:
    the person can talk to other flows and to agents meanwhile."""

    type: Literal["wait"]
    for_: Duration | None = Field(default=None, alias="for", description="how long to wait")
    until: str | None = Field(
        default=None, description='an ISO date-time, e.g. "{{params.event.starts_at}}"'
    )
    before: Duration = Field(default=timedelta(0), description="how long before `until`")
    if_past: Literal["continue", "end"] = Field(
        default="continue", description="when the moment has already passed"
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_measure(self) -> WaitNode:
        if (self.for_ is None) == (self.until is None):
            raise ValueError("a wait has exactly one of for or until")
        if self.before and self.until is None:
            raise ValueError("before only goes with until")
        if self.next is None:
            raise ValueError("a wait needs a next")
        return self


class Goto(_Node):
    type: Literal["goto"]
    target: NodeId


class Subflow(_Node):
    type: Literal["subflow"]
    flow: str = Field(description="key of another flow file in the same directory")


class End(_Node):
    type: Literal["end"]
    outcome: Outcome = "resolved"
    text: str | None = None


Node = Annotated[
    Say
    | Ask
    | Branch
    | SetNode
    | Webhook
    | Recommend
    | Handoff
    | Csat
    | WaitNode
    | Goto
    | Subflow
    | End,
    Field(discriminator="type"),
]
WAITING_TYPES = frozenset({"ask", "csat"})


# ---------------------------------------------------------------- triggers


class ReferralMatch(_Strict):
    source_id: str | None = None
    headline_contains: str | None = None

    @model_validator(mode="after")
    def _one(self) -> ReferralMatch:
        if (self.source_id is None) == (self.headline_contains is None):
            raise ValueError("a referral trigger names source_id or headline_contains")
        return self


class EventMatch(_Strict):
    kind: str
    name: str | None = None


class Schedule(_Strict):
    every: Literal["hour", "day", "week"] = "day"
    at: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    tag: str | None = Field(default=None, description="contacts with this tag are started")
    segment: str | None = Field(
        default=None, description="contacts matching this segment query are started"
    )

    @model_validator(mode="after")
    def _one_audience(self) -> Schedule:
        if (self.tag is None) == (self.segment is None):
            raise ValueError("a schedule starts the contacts of exactly one tag or segment")
        return self


class Trigger(_Strict):
    keyword: list[str] | None = Field(default=None, description="whole words, any language")
    first_inbound: bool | None = None
    referral: ReferralMatch | None = None
    event: EventMatch | None = None
    api: bool | None = None
    schedule: Schedule | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Trigger:
        given = [self.keyword, self.first_inbound, self.referral, self.event, self.api]
        if sum(v is not None for v in [*given, self.schedule]) != 1:
            raise ValueError(
                "a trigger is exactly one of keyword, first_inbound, referral, event, api, schedule"
            )
        if self.keyword is not None and not [k for k in self.keyword if k.strip()]:
            raise ValueError("keyword trigger needs at least one word")
        return self

    @property
    def kind(self) -> str:
        for name in ("keyword", "first_inbound", "referral", "event", "api", "schedule"):
            if getattr(self, name) is not None:
                return name
        raise AssertionError("validated trigger has a kind")


class ExitRule(_Strict):
    """What ends a running session early: an event (a purchase ends the abandoned-cart
    reminder), the person writing while it waits, or an opt-out."""

    event: EventMatch | None = None
    reply: bool | None = Field(default=None, description="the person writes while it waits")
    opt_out: bool | None = None
    outcome: Outcome = "resolved"

    @model_validator(mode="after")
    def _one_kind(self) -> ExitRule:
        if sum(v is not None for v in (self.event, self.reply, self.opt_out)) != 1:
            raise ValueError("an exit is exactly one of event, reply, opt_out")
        return self


class Reentry(_Strict):
    """When a trigger may start the flow again for someone who was already in it."""

    while_active: Literal["ignore", "restart"] = Field(
        default="ignore", description="a trigger while the contact's session runs"
    )
    after: Duration | None = Field(
        default=None, description="no new start sooner than this after the last one"
    )


class Fallback(_Strict):
    after: int = Field(default=2, ge=1, le=5, description="unrecognised replies at one wait")
    text: str = (
        "Sorry, I can't help with that here. Would you like to talk to a person, or start over?"
    )
    team: str = "support"


class Escapes(_Strict):
    human: list[str] = Field(
        default_factory=lambda: [
            "agent",
            "human",
            "person",
            "operator",
            "talk to a person",
            "talk to someone",
            "real person",
            "humano",
            "agente",
            "atendente",
            "persona",
            "pessoa",
            "mensch",
            "humain",
            "conseiller",
        ]
    )
    menu: list[str] = Field(
        default_factory=lambda: ["menu", "start over", "restart", "inicio", "início", "menú"]
    )


class Product(_Strict):
    """A product as a `recommend` node sees it (from the flow's catalog file)."""

    id: str
    title: str
    description: str | None = None
    price: float | None = None
    currency: str = "USD"
    image: str | None = None
    url: str | None = None
    tags: list[str] = Field(default_factory=list)
    attributes: dict[str, str] = Field(default_factory=dict)


class FlowFile(_Strict):
    format: Literal[1] = Field(description="version of this file format")
    flow: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,59}$")]
    name: str
    description: str | None = None
    language: str = "en"
    purpose: Literal["service", "utility", "marketing"] = Field(
        default="service", description="what messages are outside a reply (proactive starts)"
    )
    priority: int = 0
    expires_after: Duration = timedelta(hours=24)
    wait_timeout: Duration = Field(
        default=timedelta(hours=1), description="default timeout of every wait"
    )
    fallback: Fallback = Field(default_factory=Fallback)
    escapes: Escapes = Field(default_factory=Escapes)
    triggers: list[Trigger] = Field(default_factory=list)
    exit_on: list[ExitRule] = Field(default_factory=list, description="what ends a run early")
    reentry: Reentry = Field(default_factory=Reentry)
    holdout_percent: float = Field(
        default=0.0, ge=0, le=50, description="share of contacts kept out as a control group"
    )
    catalog: str | None = Field(default=None, description="YAML/CSV product file, relative")
    start: NodeId
    nodes: list[Node] = Field(min_length=1)
