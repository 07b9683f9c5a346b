"""Apple Messages for Business, declared: the facts neutral layers read (platform reference
§4). Only the customer starts a conversation (from Maps, Safari, Search or a business link)
and there is no reply deadline once they have; a closed conversation takes nothing until the
person writes again."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from threadline.channels.apple.errors import TABLE
from threadline.channels.capabilities import MB, Capabilities
from threadline.channels.kinds import Channel
from threadline.channels.rules import ChannelRules
from threadline.channels.types import ChannelType, OptOutSignals

# Apple documents no length limit for a text message. 10,000 characters is a conservative
# cap of our own: well inside any request size a gateway takes, and far beyond what reads
# well in a chat bubble.
TEXT_MAX = 10_000
# A quick reply offers 2 to 5 items (Apple's quick-reply message, iOS 15.1 and later).
QUICK_REPLIES_MIN = 2
QUICK_REPLIES_MAX = 5
# Apple documents no item title limit; quick-reply items sit side by side, so short titles.
QUICK_REPLY_TITLE_MAX = 24
# A list picker has no documented item count, but interactive data over 10 KB must travel by
# reference (`interactiveDataRef`, uploaded first), which is not built: 20 items with titles
# and subtitles stay well inside 10 KB, and the renderer checks the size anyway.
LIST_ROWS_MAX = 20
LIST_ROW_TITLE_MAX = 30
INTERACTIVE_INLINE_MAX = 10 * 1024  # bytes of interactiveData sent inline
# Attachments go encrypted (AES-256, single-use key) and uploaded first (`/v1/preUpload`), up
# to 100 MB. The upload is not built, so no media kind is declared yet: the renderer refuses
# Media. Declare {"image", "video", "audio", "document"} at this size once it is.
ATTACHMENT_MAX = 100 * MB


class DeviceCapability(StrEnum):
    """What a person's device can show, as Apple's `capability-list` header names it."""

    QUICK = "QUICK"  # quick reply
    LIST = "LIST"  # list picker
    TIME = "TIME"  # time picker
    AUTH = "AUTH"  # OAuth authentication (legacy)
    AUTH2 = "AUTH2"  # OAuth authentication
    FORM = "FORM"  # forms (iPhone, iPad)


class AppleConfig(BaseModel):
    """One business's settings."""

    model_config = ConfigDict(extra="forbid")
    # The name people see in Messages (Apple Business Register holds the real one).
    business_name: str = ""
    # What a person's device is assumed to show until one of their messages says
    # (its `capability-list` header, kept with each inbound message).
    default_capabilities: list[DeviceCapability] = Field(
        default_factory=lambda: [DeviceCapability.QUICK, DeviceCapability.LIST]
    )
    # Every message from this business is sent by automation (a bot): the gateway's
    # `auto-reply` header says so on each send.
    auto_reply: bool = False


APPLE = ChannelType(
    kind=Channel.APPLE,
    title="Apple Messages for Business",
    urn_scheme="apple",
    capabilities=Capabilities(
        text_max=TEXT_MAX,
        buttons_max=0,
        quick_replies_max=QUICK_REPLIES_MAX,
        quick_reply_title_max=QUICK_REPLY_TITLE_MAX,
        list_rows_max=LIST_ROWS_MAX,
        list_row_title_max=LIST_ROW_TITLE_MAX,
        media={},
        location=True,  # as a rich link to Apple Maps
        typing=True,
    ),
    rules=ChannelRules(service_window=None, customer_must_start=True),
    errors=TABLE,
    config=AppleConfig,
    webhook_path="/webhooks/apple",
    # Apple publishes no per-business rate. The gateway answers 429 when pressed (THROTTLE
    # slows the bucket), so a conservative 20 msg/s to start; `--mps` sets a business's own.
    throughput_mps=20,
    opt_out=OptOutSignals(keywords=True, platform_events=True),
)
