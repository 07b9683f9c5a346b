"""A channel type's rules about *when* a business may write, as data the policy reads.

The policy never names a channel: it asks these facts. Each type declares one `ChannelRules`
(see `channels/<type>/declaration.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum


class Outreach(StrEnum):
    """How a business-initiated message may go once every free window is closed."""

    TEMPLATE = "template"  # a pre-approved template (WhatsApp)
    SUBSCRIPTION = "subscription"  # marketing with the person's subscription token (Messenger)
    CONSENT = "consent"  # anything, given recorded consent (SMS, email)


class Basis(StrEnum):
    """Why an allowed send may go: adapters render it (Messenger's messaging_type, the tag)."""

    SERVICE_WINDOW = "service_window"
    AD_WINDOW = "ad_window"
    HUMAN_AGENT = "human_agent"
    TEMPLATE = "template"
    SUBSCRIPTION = "subscription"
    CONSENT = "consent"
    PRIVATE_REPLY = "private_reply"  # the one private answer to a person's public comment


class PricingModel(StrEnum):
    PER_MESSAGE = "per_message"  # the platform bills each business-initiated message
    PER_UNIT = "per_unit"  # the provider bills units of the content (SMS segments, MMS)
    FREE = "free"  # the platform does not bill sends


@dataclass(frozen=True, slots=True)
class ChannelRules:
    # How long after the person's last message free-form messages may go; None: no deadline
    # once the customer has started (Apple Messages).
    service_window: timedelta | None = timedelta(hours=24)
    # A conversation that starts from an ad opens a longer free window.
    ad_entry_window: timedelta | None = None
    # A human agent's reply (never promotional) may go this long after the person's message.
    human_agent_window: timedelta | None = None
    # A person's public comment may be answered once, in private, this long after it was
    # made (Instagram); None: the type has no private replies.
    private_reply_window: timedelta | None = None
    # Only the person can open a conversation: outside every window nothing goes, unless
    # `outreach` names a way.
    customer_must_start: bool = False
    outreach: frozenset[Outreach] = frozenset()
    # One-time codes must travel as an authentication template, even inside the window.
    authentication_needs_template: bool = False
    # Unique recipients reachable outside a window per 24 h are limited per sender.
    messaging_limit: bool = False
    # A RED quality rating pauses marketing from that sender.
    quality_pauses_marketing: bool = False
    # Regions (ISO country) the platform refuses marketing to, with why.
    marketing_blocked_regions: Mapping[str, str] = field(default_factory=dict)
    pricing: PricingModel = PricingModel.FREE
    # How long the platform keeps trying to deliver a message, by purpose ("*": the others).
    # Past it a late delivery is impossible, which is what lets a timed fallback go without
    # delivering twice. Missing: unknown (the platform may deliver whenever the person looks).
    delivery_ttl: Mapping[str, timedelta] = field(default_factory=dict)
    # The longest validity a send may set for itself (Twilio's ValidityPeriod); None: none.
    settable_ttl_max: timedelta | None = None
    # What marketing text must end with when it does not already say how to opt out
    # (CTIA for SMS); None: the type carries its own way out (email's unsubscribe header).
    marketing_opt_out_text: str | None = None

    def marketing_blocked(self, region: str | None) -> str | None:
        return self.marketing_blocked_regions.get(region) if region else None

    def ttl_for(self, purpose: str) -> timedelta | None:
        return self.delivery_ttl.get(purpose) or self.delivery_ttl.get("*")
