"""The state of one person's conversation with one flow, what can happen to it (events) and
what the engine asks the world to do (actions). All plain data, stored as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from threadline.channels.kinds import Channel
from threadline.channels.messages import CONTENT_ADAPTER, Content
from threadline.flows.format import TemplateSpec


class FlowStatus(StrEnum):
    """Where a flow session stands, in the engine's state and on its stored row."""

    WAITING = "waiting"  # for the person, or a timer
    WEBHOOK = "webhook"  # for the business's system to be called
    CALLING = "calling"  # the stored row only, while a worker makes the webhook call (the claim)
    HANDOFF = "handoff"  # people have the conversation
    ENDED = "ended"


# The engine's statuses by name, as a flow test script checks them (`expect: {status: ...}`).
Status = Literal["waiting", "webhook", "handoff", "ended"]
# "delay": a wait node's pause, during which the session does not hold the conversation.
WaitKind = Literal["ask", "csat", "recommend", "fallback", "webhook", "delay"]
ACTIVE: frozenset[FlowStatus] = frozenset(
    {FlowStatus.WAITING, FlowStatus.WEBHOOK, FlowStatus.HANDOFF}
)


@dataclass(frozen=True, slots=True)
class ContactView:
    """What a flow may read about the person (the runner refreshes it before each step)."""

    name: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()
    interests: frozenset[str] = frozenset()
    timezone: str | None = None
    region: str | None = None  # for phone answers without a country code
    events: tuple[tuple[str, datetime], ...] = ()  # recent contact events (kind, when)


@dataclass(frozen=True, slots=True)
class Wait:
    node: str
    kind: WaitKind
    deadline: datetime
    misses: int = 0


@dataclass(frozen=True, slots=True)
class FlowState:
    flow: str
    channel: Channel
    contact: ContactView
    trigger: str
    started_at: datetime
    expires_at: datetime
    status: FlowStatus | Status = FlowStatus.WAITING  # never CALLING; a name will do
    node: str | None = None
    wait: Wait | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    path: tuple[str, ...] = ()
    score: float = 0.0
    resume_at: str | None = None  # where a hand-back resumes
    outcome: str | None = None
    end_reason: str | None = None
    ended_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def sleeping(self) -> bool:
        """Paused by a wait node: alive, but not holding the person's conversation."""
        return (
            self.status == FlowStatus.WAITING
            and self.wait is not None
            and (self.wait.kind == "delay")
        )

    def with_contact(self, contact: ContactView) -> FlowState:
        return replace(self, contact=contact)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["channel"] = self.channel.value
        data["contact"]["tags"] = sorted(self.contact.tags)
        data["contact"]["interests"] = sorted(self.contact.interests)
        data["contact"]["events"] = [[k, t.isoformat()] for k, t in self.contact.events]
        for key in ("started_at", "expires_at", "ended_at"):
            value = getattr(self, key)
            data[key] = value.isoformat() if value else None
        data["path"] = list(self.path)
        if self.wait:
            data["wait"]["deadline"] = self.wait.deadline.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FlowState:
        contact = data["contact"]
        wait = data.get("wait")
        return cls(
            flow=data["flow"],
            channel=Channel(data["channel"]),
            contact=ContactView(
                name=contact.get("name", ""),
                fields=dict(contact.get("fields", {})),
                tags=frozenset(contact.get("tags", [])),
                interests=frozenset(contact.get("interests", [])),
                timezone=contact.get("timezone"),
                region=contact.get("region"),
                events=tuple((k, datetime.fromisoformat(t)) for k, t in contact.get("events", [])),
            ),
            trigger=data["trigger"],
            started_at=datetime.fromisoformat(data["started_at"]),
            expires_at=datetime.fromisoformat(data["expires_at"]),
            status=FlowStatus(data["status"]),
            node=data.get("node"),
            wait=Wait(
                node=wait["node"],
                kind=wait["kind"],
                deadline=datetime.fromisoformat(wait["deadline"]),
                misses=wait.get("misses", 0),
            )
            if wait
            else None,
            answers=dict(data.get("answers", {})),
            params=dict(data.get("params", {})),
            path=tuple(data.get("path", [])),
            score=float(data.get("score", 0.0)),
            resume_at=data.get("resume_at"),
            outcome=data.get("outcome"),
            end_reason=data.get("end_reason"),
            ended_at=datetime.fromisoformat(data["ended_at"]) if data.get("ended_at") else None,
        )


# ---------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Start:
    trigger: str = "api"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reply:
    text: str = ""
    payload: str | None = None  # the id of a tapped button or list row
    kind: str = "text"


@dataclass(frozen=True, slots=True)
class Timeout:
    pass


@dataclass(frozen=True, slots=True)
class WebhookDone:
    status: int | None  # None: no answer (timeout, network error)
    body: Any = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class HandBack:
    """The agent resolved the ticket and gave the conversation back to the bot."""


@dataclass(frozen=True, slots=True)
class Close:
    """The agent resolved the ticket and the conversation ends there."""


@dataclass(frozen=True, slots=True)
class Exit:
    """One of the flow's exit rules matched (a purchase, a reply, an opt-out)."""

    outcome: str
    reason: str


Event = Start | Reply | Timeout | WebhookDone | HandBack | Close | Exit


# ---------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class Send:
    node: str
    content: Content
    template: TemplateSpec | None = None  # what to send instead if the window is closed
    reprompt: bool = False

    def describe(self) -> dict[str, Any]:
        return {"node": self.node, "content": CONTENT_ADAPTER.dump_python(self.content)}


@dataclass(frozen=True, slots=True)
class SetFields:
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChangeTags:
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AddInterests:
    interests: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AddScore:
    delta: float
    total: float


@dataclass(frozen=True, slots=True)
class CallWebhook:
    node: str
    method: str
    url: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    timeout_seconds: float


@dataclass(frozen=True, slots=True)
class OpenTicket:
    node: str
    team: str
    summary: str


@dataclass(frozen=True, slots=True)
class RecordCsat:
    node: str
    score: int


@dataclass(frozen=True, slots=True)
class Ended:
    outcome: str
    reason: str | None = None


Action = (
    Send
    | SetFields
    | ChangeTags
    | AddInterests
    | AddScore
    | CallWebhook
    | OpenTicket
    | RecordCsat
    | Ended
)
