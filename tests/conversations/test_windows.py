"""Platform windows from the platform's own timestamps: `window_facts`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from threadline.channels.kinds import Channel
from threadline.conversations.windows import window_facts
from threadline.policy.types import WindowFacts

INBOUND = datetime(2026, 3, 10, 15, 0, 0, tzinfo=UTC)  # the platform's timestamp
SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def test_no_inbound_means_nothing_is_open() -> None:
    for channel in Channel:
        facts = window_facts(channel, None, entry_point_at=INBOUND)
        assert facts == WindowFacts()
        assert not facts.any_free_window_open(INBOUND)
        assert not facts.human_agent_open(INBOUND)


def test_whatsapp_service_window_is_24h_from_the_platform_timestamp() -> None:
    facts = window_facts(Channel.WHATSAPP, INBOUND)
    assert facts.service_open_until == INBOUND + 24 * HOUR
    assert facts.service_open(INBOUND)
    assert facts.service_open(INBOUND + 24 * HOUR - SECOND)
    assert not facts.service_open(INBOUND + 24 * HOUR)
    assert facts.entry_point_open_until is None
    assert facts.human_agent_open_until is None  # WhatsApp has no human-agent extension


def test_whatsapp_entry_point_window_is_72h_after_the_referral() -> None:
    referral = INBOUND - 2 * HOUR
    facts = window_facts(Channel.WHATSAPP, INBOUND, entry_point_at=referral)
    assert facts.entry_point_open_until == referral + 72 * HOUR
    # After the 24 h service window, the ad's free window is still open ...
    later = INBOUND + 30 * HOUR
    assert not facts.service_open(later)
    assert facts.entry_point_open(later)
    assert facts.any_free_window_open(later)
    # ... until 72 h after the referral.
    assert facts.any_free_window_open(referral + 72 * HOUR - SECOND)
    assert not facts.any_free_window_open(referral + 72 * HOUR)


@pytest.mark.parametrize("channel", [Channel.MESSENGER, Channel.INSTAGRAM])
def test_meta_inboxes_24h_window_and_7_day_human_agent_window(channel: Channel) -> None:
    facts = window_facts(channel, INBOUND)
    assert facts.service_open_until == INBOUND + 24 * HOUR
    assert facts.human_agent_open_until == INBOUND + 7 * DAY
    three_days_later = INBOUND + 3 * DAY
    assert not facts.service_open(three_days_later)
    assert facts.human_agent_open(three_days_later)
    assert not facts.human_agent_open(INBOUND + 7 * DAY)
    # The human-agent extension is not a free window for automated messages.
    assert not facts.any_free_window_open(three_days_later)


@pytest.mark.parametrize("channel", [Channel.MESSENGER, Channel.INSTAGRAM])
def test_meta_inboxes_entry_point_window_is_7_days(channel: Channel) -> None:
    facts = window_facts(channel, INBOUND, entry_point_at=INBOUND)
    assert facts.entry_point_open_until == INBOUND + 7 * DAY
    assert facts.any_free_window_open(INBOUND + 6 * DAY)
    assert not facts.any_free_window_open(INBOUND + 7 * DAY)


def test_apple_conversation_stays_open_without_a_reply_deadline() -> None:
    facts = window_facts(Channel.APPLE, INBOUND)
    assert facts.service_open(INBOUND + 30 * DAY)
    assert facts.service_open(INBOUND + 365 * DAY)
    assert facts.entry_point_open_until is None
    assert facts.human_agent_open_until is None


def test_apple_conversation_ends_when_the_customer_closes_it() -> None:
    facts = window_facts(Channel.APPLE, INBOUND, closed_at=INBOUND + 2 * DAY)
    assert facts == WindowFacts()
    assert not facts.service_open(INBOUND + 2 * DAY)


@pytest.mark.parametrize("channel", [Channel.SMS, Channel.EMAIL])
def test_other_channels_have_a_24h_reply_window_and_no_extensions(channel: Channel) -> None:
    facts = window_facts(channel, INBOUND, entry_point_at=INBOUND)
    assert facts.service_open_until == INBOUND + 24 * HOUR
    assert facts.entry_point_open_until is None
    assert facts.human_agent_open_until is None


@pytest.mark.parametrize("channel", list(Channel))
def test_closed_at_after_the_last_inbound_closes_every_window(channel: Channel) -> None:
    facts = window_facts(channel, INBOUND, entry_point_at=INBOUND, closed_at=INBOUND + HOUR)
    assert facts == WindowFacts()
    assert not facts.any_free_window_open(INBOUND + 2 * HOUR)


def test_closed_at_the_same_instant_as_the_inbound_closes_it() -> None:
    assert window_facts(Channel.WHATSAPP, INBOUND, closed_at=INBOUND) == WindowFacts()


def test_a_newer_inbound_reopens_a_closed_window() -> None:
    closed = INBOUND + HOUR
    newer = INBOUND + 5 * HOUR
    facts = window_facts(Channel.WHATSAPP, newer, closed_at=closed)
    assert facts.service_open_until == newer + 24 * HOUR
    assert facts.service_open(newer + HOUR)


def test_windows_follow_the_inbound_timestamp_not_the_clock() -> None:
    """A message that arrives late (webhook retry) still closes 24 h after it was sent."""
    sent = INBOUND - 20 * HOUR
    facts = window_facts(Channel.WHATSAPP, sent)
    assert facts.service_open(INBOUND)
    assert not facts.service_open(INBOUND + 4 * HOUR)
