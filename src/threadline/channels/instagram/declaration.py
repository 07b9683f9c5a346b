"""Instagram Direct, declared (platform reference §3): only the person starts; 24 h window,
7 days after an ad; HUMAN_AGENT for 7 days; no marketing outside the window at all."""

from __future__ import annotations

from datetime import timedelta

from threadline.channels.capabilities import MB, Capabilities
from threadline.channels.kinds import Channel
from threadline.channels.meta.config import InstagramConfig
from threadline.channels.meta.errors import TABLE
from threadline.channels.rules import ChannelRules
from threadline.channels.types import ChannelType, OptOutSignals

INSTAGRAM = ChannelType(
    kind=Channel.INSTAGRAM,
    title="Instagram",
    urn_scheme="instagram",
    capabilities=Capabilities(
        text_max=1000,
        buttons_max=3,  # button template (not shown on the web)
        button_title_max=20,
        quick_replies_max=13,
        quick_reply_title_max=20,
        cards_max=10,
        card_title_max=80,
        card_buttons_max=3,
        media={"image": 8 * MB, "video": 25 * MB, "audio": 25 * MB},
        reactions=True,
        typing=True,
        read_receipts=True,
    ),
    rules=ChannelRules(
        service_window=timedelta(hours=24),
        ad_entry_window=timedelta(days=7),
        human_agent_window=timedelta(days=7),
        private_reply_window=timedelta(days=7),
        customer_must_start=True,
    ),
    errors=TABLE,
    config=InstagramConfig,
    webhook_path="/webhooks/instagram",
    throughput_mps=40,
    opt_out=OptOutSignals(keywords=True, platform_events=False),
)
