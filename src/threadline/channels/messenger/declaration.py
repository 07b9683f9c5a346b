"""Messenger, declared (platform reference §2): only the person starts; 24 h window, 7 days
after an ad; a human agent may answer for 7 days; marketing outside the window needs the
person's Marketing Messages subscription token."""

from __future__ import annotations

from datetime import timedelta

from threadline.channels.capabilities import MB, Capabilities
from threadline.channels.kinds import Channel
from threadline.channels.meta.config import PageConfig
from threadline.channels.meta.errors import TABLE
from threadline.channels.rules import ChannelRules, Outreach
from threadline.channels.types import ChannelType, OptOutSignals

MESSENGER = ChannelType(
    kind=Channel.MESSENGER,
    title="Messenger",
    urn_scheme="messenger",
    capabilities=Capabilities(
        text_max=2000,
        buttons_max=3,  # button template
        button_title_max=20,
        quick_replies_max=13,
        quick_reply_title_max=20,
        cards_max=10,  # generic template
        card_title_max=80,
        card_buttons_max=3,
        media={"image": 25 * MB, "video": 25 * MB, "audio": 25 * MB, "document": 25 * MB},
        reactions=False,
        typing=True,
        read_receipts=True,
    ),
    rules=ChannelRules(
        service_window=timedelta(hours=24),
        ad_entry_window=timedelta(days=7),
        human_agent_window=timedelta(days=7),
        customer_must_start=True,
        outreach=frozenset({Outreach.SUBSCRIPTION}),
    ),
    errors=TABLE,
    config=PageConfig,
    webhook_path="/webhooks/messenger",
    throughput_mps=40,
    opt_out=OptOutSignals(keywords=True, platform_events=True),
)
