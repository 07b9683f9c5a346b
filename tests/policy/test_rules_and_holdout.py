"""Regional rules (strictest merge, legal caps, WhatsApp region blocks) and holdout buckets."""

from __future__ import annotations

from collections import Counter
from datetime import time, timedelta

import pytest

from threadline.channels import registry
from threadline.channels.kinds import Channel
from threadline.policy.holdout import BUCKETS, campaign_bucket, in_slice, new_bucket
from threadline.policy.rules import (
    default_quiet_hours,
    rules_for,
    strictest,
)
from threadline.policy.types import FrequencyCap, QuietHours

DEFAULT = QuietHours(start=time(8), end=time(21))

# ------------------------------------------------------------------------- rules_for


def test_default_hours_are_the_tcpa_8_to_21() -> None:
    assert default_quiet_hours() == DEFAULT


@pytest.mark.parametrize("subdivision", ["US-FL", "US-OK"])
def test_florida_and_oklahoma_8_to_20_and_3_per_24h(subdivision: str) -> None:
    rules = rules_for("US", subdivision)
    assert rules.quiet_hours == QuietHours(start=time(8), end=time(20), no_sundays=False)
    assert rules.caps == (
        FrequencyCap(
            max_messages=3,
            window=timedelta(hours=24),
            channel=None,  # counted across every channel
            label=f"{subdivision} legal limit",
        ),
    )


def test_france_adds_no_sundays_and_keeps_the_stricter_default_evening() -> None:
    rules = rules_for("FR", None)
    assert rules.quiet_hours == QuietHours(start=time(8), end=time(21), no_sundays=True)
    assert rules.caps == ()


def test_a_workspace_cannot_loosen_the_default_hours() -> None:
    """A workspace set to 07:00-23:00 still never texts a US number at 07:00 (TCPA), and in
    France it keeps the default evening plus the French Sunday rule."""
    base = QuietHours(start=time(7), end=time(23))
    assert rules_for("US", "US-NY", base).quiet_hours == QuietHours(time(8), time(21))
    assert rules_for("FR", None, base).quiet_hours == QuietHours(time(8), time(21), True)


@pytest.mark.parametrize(
    ("region", "subdivision"),
    [
        pytest.param(None, None, id="nothing-known"),
        pytest.param("ZZ", None, id="unknown-country"),
        pytest.param("US", "US-NY", id="us-state-without-its-own-rules"),
        pytest.param("DE", "DE-BY", id="unknown-subdivision"),
    ],
)
def test_unknown_region_gets_default_hours_and_no_caps(
    region: str | None, subdivision: str | None
) -> None:
    rules = rules_for(region, subdivision)
    assert rules.quiet_hours == DEFAULT
    assert rules.caps == ()


def test_workspace_base_stricter_than_the_law_stays_stricter() -> None:
    base = QuietHours(start=time(9, 30), end=time(18), no_sundays=True)
    florida = rules_for("US", "US-FL", base)
    assert florida.quiet_hours == base
    assert len(florida.caps) == 1  # the legal cap still applies
    assert rules_for(None, None, base).quiet_hours == base


def test_workspace_base_and_the_law_each_contribute_their_stricter_end() -> None:
    base = QuietHours(start=time(9), end=time(21, 30))
    assert rules_for("US", "US-FL", base).quiet_hours == QuietHours(time(9), time(20))


def test_strictest_is_symmetric_and_takes_the_later_start_and_earlier_end() -> None:
    a = QuietHours(start=time(8), end=time(20), no_sundays=False)
    b = QuietHours(start=time(9), end=time(22), no_sundays=True)
    assert strictest(a, b) == strictest(b, a) == QuietHours(time(9), time(20), True)


def test_whatsapp_marketing_is_blocked_to_us_numbers() -> None:
    reason = registry.rules_for(Channel.WHATSAPP).marketing_blocked("US")
    assert reason is not None
    assert "US" in reason


@pytest.mark.parametrize("region", ["CA", "BR", "FR", "MX", None])
def test_whatsapp_marketing_is_not_blocked_elsewhere(region: str | None) -> None:
    assert registry.rules_for(Channel.WHATSAPP).marketing_blocked(region) is None


# ------------------------------------------------------------------------- holdout


def test_campaign_bucket_is_deterministic_and_in_range() -> None:
    first = [campaign_bucket(f"contact-{i}", "spring-sale") for i in range(500)]
    again = [campaign_bucket(f"contact-{i}", "spring-sale") for i in range(500)]
    assert first == again
    assert all(0 <= bucket < BUCKETS for bucket in first)


def test_campaign_bucket_differs_between_campaigns() -> None:
    """Each campaign draws its own control group: not always the same people held out."""
    contacts = [f"contact-{i}" for i in range(1000)]
    spring = [campaign_bucket(c, "spring-sale") for c in contacts]
    autumn = [campaign_bucket(c, "autumn-sale") for c in contacts]
    assert sum(a != b for a, b in zip(spring, autumn, strict=True)) > 990
    spring_control = {c for c, b in zip(contacts, spring, strict=True) if in_slice(b, 10)}
    autumn_control = {c for c, b in zip(contacts, autumn, strict=True) if in_slice(b, 10)}
    # Independent 10% draws share about 1% of people; identical ones would share 10%.
    assert len(spring_control & autumn_control) < 40


def test_campaign_bucket_is_roughly_uniform() -> None:
    deciles = Counter(
        campaign_bucket(f"contact-{i}", "spring-sale") * 10 // BUCKETS for i in range(20_000)
    )
    expected = 20_000 / 10
    assert set(deciles) == set(range(10))
    for decile, count in deciles.items():
        assert abs(count - expected) < 0.15 * expected, (decile, count)


def test_campaign_holdout_share_matches_the_percentage() -> None:
    held = sum(in_slice(campaign_bucket(f"contact-{i}", "renewals"), 5) for i in range(20_000))
    assert 800 < held < 1200  # 5% of 20,000 = 1,000


@pytest.mark.parametrize(
    ("percent", "inside"),
    [
        pytest.param(0, 0, id="0%-nobody"),
        pytest.param(0.01, 1, id="0.01%-bucket-0"),
        pytest.param(2.5, 250, id="2.5%"),
        pytest.param(10, 1000, id="10%-buckets-0-999"),
        pytest.param(100, BUCKETS, id="100%-everybody"),
    ],
)
def test_in_slice_is_the_first_percent_of_buckets(percent: float, inside: int) -> None:
    members = [bucket for bucket in range(BUCKETS) if in_slice(bucket, percent)]
    assert members == list(range(inside))


def test_in_slice_ten_percent_edges() -> None:
    assert in_slice(0, 10)
    assert in_slice(999, 10)
    assert not in_slice(1000, 10)
    assert not in_slice(0, 0)


def test_new_bucket_is_in_range_and_varies() -> None:
    buckets = [new_bucket() for _ in range(2000)]
    assert all(0 <= bucket < BUCKETS for bucket in buckets)
    # 2,000 draws from 10,000 buckets: well over a thousand distinct values.
    assert len(set(buckets)) > 1500
