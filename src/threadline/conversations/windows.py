"""Platform windows, computed from the platform's own timestamps and the type's rules."""

from __future__ import annotations

from datetime import datetime, timedelta

from threadline.channels.kinds import Channel
from threadline.channels.registry import rules_for
from threadline.channels.rules import ChannelRules
from threadline.policy.types import WindowFacts

# A type without a reply deadline (Apple) keeps the conversation open until the person closes
# it: far enough ahead to never expire by arithmetic.
OPEN_CONVERSATION = timedelta(days=3650)


def window_facts(
    kind: Channel,
    last_inbound_at: datetime | None,
    entry_point_at: datetime | None = None,
    closed_at: datetime | None = None,
) -> WindowFacts:
    """Windows for one contact on a channel of this kind."""
    return windows_under(rules_for(kind), last_inbound_at, entry_point_at, closed_at)


def windows_under(
    rules: ChannelRules,
    last_inbound_at: datetime | None,
    entry_point_at: datetime | None = None,
    closed_at: datetime | None = None,
) -> WindowFacts:
    """Windows for one contact on one channel. `closed_at` is when the platform told us the
    window is gone (it wins over our own arithmetic until the contact writes again)."""
    if last_inbound_at is None:
        return WindowFacts()
    if closed_at is not None and closed_at >= last_inbound_at:
        return WindowFacts()
    service = rules.service_window if rules.service_window is not None else OPEN_CONVERSATION
    entry_span = rules.ad_entry_window
    agent_span = rules.human_agent_window
    return WindowFacts(
        service_open_until=last_inbound_at + service,
        entry_point_open_until=(
            entry_point_at + entry_span
            if entry_point_at is not None and entry_span is not None
            else None
        ),
        human_agent_open_until=last_inbound_at + agent_span if agent_span is not None else None,
    )
