"""A channel type: everything Threadline knows about one platform, declared as data.

One `ChannelType` per platform lives in `channels/<type>/declaration.py`; the registry lists
them. Neutral layers (policy, flows, inbox, dispatcher) read these facts instead of naming a
channel, so adding a platform is a declaration and an adapter, not edits everywhere."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from threadline.channels import messages as m
from threadline.channels.capabilities import Capabilities
from threadline.channels.errors import ErrorTable
from threadline.channels.kinds import Channel
from threadline.channels.rules import ChannelRules


@dataclass(frozen=True, slots=True)
class OptOutSignals:
    # STOP / UNSUBSCRIBE typed in a message is honoured (the consent keyword engine).
    keywords: bool = True
    # The platform's own switch, e.g. WhatsApp's "Stop promotions" or a Messenger opt-out.
    platform_events: bool = False


@dataclass(frozen=True, slots=True)
class Billable:
    """What one message is billed as on a type priced per unit: so many units of a rate-card
    category (an SMS of three segments: three of `sms`)."""

    category: str
    units: int


@dataclass(frozen=True, slots=True)
class ChannelType:
    kind: Channel
    title: str  # "WhatsApp", "Messenger": what people call it
    urn_scheme: str  # how a contact is addressed on it (contacts/urns normalises the path)
    capabilities: Capabilities
    rules: ChannelRules
    errors: ErrorTable
    # Typed settings and state of one account of this type (non-secret), stored as JSON.
    config: type[BaseModel]
    webhook_path: str
    # Messages per second one sender may send, and the least gap between two to one person.
    throughput_mps: int = 80
    pair_interval_seconds: float | None = None
    opt_out: OptOutSignals = OptOutSignals()
    # Types whose price depends on the content (rules.pricing PER_UNIT) say how it is billed.
    billing: Callable[[m.Content], Billable] | None = None
