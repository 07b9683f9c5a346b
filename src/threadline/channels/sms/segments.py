"""How many SMS segments a text costs: carriers bill (and Twilio prices) each segment.

A text that fits the GSM-7 alphabet (3GPP TS 23.038: the basic set, plus the extension
table, whose characters take an escape septet and so count two) goes as GSM-7: 160 septets
in a single message, 153 per part once it must be split (the user data header takes the
rest). One character outside that alphabet sends the whole text as UCS-2, counted in UTF-16
code units: 70 in a single message, 67 per part; an emoji outside the Basic Multilingual
Plane is a surrogate pair, two units.

Parts are filled greedily and an escape sequence or a surrogate pair is never split across
two parts (handsets would show garbage), so a part may hold one unit less than its capacity.

An empty body is 0 segments: there is no text to bill. A media-only MMS is billed as one
message, which `render.segments_of` accounts for; this module only counts text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

# The GSM 03.38 basic character set, in table order (0x1B, the escape, left out).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# The extension table: each is sent as the escape septet and one more, two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True, slots=True)
class Segments:
    encoding: Encoding
    # The units the encoding counts: septets for GSM-7 (an extension character is two),
    # UTF-16 code units for UCS-2 (a character outside the BMP is two).
    characters: int
    segments: int
    # What one segment holds for this text: the single-message capacity when it fits in
    # one, the per-part capacity once it is split.
    per_segment: int


def is_gsm7(body: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in body)


def _gsm7_units(ch: str) -> int:
    return 2 if ch in GSM7_EXTENSION else 1


def _utf16_units(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def _parts(sizes: list[int], per_part: int) -> int:
    """Parts needed when each character (of the given unit size) must stay whole."""
    parts, used = 1, 0
    for size in sizes:
        if used + size > per_part:
            parts, used = parts + 1, 0
        used += size
    return parts


def count(body: str) -> Segments:
    """The encoding the text goes in and how many segments it takes."""
    if is_gsm7(body):
        encoding: Encoding = "GSM-7"
        sizes = [_gsm7_units(ch) for ch in body]
        single, per_part = GSM7_SINGLE, GSM7_PART
    else:
        encoding = "UCS-2"
        sizes = [_utf16_units(ch) for ch in body]
        single, per_part = UCS2_SINGLE, UCS2_PART
    units = sum(sizes)
    if units == 0:
        return Segments(encoding, 0, 0, single)
    if units <= single:
        return Segments(encoding, units, 1, single)
    return Segments(encoding, units, _parts(sizes, per_part), per_part)
