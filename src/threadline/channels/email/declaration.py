"""Email, declared: one From address of a domain, sent over SMTP through a relay.

How an account maps onto the channel row: `address` is the From address (lower-case),
`account_id` its domain, `base_url` the relay (`smtp://user@host:587`, STARTTLS when the
relay offers it; `smtps://user@host:465` for implicit TLS), `access_token` the SMTP
password (may be empty), `app_secret` a random secret Threadline generates (it signs the
unsubscribe links and authenticates the inbound webhook), `private_key` the DKIM key (PEM)
and `config` an `EmailConfig`.

No platform window: anything may go to a person who consented (CAN-SPAM, GDPR), and a
marketing email must carry the sender's postal address and a working unsubscribe
(List-Unsubscribe with one-click, RFC 8058: what Gmail and Yahoo require of bulk senders).
Buttons and lists do not exist in email; they become numbered lines and links."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, field_validator

from threadline.channels.capabilities import MB, Capabilities
from threadline.channels.email.errors import TABLE
from threadline.channels.kinds import Channel
from threadline.channels.rules import ChannelRules, Outreach, PricingModel
from threadline.channels.types import ChannelType, OptOutSignals

# What one text or HTML part may hold: far below any relay's limit, far above a message.
TEXT_MAX = 100_000
# Most providers refuse messages over 25 MB (Gmail, Outlook.com); base64 adds a third, so
# the attachments themselves must stay under about 18 MB together.
MESSAGE_MAX = 25 * MB
ATTACHMENTS_MAX = 18 * MB


class EmailConfig(BaseModel):
    """One sending address's settings (the secrets live elsewhere)."""

    model_config = ConfigDict(extra="forbid")
    # The display name in From: "Shop <shop@example.com>".
    from_name: str = ""
    # The sender's physical postal address. CAN-SPAM requires it in every commercial
    # email: a marketing send from an account without one is refused by the client
    # (INVALID_REQUEST) before it reaches the relay; service mail goes without.
    postal_address: str = ""
    # Threadline's public base URL ("https://crm.example.com"): the one-click unsubscribe
    # links point at {public_url}/email/unsubscribe/{token}. Marketing needs it too.
    public_url: str = ""
    # Where replies should go, when not to the From address.
    reply_to: str | None = None
    # The DKIM selector ("s1" → the key is published at s1._domainkey.<domain>); signing
    # needs it and the account's private key.
    dkim_selector: str | None = None
    # A List-Id (RFC 2919) for the account's marketing mail: "<news.example.com>".
    list_id: str | None = None

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("public_url must be an http(s) URL")
        return value.rstrip("/")


EMAIL = ChannelType(
    kind=Channel.EMAIL,
    title="Email",
    urn_scheme="mailto",
    capabilities=Capabilities(
        text_max=TEXT_MAX,
        # Cards have no native form either: they become blocks of text and links.
        media={
            "image": ATTACHMENTS_MAX,
            "video": ATTACHMENTS_MAX,
            "audio": ATTACHMENTS_MAX,
            "document": ATTACHMENTS_MAX,
        },
        subjects=True,
    ),
    rules=ChannelRules(
        # No platform deadline; the window still says "the person wrote", which lets a
        # service answer go to someone without marketing consent.
        service_window=timedelta(hours=24),
        outreach=frozenset({Outreach.CONSENT}),
        pricing=PricingModel.FREE,
    ),
    errors=TABLE,
    config=EmailConfig,
    webhook_path="/webhooks/email",
    # What a relay takes from one authenticated sender without throttling (421 / 4.7.28
    # slow it down further); `--mps` sets the account's own.
    throughput_mps=20,
    # UNSUBSCRIBE / STOP written in a reply counts; the platform's own opt-outs are the
    # one-click unsubscribe, the mailto unsubscribe, complaints and hard bounces.
    opt_out=OptOutSignals(keywords=True, platform_events=True),
)
