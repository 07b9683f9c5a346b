"""The channel kinds Threadline knows by name. Policy, consent and flows refer to a channel by
its kind; the kinds live here, beside the channels, so no layer depends on the policy for them."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    WHATSAPP = "whatsapp"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"
    APPLE = "apple"
    SMS = "sms"
    EMAIL = "email"
