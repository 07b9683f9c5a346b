from __future__ import annotations

import pytest

from threadline.channels import messages as m
from threadline.channels.choices import Choice, match, present
from threadline.channels.kinds import Channel
from threadline.channels.whatsapp.render import render

SIZES = [Choice(id=f"size-{n}", title=f"Size {n}") for n in range(36, 48)]
YES_NO = [Choice("yes", "Yes", synonyms=("sí", "sim", "yep")), Choice("no", "No")]


@pytest.mark.parametrize(
    ("count", "channel", "kind"),
    [
        (2, Channel.WHATSAPP, m.Buttons),
        (3, Channel.WHATSAPP, m.Buttons),
        (4, Channel.WHATSAPP, m.ListMessage),
        (10, Channel.WHATSAPP, m.ListMessage),
        (11, Channel.WHATSAPP, m.Text),
        (2, Channel.SMS, m.Text),
        (2, Channel.EMAIL, m.Text),
    ],
)
def test_choices_take_the_richest_form_the_channel_can_show(
    count: int, channel: Channel, kind: type
) -> None:
    content = present(channel, "Which size?", SIZES[:count])
    assert isinstance(content, kind)
    if channel is Channel.WHATSAPP:
        render(content, "5511999990000")  # within the platform's limits


def test_a_title_too_long_for_a_button_moves_to_a_list_then_to_text() -> None:
    long_title = [Choice("a", "A rather long option name"), Choice("b", "Short")]
    assert isinstance(present(Channel.WHATSAPP, "Pick", long_title[:2]), m.Text)
    medium = [Choice("a", "Twenty-one characters"), Choice("b", "Short")]
    assert isinstance(present(Channel.WHATSAPP, "Pick", medium), m.ListMessage)


def test_numbered_text_lists_every_choice_in_order() -> None:
    content = present(Channel.SMS, "Which size?", SIZES[:3])
    assert isinstance(content, m.Text)
    assert "1. Size 36\n2. Size 37\n3. Size 38" in content.body


@pytest.mark.parametrize(
    ("answer", "payload", "expected"),
    [
        ("", "no", "no"),
        ("Yes", None, "yes"),
        ("  YES!! ", None, "yes"),
        ("Sí", None, "yes"),
        ("si", None, "yes"),
        ("1", None, "yes"),
        ("2", None, "no"),
        ("3", None, None),
        ("0", None, None),
        ("maybe", None, None),
        ("yes please", None, None),
    ],
)
def test_answers_match_by_payload_number_title_or_synonym(
    answer: str, payload: str | None, expected: str | None
) -> None:
    found = match(answer, YES_NO, payload)
    assert (found.id if found else None) == expected


def test_no_choices_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="no choices"):
        present(Channel.WHATSAPP, "Pick", [])
