"""The channel kinds Threadline knows by name (each one is a registered type)."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    WHATSAPP = "whatsapp"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"
    APPLE = "apple"
    SMS = "sms"
    EMAIL = "email"
