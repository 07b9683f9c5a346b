"""The busiest window of a segment's marketing against a frequency cap (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from threadline.calendar.pressure import Send, ordinal, peak, pressure
from threadline.channels.kinds import Channel
from threadline.policy.types import FrequencyCap

WEEK = FrequencyCap(max_messages=3, window=timedelta(days=7))
MONDAY = datetime(2026, 3, 16, 10, tzinfo=UTC)


def send(days: float, name: str = "Offer", channels: tuple[str, ...] = ("sms",)) -> Send:
    return Send(MONDAY + timedelta(days=days), f"bc_{name}", name, frozenset(channels))


def test_four_in_a_week_is_over_a_cap_of_three_and_says_which_is_suppressed() -> None:
    sends = [send(0, "A"), send(2, "B"), send(4, "C"), send(6, "D")]
    [found] = pressure('tag("vip")', [WEEK], sends, [], 0.0)
    assert found.over and found.every_member.count == 4
    assert found.message() == (
        "members of 'tag(\"vip\")' would get 4 marketing messages in 7 days from "
        "2026-03-16 10:00 UTC; the cap is 3: the 4th will be suppressed for them"
    )


def test_sends_exactly_one_window_apart_do_not_share_it() -> None:
    daily = FrequencyCap(max_messages=1, window=timedelta(hours=24))
    assert peak([send(0), send(1), send(2)], daily).count == 1
    assert peak([send(0), send(0.99)], daily).count == 2


def test_a_channel_cap_counts_only_what_may_travel_on_that_channel() -> None:
    cap = FrequencyCap(max_messages=1, window=timedelta(days=7), channel=Channel.WHATSAPP)
    sends = [send(0, "A", ("sms",)), send(1, "B", ("whatsapp", "sms")), send(2, "C", ("sms",))]
    assert peak(sends, cap).count == 1


def test_overlaps_and_automations_put_members_at_risk_without_being_over() -> None:
    [found] = pressure("s", [WEEK], [send(0), send(1)], [send(2, "Other")], 1 / 7)
    assert not found.over and found.some_members.count == 3
    assert found.automation == 1.0 and found.at_risk
    message = found.message()
    assert message is not None and message.startswith("some members of 's' would get 3")
    assert "and about 1 from automations" in message


def test_windows_that_end_before_the_range_are_not_reported() -> None:
    since = MONDAY + timedelta(days=10)
    sends = [send(0), send(1), send(2), send(3), send(12)]
    assert peak(sends, WEEK).count == 4
    assert peak(sends, WEEK, since).count == 1


def test_ordinals() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st"
    ]  # fmt: skip
