"""Offering choices the way each channel can show them, and reading the answer back.

What a channel can show comes from its declared capabilities: as many choices as it has
reply buttons (or quick replies) become buttons, as many as a list holds a list, and beyond
that (or on channels without interactive messages) numbered text. Whatever was shown, the
person may answer with the button, the number, the title or a synonym."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from threadline.channels import messages as m
from threadline.channels import registry
from threadline.channels.capabilities import Capabilities
from threadline.channels.kinds import Channel


@dataclass(frozen=True, slots=True)
class Choice:
    id: str
    title: str
    description: str | None = None
    synonyms: tuple[str, ...] = field(default_factory=tuple)


def _tappable(caps: Capabilities, choices: Sequence[Choice]) -> int:
    """How many of these choices the channel shows as buttons (0: it cannot)."""
    longest = max(len(c.title) for c in choices)
    if len(choices) <= caps.buttons_max and longest <= caps.button_title_max:
        return caps.buttons_max
    if len(choices) <= caps.quick_replies_max and longest <= caps.quick_reply_title_max:
        # Shown as quick replies: the channel's renderer turns extra buttons into them.
        return caps.quick_replies_max
    return 0


def present(
    channel: Channel, body: str, choices: Sequence[Choice], *, list_button: str = "Choose"
) -> m.Text | m.Buttons | m.ListMessage:
    if not choices:
        raise ValueError("no choices to present")
    caps = registry.capabilities_for(channel)
    if _tappable(caps, choices):
        return m.Buttons(body=body, buttons=[m.Button(id=c.id, title=c.title) for c in choices])
    fits_rows = all(len(c.title) <= caps.list_row_title_max for c in choices)
    if len(choices) <= caps.list_rows_max and fits_rows:
        rows = [m.ListRow(id=c.id, title=c.title, description=c.description) for c in choices]
        return m.ListMessage(body=body, button=list_button, sections=[m.ListSection(rows=rows)])
    numbered = "\n".join(f"{n}. {c.title}" for n, c in enumerate(choices, start=1))
    return m.Text(body=f"{body}\n\n{numbered}\n\nReply with a number.")


@functools.lru_cache(maxsize=8192)  # flows compare the same titles and catalog words often
def plain(text: str) -> str:
    """Text as people mean it: case, accents and punctuation ignored."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join("".join(ch if ch.isalnum() else " " for ch in kept).split())


def match(answer: str, choices: Sequence[Choice], payload: str | None = None) -> Choice | None:
    """The choice an answer means: a tapped button or row (payload = its id), its number in
    the list, its title or a synonym (case and accents ignored); None if unclear."""
    if payload:
        for choice in choices:
            if choice.id == payload:
                return choice
    said = plain(answer)
    if not said:
        return None
    if said.isdigit():
        index = int(said)
        return choices[index - 1] if 1 <= index <= len(choices) else None
    for choice in choices:
        if said in {plain(choice.title), plain(choice.id), *map(plain, choice.synonyms)}:
            return choice
    return None
