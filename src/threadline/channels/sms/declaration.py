"""SMS, declared: a number of a Twilio-compatible provider. No platform window: anything may
go to a person who consented, so quiet hours, keywords and caps are what keep it lawful
(TCPA, CTIA). Texts are billed per segment."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from threadline.channels import messages as m
from threadline.channels.capabilities import MB, Capabilities
from threadline.channels.kinds import Channel
from threadline.channels.rules import ChannelRules, Outreach, PricingModel
from threadline.channels.sms import billing
from threadline.channels.sms.errors import TABLE
from threadline.channels.types import Billable, ChannelType, OptOutSignals

# Twilio refuses a Body longer than 1,600 characters (error 21617).
BODY_MAX = 1600
# MMS: Twilio accepts up to 10 media URLs, 5 MB in all.
MEDIA_MAX = 10


class SenderPool(StrEnum):
    """Which traffic a number carries: carriers register (10DLC campaigns) and filter them
    apart, so order updates never share a number with promotions."""

    TRANSACTIONAL = "transactional"
    MARKETING = "marketing"
    MIXED = "mixed"


class SmsConfig(BaseModel):
    """One number's settings."""

    model_config = ConfigDict(extra="forbid")
    pool: SenderPool = SenderPool.MIXED
    # The provider answers STOP/HELP/START itself and blocks the number after a STOP (Twilio's
    # default opt-out management): Threadline records the opt-out but sends no reply of its own,
    # which the provider would refuse (21610).
    provider_opt_out: bool = False
    # Where the provider posts status callbacks: Threadline's public /webhooks/sms URL. The
    # signature covers the exact URL, so it must be the one the provider is told.
    public_url: str = ""
    mms: bool = True


def _billed(content: m.Content) -> Billable:
    return billing.billable(content, SMS)


SMS = ChannelType(
    kind=Channel.SMS,
    title="SMS",
    urn_scheme="tel",
    capabilities=Capabilities(
        text_max=BODY_MAX,
        media={"image": 5 * MB, "video": 5 * MB, "audio": 5 * MB, "document": 5 * MB},
    ),
    rules=ChannelRules(
        # Replies keep no platform deadline; the window still counts as "the person wrote",
        # which lets service answers go to someone who has no marketing consent.
        service_window=timedelta(hours=24),
        outreach=frozenset({Outreach.CONSENT}),
        pricing=PricingModel.PER_UNIT,
        # Twilio queues a message for at most ValidityPeriod seconds (1 to 36,000).
        settable_ttl_max=timedelta(seconds=36_000),
        delivery_ttl={"*": timedelta(seconds=36_000)},
        # CTIA: recurring marketing texts say how to stop them.
        marketing_opt_out_text="Reply STOP to opt out.",
    ),
    errors=TABLE,
    config=SmsConfig,
    webhook_path="/webhooks/sms",
    # A 10DLC long code of a standard brand; toll-free starts at 3, short codes at 100:
    # `--mps` sets the number's own.
    throughput_mps=10,
    opt_out=OptOutSignals(keywords=True, platform_events=True),
    billing=_billed,
)
