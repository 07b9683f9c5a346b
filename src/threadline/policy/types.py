"""The vocabulary of a send decision: what is known about a hypothetical send, and the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum

from threadline.channels.kinds import Channel
from threadline.channels.rules import Basis, ChannelRules


class Purpose(StrEnum):
    SERVICE = "service"
    UTILITY = "utility"
    AUTHENTICATION = "authentication"
    MARKETING = "marketing"


TRANSACTIONAL_PURPOSES = frozenset({Purpose.UTILITY, Purpose.AUTHENTICATION})


class Outcome(StrEnum):
    ALLOWED = "allowed"
    DEFERRED = "deferred"
    REFUSED = "refused"


class Reason(StrEnum):
    """Stable reason codes. Clients match on these; never rename one."""

    NO_CONSENT = "no_consent"
    OPTED_OUT = "opted_out"
    WINDOW_CLOSED = "window_closed"
    TEMPLATE_REQUIRED = "template_required"
    TEMPLATE_NOT_APPROVED = "template_not_approved"
    CATEGORY_MISMATCH = "category_mismatch"
    CHANNEL_CANNOT_INITIATE = "channel_cannot_initiate"
    QUIET_HOURS = "quiet_hours"
    FREQUENCY_CAP = "frequency_cap"
    MESSAGING_LIMIT = "messaging_limit"
    QUALITY_PAUSED = "quality_paused"
    HOLDOUT = "holdout"
    BUDGET_EXCEEDED = "budget_exceeded"
    REGION_BLOCKED = "region_blocked"
    SUBSCRIPTION_REQUIRED = "subscription_required"
    PRIVATE_REPLY_CLOSED = "private_reply_closed"


# Refusals a template would have avoided: the answer names the templates that may go instead.
WINDOW_REASONS = frozenset({Reason.WINDOW_CLOSED, Reason.TEMPLATE_REQUIRED})


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    PENDING = "pending"
    REVOKED = "revoked"
    NONE = "none"


class TemplateCategory(StrEnum):
    MARKETING = "marketing"
    UTILITY = "utility"
    AUTHENTICATION = "authentication"


class Quality(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class TemplateFacts:
    name: str
    category: TemplateCategory
    status: str  # platform status, lower case: approved, pending, rejected, paused, disabled, ...
    # The template's own delivery TTL (WhatsApp message_send_ttl_seconds), when it set one.
    ttl_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class Recipient:
    contact_id: str
    region: str | None = None  # ISO country of the address, e.g. "US"
    subdivision: str | None = None  # e.g. "US-FL", from the area code
    # Every zone the person may be in (profile, phone number): quiet hours must hold in all.
    timezones: tuple[str, ...] = ("UTC",)
    holdout_bucket: int = 9999


@dataclass(frozen=True, slots=True)
class ConsentFacts:
    marketing: ConsentStatus = ConsentStatus.NONE  # for the (channel, topic) of this send
    transactional: ConsentStatus = ConsentStatus.NONE


@dataclass(frozen=True, slots=True)
class CommentFacts:
    """The public comment a send answers in private (a private reply)."""

    comment_id: str
    commented_at: datetime
    answered: bool = False  # a private reply to it already went out (one is allowed)


@dataclass(frozen=True, slots=True)
class WindowFacts:
    service_open_until: datetime | None = None
    entry_point_open_until: datetime | None = None
    human_agent_open_until: datetime | None = None

    def service_open(self, now: datetime) -> bool:
        return self.service_open_until is not None and now < self.service_open_until

    def entry_point_open(self, now: datetime) -> bool:
        return self.entry_point_open_until is not None and now < self.entry_point_open_until

    def human_agent_open(self, now: datetime) -> bool:
        return self.human_agent_open_until is not None and now < self.human_agent_open_until

    def any_free_window_open(self, now: datetime) -> bool:
        return self.service_open(now) or self.entry_point_open(now)


@dataclass(frozen=True, slots=True)
class ChannelFacts:
    quality: Quality = Quality.GREEN
    # Unique recipients reachable outside a service window per rolling 24 h; None = unlimited.
    messaging_limit: int | None = None
    recipients_24h: int = 0
    recipient_already_counted: bool = False
    limit_frees_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FrequencyCap:
    max_messages: int
    window: timedelta
    channel: Channel | None = None  # None: counted across every channel
    label: str = ""


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: time = time(8, 0)
    end: time = time(21, 0)
    no_sundays: bool = False


@dataclass(frozen=True, slots=True)
class RecentSend:
    sent_at: datetime
    channel: Channel


@dataclass(frozen=True, slots=True)
class HoldoutFacts:
    global_control_percent: float = 0.0
    campaign_id: str | None = None
    campaign_holdout_percent: float = 0.0
    campaign_bucket: int = 9999


@dataclass(frozen=True, slots=True)
class SendContext:
    now: datetime
    channel: Channel  # named in explanations only: every rule is read from `rules`
    purpose: Purpose
    recipient: Recipient
    rules: ChannelRules  # the channel type's declared rules (`channels.registry.rules_for`)
    topic: str = "marketing"
    template: TemplateFacts | None = None
    human_agent: bool = False
    consent: ConsentFacts = field(default_factory=ConsentFacts)
    window: WindowFacts = field(default_factory=WindowFacts)
    channel_state: ChannelFacts = field(default_factory=ChannelFacts)
    recent_marketing: tuple[RecentSend, ...] = ()
    caps: tuple[FrequencyCap, ...] = ()
    quiet_hours: QuietHours = field(default_factory=QuietHours)
    holdout: HoldoutFacts = field(default_factory=HoldoutFacts)
    budget_remaining: Decimal | None = None
    campaign_budget_remaining: Decimal | None = None
    cost_estimate: Decimal | None = None
    # Until when the person's marketing-messages subscription lets marketing go outside every
    # window (a channel whose outreach is SUBSCRIPTION); None: no live subscription.
    subscription_until: datetime | None = None
    # The send answers this comment in private (its reply_to names the comment).
    comment: CommentFacts | None = None

    def subscribed(self) -> bool:
        return self.subscription_until is not None and self.now < self.subscription_until


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    reason: Reason | None = None
    detail: str = ""
    requires: tuple[str, ...] = ()
    cost_estimate: Decimal | None = None
    defer_until: datetime | None = None
    # Why an allowed send may go (adapters render it, e.g. Messenger's messaging_type and
    # tag); None when the send is refused or deferred.
    basis: Basis | None = None

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOWED
