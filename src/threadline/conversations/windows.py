"""Platform windows, computed from the platform's own timestamps."""

from __future__ import annotations

from datetime import datetime, timedelta

from threadline.channels.kinds import Channel
from threadline.policy.types import WindowFacts

SERVICE_WINDOW = timedelta(hours=24)
# A click-to-message ad entry opens a longer free window (WhatsApp 72 h, Messenger 7 days).
ENTRY_POINT_WINDOW = {
    Channel.WHATSAPP: timedelta(hours=72),
    Channel.MESSENGER: timedelta(days=7),
    Channel.INSTAGRAM: timedelta(days=7),
}
HUMAN_AGENT_WINDOW = timedelta(days=7)
# Apple sets no reply deadline once the customer has started a chat; it ends when they close it.
APPLE_OPEN_CONVERSATION = timedelta(days=3650)


def window_facts(
    channel: Channel,
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
    service = APPLE_OPEN_CONVERSATION if channel is Channel.APPLE else SERVICE_WINDOW
    entry_point_until = None
    entry_span = ENTRY_POINT_WINDOW.get(channel)
    if entry_point_at is not None and entry_span is not None:
        entry_point_until = entry_point_at + entry_span
    human_agent_until = (
        last_inbound_at + HUMAN_AGENT_WINDOW
        if channel in (Channel.MESSENGER, Channel.INSTAGRAM)
        else None
    )
    return WindowFacts(
        service_open_until=last_inbound_at + service,
        entry_point_open_until=entry_point_until,
        human_agent_open_until=human_agent_until,
    )
