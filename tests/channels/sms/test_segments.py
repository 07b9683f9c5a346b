"""Segment counting: the boundaries carriers bill by, for both encodings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from threadline.channels.sms.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    Segments,
    count,
    is_gsm7,
)

EMOJI = "😀"  # U+1F600: outside the BMP, a surrogate pair in UTF-16
CASES: list[tuple[str, str, Segments]] = [
    ("empty", "", Segments("GSM-7", 0, 0, 160)),
    ("one-char", "a", Segments("GSM-7", 1, 1, 160)),
    ("gsm-160", "a" * 160, Segments("GSM-7", 160, 1, 160)),
    ("gsm-161", "a" * 161, Segments("GSM-7", 161, 2, 153)),
    ("gsm-306", "a" * 306, Segments("GSM-7", 306, 2, 153)),
    ("gsm-307", "a" * 307, Segments("GSM-7", 307, 3, 153)),
    ("gsm-459", "a" * 459, Segments("GSM-7", 459, 3, 153)),
    ("gsm-460", "a" * 460, Segments("GSM-7", 460, 4, 153)),
    ("gsm-accents-basic", "èéùìòÇØøÅåÆæßÉÄÖÑÜäöñüà¿¡§¤£¥", Segments("GSM-7", 29, 1, 160)),
    ("greek-capitals", "ΔΦΓΛΩΠΨΣΘΞ", Segments("GSM-7", 10, 1, 160)),
    ("extension-doubles", "€", Segments("GSM-7", 2, 1, 160)),
    ("extension-all", "\f^{}\\[~]|€", Segments("GSM-7", 20, 1, 160)),
    ("80-euros-fit-one", "€" * 80, Segments("GSM-7", 160, 1, 160)),
    ("159-and-euro", "a" * 159 + "€", Segments("GSM-7", 161, 2, 153)),
    # 152 septets then an escape: the escape may not straddle, so part one holds 152.
    ("escape-not-split", "a" * 152 + "€" + "a" * 152, Segments("GSM-7", 306, 3, 153)),
    ("escape-fits-exactly", "a" * 151 + "€" + "a" * 153, Segments("GSM-7", 306, 2, 153)),
    ("ucs2-70", "ж" * 70, Segments("UCS-2", 70, 1, 70)),
    ("ucs2-71", "ж" * 71, Segments("UCS-2", 71, 2, 67)),
    ("ucs2-134", "ж" * 134, Segments("UCS-2", 134, 2, 67)),
    ("ucs2-135", "ж" * 135, Segments("UCS-2", 135, 3, 67)),
    ("one-non-gsm-char-switches", "a" * 69 + "ç", Segments("UCS-2", 70, 1, 70)),
    ("tab-is-not-gsm", "a\tb", Segments("UCS-2", 3, 1, 70)),
    ("emoji-is-two-units", EMOJI, Segments("UCS-2", 2, 1, 70)),
    ("35-emoji-fit-one", EMOJI * 35, Segments("UCS-2", 70, 1, 70)),
    ("36-emoji", EMOJI * 36, Segments("UCS-2", 72, 2, 67)),
    # 66 units then a pair: the pair may not straddle, so part one holds 66.
    ("pair-not-split", "ж" * 66 + EMOJI + "ж" * 66, Segments("UCS-2", 134, 3, 67)),
    ("pair-fits-exactly", "ж" * 65 + EMOJI + "ж" * 67, Segments("UCS-2", 134, 2, 67)),
    ("extension-in-ucs2-is-one-unit", "€ж", Segments("UCS-2", 2, 1, 70)),
]


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_counts_segments(body: str, expected: Segments) -> None:
    assert count(body) == expected


def test_the_gsm_tables_have_their_sizes() -> None:
    assert len(GSM7_BASIC) == 127  # 128 positions, less the escape
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION
    assert is_gsm7("Hello, World! 100% @home\r\n") and not is_gsm7("naïve")


# Alphabets mixing plain GSM, extension, BMP non-GSM and astral characters.
TEXT = st.text(
    alphabet=st.sampled_from(["a", " ", "€", "{", "ж", "ç", EMOJI, "\n", "é"]), max_size=400
)


@given(TEXT, st.sampled_from(["a", "€", "ж", EMOJI, "é"]))
def test_appending_a_character_never_lowers_the_segments(body: str, extra: str) -> None:
    assert count(body + extra).segments >= count(body).segments


@given(TEXT)
def test_the_segments_hold_the_text(body: str) -> None:
    counted = count(body)
    assert counted.segments * counted.per_segment >= counted.characters
    assert (counted.segments == 0) == (body == "")
    assert counted.segments <= 1 or counted.per_segment in (153, 67)
