"""Channel-neutral events that adapters parse platform webhooks into."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    code: int
    title: str = ""
    message: str | None = None
    details: str | None = None
    subcode: int | None = None  # Graph's error_subcode (Messenger's 10/2018278)


@dataclass(frozen=True, slots=True)
class Sender:
    """Who wrote: `address` is the id to reply to (phone-number id, or a business-scoped
    user id when the person hides their number)."""

    address: str
    phone_id: str | None = None
    user_id: str | None = None
    name: str | None = None
    username: str | None = None


@dataclass(frozen=True, slots=True)
class MediaRef:
    kind: str
    media_id: str | None = None
    mime_type: str | None = None
    sha256: str | None = None
    url: str | None = None
    filename: str | None = None
    voice: bool = False
    animated: bool = False


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One line of a cart a person sent: which product, how many, at what unit price."""

    retailer_id: str
    quantity: int
    item_price: str  # a decimal, kept as text so that no float rounds a price
    currency: str


@dataclass(frozen=True, slots=True)
class CartOrder:
    """The cart a person sent from the business's catalog (WhatsApp's `order` message)."""

    catalog_id: str | None
    lines: tuple[OrderLine, ...]
    text: str | None = None  # what they wrote with it


@dataclass(frozen=True, slots=True)
class InboundMessage:
    account: str  # the receiving number / page id
    external_id: str
    sender: Sender
    timestamp: datetime
    kind: str  # text, image, interactive/button_reply, button, location, reaction, ...
    text: str | None = None
    payload: str | None = None  # button / list row id, template quick-reply payload
    media: MediaRef | None = None
    location: dict[str, Any] | None = None
    reply_to: str | None = None
    forwarded: bool = False
    referral: dict[str, Any] | None = None
    # Instagram: the story this message replies to or mentions ({"id", "url"}; the URL dies
    # with the story, so `text` says what the message meant).
    story: dict[str, Any] | None = None
    errors: tuple[ErrorDetail, ...] = ()
    raw: dict[str, Any] = dc_field(default_factory=dict)
    order: CartOrder | None = None  # kind "order": the cart sent from the catalog

    @property
    def dedupe_key(self) -> str:
        return f"msg:{self.external_id}"


@dataclass(frozen=True, slots=True)
class Pricing:
    model: str | None  # PMP (per message) or CBP (per conversation, before July 2025)
    category: str | None  # marketing, utility, authentication, service, referral_conversion...
    type: str | None = None  # regular, free_customer_service, free_entry_point
    billable: bool | None = None


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    account: str
    external_id: str
    status: str  # sent, delivered, read, played, failed
    timestamp: datetime
    recipient: str | None
    errors: tuple[ErrorDetail, ...] = ()
    pricing: Pricing | None = None
    conversation_id: str | None = None
    conversation_origin: str | None = None
    callback_data: str | None = None

    @property
    def dedupe_key(self) -> str:
        return f"status:{self.external_id}:{self.status}"


@dataclass(frozen=True, slots=True)
class PlatformErrors:
    """System- or app-level failures reported outside any message (`value.errors`)."""

    account: str | None
    errors: tuple[ErrorDetail, ...]


@dataclass(frozen=True, slots=True)
class TemplateStatusChange:
    account: str  # WABA id
    template_id: str
    name: str
    language: str
    status: str  # APPROVED, REJECTED, PAUSED, DISABLED, ...
    reason: str | None = None
    category: str | None = None
    detail: dict[str, Any] = dc_field(default_factory=dict)
    # The notification's `entry.time`: the same change notified twice later is a new event
    # (re-approved after an edit), a redelivery of one notification is not.
    notified_at: int | None = None


@dataclass(frozen=True, slots=True)
class TemplateCategoryChange:
    account: str
    template_id: str
    name: str
    language: str
    new_category: str
    previous_category: str | None = None
    # The notification's `entry.time`: the same change notified twice later is a new event
    # (re-approved after an edit), a redelivery of one notification is not.
    notified_at: int | None = None


@dataclass(frozen=True, slots=True)
class TemplateQualityChange:
    account: str
    template_id: str
    name: str
    language: str
    new_score: str
    previous_score: str | None = None
    # The notification's `entry.time`: the same change notified twice later is a new event
    # (re-approved after an edit), a redelivery of one notification is not.
    notified_at: int | None = None


@dataclass(frozen=True, slots=True)
class NumberQualityChange:
    account: str  # WABA id
    display_phone_number: str
    event: str  # FLAGGED, UNFLAGGED, UPGRADE, DOWNGRADE, ...
    current_limit: str | None = None
    old_limit: str | None = None
    max_daily_conversations: int | None = None


@dataclass(frozen=True, slots=True)
class MarketingPreference:
    account: str
    address: str
    value: str  # stop, resume, signup
    timestamp: datetime
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class StatusWatermark:
    """Messenger/Instagram deliveries and reads: every message to `recipient` sent up to
    `watermark` has reached that status (`mids` may name some of them)."""

    account: str
    recipient: str
    status: str  # delivered, read
    watermark: datetime
    mids: tuple[str, ...] = ()

    @property
    def dedupe_key(self) -> str:
        return f"watermark:{self.recipient}:{self.status}:{self.watermark.isoformat()}"


@dataclass(frozen=True, slots=True)
class Echo:
    """A message the account sent that the platform echoes back: ours (matched by id) or
    written elsewhere (the Page inbox, another app), which the conversation must show."""

    account: str
    external_id: str
    recipient: str
    timestamp: datetime
    text: str | None = None
    app_id: str | None = None
    kind: str = "text"

    @property
    def dedupe_key(self) -> str:
        return f"echo:{self.external_id}"


@dataclass(frozen=True, slots=True)
class Referral:
    """The person arrived through a link or an ad (m.me ?ref=, Click-to-Messenger) without a
    message; an ad entry opens the channel's longer ad window."""

    account: str
    sender: Sender
    timestamp: datetime
    source: str  # SHORTLINK, ADS, CUSTOMER_CHAT_PLUGIN, ...
    ref: str | None = None
    ad_id: str | None = None
    raw: dict[str, Any] = dc_field(default_factory=dict)

    @property
    def from_ad(self) -> bool:
        return self.source.upper() == "ADS" or self.ad_id is not None

    @property
    def dedupe_key(self) -> str:
        return f"referral:{self.sender.address}:{self.timestamp.isoformat()}"


@dataclass(frozen=True, slots=True)
class SubscriptionChange:
    """An opt-in to (or out of) a channel's marketing messages: the token is the consent
    evidence and the key that lets marketing go outside the window."""

    account: str
    sender: Sender
    timestamp: datetime
    status: str  # granted, stopped, resumed
    token: str | None = None
    expires_at: datetime | None = None
    topic: str | None = None  # what the person subscribed to, as the business titled it
    frequency: str | None = None
    payload: str | None = None

    @property
    def dedupe_key(self) -> str:
        return f"subscription:{self.sender.address}:{self.status}:{self.timestamp.isoformat()}"


@dataclass(frozen=True, slots=True)
class PluginOptIn:
    """The person ticked a checkbox / sent to Messenger plugin: reachable by `user_ref`."""

    account: str
    timestamp: datetime
    ref: str | None
    user_ref: str | None
    sender: Sender | None = None

    @property
    def dedupe_key(self) -> str:
        who = self.sender.address if self.sender else self.user_ref
        return f"optin:{who}:{self.timestamp.isoformat()}"


@dataclass(frozen=True, slots=True)
class MessageDeleted:
    """The person unsent a message: it stays in the record, marked deleted."""

    account: str
    sender: Sender
    external_id: str
    timestamp: datetime

    @property
    def dedupe_key(self) -> str:
        return f"deleted:{self.external_id}"


# The kind of the inbound message a Comment is kept as in its author's thread.
COMMENT_MESSAGE_KIND = "comment"


@dataclass(frozen=True, slots=True)
class Comment:
    """A person commented on one of the account's posts or reels (Instagram `comments`). Not
    a conversation: it opens no window, but the business may answer it once in private
    (a private reply) within the type's `private_reply_window`."""

    account: str
    comment_id: str
    sender: Sender
    timestamp: datetime
    text: str | None = None
    media_id: str | None = None  # the post or reel commented on
    parent_id: str | None = None  # set when the comment answers another comment
    raw: dict[str, Any] = dc_field(default_factory=dict)

    @property
    def dedupe_key(self) -> str:
        return f"comment:{self.comment_id}"


class SuppressionReason:
    """Why an address must not be written to again (values of `Suppression.reason`)."""

    HARD_BOUNCE = "hard_bounce"  # the mailbox or domain does not exist (DSN 5.x.x)
    COMPLAINT = "complaint"  # the person marked a message as spam (ARF feedback report)
    UNSUBSCRIBE = "unsubscribe"  # one-click List-Unsubscribe (RFC 8058) or its page
    CLOSED = "closed"  # the person closed or deleted the conversation (Apple `close`)
    CARRIER_OPT_OUT = "carrier_opt_out"  # the provider blocks the number after its STOP


@dataclass(frozen=True, slots=True)
class Suppression:
    """The platform (or the person, through a platform mechanism rather than a message)
    says this address is not to be written to: on the type's channel, every topic."""

    account: str  # the receiving address: our email address, number, business id
    address: str  # the person's address on the channel (email, E.164 number, opaque id)
    reason: str  # a SuppressionReason value
    timestamp: datetime
    detail: str | None = None  # the DSN status / ARF feedback type / provider's words
    # The platform's id of what it is about (the bounced Message-ID, the ARF report id).
    reference: str | None = None

    @property
    def dedupe_key(self) -> str:
        about = self.reference or self.timestamp.isoformat()
        return f"suppression:{self.address}:{self.reason}:{about}"


@dataclass(frozen=True, slots=True)
class ThreadControl:
    """Handover / conversation routing: which app answers this person now."""

    account: str
    sender: Sender
    timestamp: datetime
    action: str  # pass, take, request, standby
    app_id: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyEnforcement:
    """The platform warned or blocked the account for a policy violation."""

    account: str
    timestamp: datetime
    action: str  # warning, block, unblock
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Unhandled:
    """A well-formed notification Threadline does not act on (yet); kept for the record."""

    field: str
    summary: str


@dataclass(frozen=True, slots=True)
class Malformed:
    """One broken item inside an otherwise valid payload: the rest is still processed."""

    field: str
    reason: str
    raw: dict[str, Any] = dc_field(default_factory=dict)


ChannelEvent = (
    InboundMessage
    | StatusUpdate
    | PlatformErrors
    | TemplateStatusChange
    | TemplateCategoryChange
    | TemplateQualityChange
    | NumberQualityChange
    | MarketingPreference
    | StatusWatermark
    | Echo
    | Referral
    | SubscriptionChange
    | PluginOptIn
    | MessageDeleted
    | Comment
    | Suppression
    | ThreadControl
    | PolicyEnforcement
    | Unhandled
    | Malformed
)
