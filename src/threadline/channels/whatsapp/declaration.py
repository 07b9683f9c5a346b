"""WhatsApp Cloud API, declared: the facts neutral layers read (platform reference §1)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from threadline.channels.capabilities import MB, Capabilities
from threadline.channels.kinds import Channel
from threadline.channels.rules import ChannelRules, Outreach, PricingModel
from threadline.channels.types import ChannelType, OptOutSignals
from threadline.channels.whatsapp.errors import TABLE


class WhatsAppConfig(BaseModel):
    """One phone number's settings and the state the platform reports about it."""

    model_config = ConfigDict(extra="forbid")
    display_number: str = ""
    quality: str = "green"  # green, yellow, red: the number's quality rating
    # Unique people reachable outside a window per 24 h (the messaging-limit tier).
    messaging_limit: int | None = 250
    last_platform_errors: list[dict[str, object]] = Field(default_factory=list)
    last_platform_errors_at: str | None = None
    # The Meta commerce catalog connected to the number: product messages show its items.
    catalog_id: str | None = None


WHATSAPP = ChannelType(
    kind=Channel.WHATSAPP,
    title="WhatsApp",
    urn_scheme="whatsapp",
    capabilities=Capabilities(
        text_max=4096,
        buttons_max=3,
        button_title_max=20,
        list_rows_max=10,
        list_row_title_max=24,
        catalog_products_max=30,  # a multi-product message: 30 items in up to 10 sections
        catalog_sections_max=10,
        media={
            "image": 5 * MB,
            "video": 16 * MB,
            "audio": 16 * MB,
            "document": 100 * MB,
            "sticker": 500 * 1024,
        },
        location=True,
        reactions=True,
        read_receipts=True,
        templates=True,
    ),
    rules=ChannelRules(
        service_window=timedelta(hours=24),
        ad_entry_window=timedelta(hours=72),
        outreach=frozenset({Outreach.TEMPLATE}),
        authentication_needs_template=True,
        messaging_limit=True,
        quality_pauses_marketing=True,
        marketing_blocked_regions={
            "US": "WhatsApp stopped delivering marketing templates to US (+1) numbers "
            "on 2025-04-01",
        },
        pricing=PricingModel.PER_MESSAGE,
        # Cloud API defaults; a template's own message_send_ttl_seconds overrides them.
        delivery_ttl={"authentication": timedelta(minutes=10), "*": timedelta(days=30)},
    ),
    errors=TABLE,
    config=WhatsAppConfig,
    webhook_path="/webhooks/whatsapp",
    throughput_mps=80,
    pair_interval_seconds=6.0,
    opt_out=OptOutSignals(keywords=True, platform_events=True),
)
