"""What a channel can show, as data. Flows and choices render against these facts, and each
type's renderer degrades what its channel cannot show (numbered text instead of buttons)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Capabilities:
    text_max: int
    # Reply buttons under a message (WhatsApp reply buttons, Messenger button template).
    buttons_max: int = 0
    button_title_max: int = 20
    # Quick replies: chips above the keyboard that vanish once tapped.
    quick_replies_max: int = 0
    quick_reply_title_max: int = 20
    # A list: one button that opens rows (WhatsApp list message).
    list_rows_max: int = 0
    list_row_title_max: int = 24
    # Cards in a carousel (Messenger/Instagram generic template).
    cards_max: int = 0
    card_title_max: int = 80
    card_buttons_max: int = 0
    # Media kinds and their size limit in bytes.
    media: Mapping[str, int] = field(default_factory=dict)
    location: bool = False  # can send a location pin
    reactions: bool = False
    typing: bool = False
    read_receipts: bool = False  # can mark the person's message as read
    templates: bool = False  # has platform-approved templates
    # Messages carry a subject and thread by the message they answer (email): a reply takes
    # the subject of what the person wrote.
    subjects: bool = False

    @property
    def interactive(self) -> bool:
        return self.buttons_max > 0 or self.quick_replies_max > 0 or self.list_rows_max > 0

    @property
    def choices_max(self) -> int:
        """How many choices one tappable message can offer."""
        return max(self.buttons_max, self.quick_replies_max, self.list_rows_max)
