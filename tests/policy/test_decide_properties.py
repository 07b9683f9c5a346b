"""Properties of `decide` over generated send contexts: the promises that hold whatever the
channel, consent, windows, limits, caps, holdouts, budget, time of year and time zones."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from threadline.channels import registry
from threadline.channels.kinds import Channel
from threadline.policy.decide import decide
from threadline.policy.holdout import in_slice
from threadline.policy.quiet_hours import allowed_in_zone
from threadline.policy.types import (
    ChannelFacts,
    ConsentFacts,
    ConsentStatus,
    FrequencyCap,
    HoldoutFacts,
    Outcome,
    Purpose,
    Quality,
    QuietHours,
    Reason,
    RecentSend,
    Recipient,
    SendContext,
    TemplateCategory,
    TemplateFacts,
    WindowFacts,
)

# A generated context takes a few milliseconds to build; 200 keep this file under ~10 s.
PROPERTY = settings(max_examples=200, deadline=None)
# The clock-only contexts are cheap, and where quiet-hours edge cases live: more of them.
CLOCK = settings(max_examples=300, deadline=None)

# Whole hours, half and quarter hours, DST north and south, DST at midnight, ±14 h.
ZONES = (
    "UTC",
    "America/New_York",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "America/Santiago",
    "Pacific/Honolulu",
    "Pacific/Pago_Pago",
    "Pacific/Kiritimati",
    "Pacific/Chatham",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Africa/Cairo",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Lord_Howe",
)
START_OF_YEAR = datetime(2026, 1, 1, tzinfo=UTC)
QUARTER_HOUR = timedelta(minutes=15)
ONE_WEEK_AND_A_DAY = timedelta(days=8)

NON_SERVICE = (Purpose.MARKETING, Purpose.UTILITY, Purpose.AUTHENTICATION)
NOT_MARKETING = (Purpose.SERVICE, Purpose.UTILITY, Purpose.AUTHENTICATION)

# Any second of 2026, in UTC (as the clock gives it).
nows = st.integers(0, 365 * 24 * 60 * 60 - 1).map(
    lambda seconds: START_OF_YEAR + timedelta(seconds=seconds)
)
# Weighted towards a grant, so that generated sends often get past consent to the later rules.
consents = st.sampled_from([ConsentStatus.GRANTED] * 3 + list(ConsentStatus))
any_channel = st.sampled_from(Channel)
any_purpose = st.sampled_from(Purpose)
sms_or_email = st.sampled_from([Channel.SMS, Channel.EMAIL])
topics = st.sampled_from(["offers", "news"])
# Profile and phone zones, in order, without repeats (a repeat adds nothing to check).
zone_tuples = st.lists(st.sampled_from(ZONES), min_size=1, max_size=3).map(
    lambda zones: tuple(dict.fromkeys(zones))
)
# Quarter-hour starts, so every allowed span begins on a UTC quarter hour (see _overlap_before).
quiet_hours = st.builds(
    QuietHours,
    start=st.builds(time, st.integers(5, 11), st.sampled_from([0, 15, 30, 45])),
    end=st.builds(time, st.integers(12, 23), st.sampled_from([0, 15, 30, 45])),
    no_sundays=st.booleans(),
)
any_template = st.none() | st.builds(
    TemplateFacts,
    name=st.sampled_from(["spring_sale", "order_shipped", "login_code"]),
    category=st.sampled_from(TemplateCategory),
    status=st.sampled_from(["approved"] * 4 + ["pending", "rejected", "paused", "disabled"]),
)


def _minutes(low: int, high: int) -> st.SearchStrategy[timedelta | None]:
    """An optional offset from now, in whole minutes."""
    return st.none() | st.integers(low, high).map(lambda minutes: timedelta(minutes=minutes))


def _at(now: datetime, offset: timedelta | None) -> datetime | None:
    return None if offset is None else now + offset


# Strategies are built once, here: building them inside the composite is slow.
open_or_closed_48h = _minutes(-48 * 60, 48 * 60)
open_or_closed_96h = _minutes(-96 * 60, 96 * 60)
open_or_closed_8d = _minutes(-8 * 24 * 60, 8 * 24 * 60)
open_or_closed_24h = _minutes(-24 * 60, 24 * 60)
closed_72h = _minutes(-72 * 60, 0)
channel_states = st.tuples(
    st.sampled_from(Quality),
    st.none() | st.integers(0, 5),
    st.integers(0, 6),
    st.booleans(),
)
# (minutes ago, channel); a few lie in the future.
recent_sends = st.lists(
    st.tuples(st.integers(-60, 10 * 24 * 60), st.sampled_from(Channel)), max_size=4
)
cap_lists = st.lists(
    st.builds(
        FrequencyCap,
        max_messages=st.integers(1, 4),
        window=st.integers(1, 24 * 7).map(lambda hours: timedelta(hours=hours)),
        channel=st.none() | st.sampled_from(Channel),
        label=st.sampled_from(["", "workspace cap", "US-FL legal limit"]),
    ),
    max_size=2,
)
holdouts = st.builds(
    HoldoutFacts,
    global_control_percent=st.sampled_from([0.0, 0.0, 0.0, 2.5, 10.0, 15.0]),
    campaign_id=st.sampled_from([None, None, "spring", "renewals"]),
    campaign_holdout_percent=st.sampled_from([0.0, 5.0, 10.0, 50.0]),
    campaign_bucket=st.integers(0, 9999),
)
money = st.none() | st.integers(0, 200).map(lambda cents: Decimal(cents) / 100)
recipients = st.builds(
    Recipient,
    contact_id=st.just("c1"),
    region=st.sampled_from([None, "US", "CA", "BR", "FR", "DE"]),
    subdivision=st.sampled_from([None, "US-FL", "US-OK"]),
    timezones=zone_tuples,
    holdout_bucket=st.integers(0, 9999),
)


@st.composite
def send_contexts(
    draw: st.DrawFn,
    channels: st.SearchStrategy[Channel] = any_channel,
    purposes: st.SearchStrategy[Purpose] = any_purpose,
    templates: st.SearchStrategy[TemplateFacts | None] = any_template,
    closed_free_windows: bool = False,
) -> SendContext:
    now = draw(nows)
    window = WindowFacts(
        service_open_until=_at(
            now, draw(closed_72h if closed_free_windows else open_or_closed_48h)
        ),
        entry_point_open_until=_at(
            now, draw(closed_72h if closed_free_windows else open_or_closed_96h)
        ),
        human_agent_open_until=_at(now, draw(open_or_closed_8d)),
    )
    quality, messaging_limit, recipients_24h, counted = draw(channel_states)
    channel_state = ChannelFacts(
        quality=quality,
        messaging_limit=messaging_limit,
        recipients_24h=recipients_24h,
        recipient_already_counted=counted,
        limit_frees_at=_at(now, draw(open_or_closed_24h)),
    )
    recent = tuple(
        RecentSend(sent_at=now - timedelta(minutes=ago), channel=channel)
        for ago, channel in draw(recent_sends)
    )
    channel = draw(channels)
    return SendContext(
        now=now,
        channel=channel,
        rules=registry.rules_for(channel),
        purpose=draw(purposes),
        recipient=draw(recipients),
        topic=draw(topics),
        template=draw(templates),
        human_agent=draw(st.booleans()),
        consent=ConsentFacts(marketing=draw(consents), transactional=draw(consents)),
        window=window,
        channel_state=channel_state,
        recent_marketing=recent,
        caps=tuple(draw(cap_lists)),
        quiet_hours=draw(quiet_hours),
        holdout=draw(holdouts),
        budget_remaining=draw(money),
        cost_estimate=draw(money),
    )


@st.composite
def marketing_otherwise_allowed(draw: st.DrawFn) -> SendContext:
    """Marketing that only the clock can stop: consent, no caps, limits, holdouts or budget."""
    channel = draw(sms_or_email)
    return SendContext(
        now=draw(nows),
        channel=channel,
        rules=registry.rules_for(channel),
        purpose=Purpose.MARKETING,
        recipient=Recipient(contact_id="c1", timezones=draw(zone_tuples)),
        consent=ConsentFacts(marketing=ConsentStatus.GRANTED),
        quiet_hours=draw(quiet_hours),
    )


def _all_zones_allowed(hours: QuietHours, when: datetime, zones: tuple[str, ...]) -> bool:
    return all(allowed_in_zone(hours, when, zone) for zone in zones)


def _quarter_hours(start: datetime, end: datetime) -> list[datetime]:
    """`start`, then every UTC quarter hour after it, up to (not including) `end`."""
    first = start.replace(minute=start.minute - start.minute % 15, second=0) + QUARTER_HOUR
    marks = [start]
    while first < end:
        marks.append(first)
        first += QUARTER_HOUR
    return marks


def _overlap_before(
    hours: QuietHours, start: datetime, end: datetime, zones: tuple[str, ...]
) -> bool:
    """Is there an instant in [start, end) inside the hours in every zone? Exact for
    quarter-hour starts and ends: zone offsets are whole quarter hours, so any common span
    either contains `start` or begins on a UTC quarter hour."""
    return any(_all_zones_allowed(hours, mark, zones) for mark in _quarter_hours(start, end))


def _assert_quiet_hours_deferral(ctx: SendContext) -> None:
    decision = decide(ctx)
    if decision.reason is not Reason.QUIET_HOURS:
        return
    zones = ctx.recipient.timezones
    hours = ctx.quiet_hours
    until = decision.defer_until
    assert decision.outcome is Outcome.DEFERRED
    assert until is not None
    assert until > ctx.now
    if _all_zones_allowed(hours, until, zones):
        # The earliest such instant: nothing inside the hours everywhere was skipped.
        assert not _overlap_before(hours, ctx.now, until, zones)
    else:
        # Fallback: the zones have no common hour, so the first zone decides.
        assert allowed_in_zone(hours, until, zones[0])
        assert not _overlap_before(hours, ctx.now, ctx.now + ONE_WEEK_AND_A_DAY, zones)
    assert decide(replace(ctx, now=until)).reason is not Reason.QUIET_HOURS


@PROPERTY
@given(
    send_contexts(channels=st.just(Channel.WHATSAPP), templates=st.none(), closed_free_windows=True)
)
def test_never_free_form_outside_an_open_window_on_whatsapp(ctx: SendContext) -> None:
    assert not ctx.window.any_free_window_open(ctx.now)
    assert decide(ctx).outcome is Outcome.REFUSED


@PROPERTY
@given(
    send_contexts(purposes=st.just(Purpose.MARKETING)),
    st.sampled_from([ConsentStatus.NONE, ConsentStatus.PENDING, ConsentStatus.REVOKED]),
)
def test_never_marketing_without_a_grant(ctx: SendContext, marketing: ConsentStatus) -> None:
    ctx = replace(ctx, consent=replace(ctx.consent, marketing=marketing))
    decision = decide(ctx)
    assert decision.outcome is Outcome.REFUSED
    assert decision.defer_until is None


@PROPERTY
@given(send_contexts(purposes=st.sampled_from(NON_SERVICE)))
def test_opt_out_beats_every_other_rule(ctx: SendContext) -> None:
    if ctx.purpose is Purpose.MARKETING:
        consent = replace(ctx.consent, marketing=ConsentStatus.REVOKED)
    else:
        consent = replace(ctx.consent, transactional=ConsentStatus.REVOKED)
    decision = decide(replace(ctx, consent=consent))
    assert (decision.outcome, decision.reason) == (Outcome.REFUSED, Reason.OPTED_OUT)


@PROPERTY
@given(send_contexts())
def test_quiet_hours_defer_never_drop(ctx: SendContext) -> None:
    decision = decide(ctx)
    assert not (decision.outcome is Outcome.REFUSED and decision.reason is Reason.QUIET_HOURS)
    _assert_quiet_hours_deferral(ctx)


@CLOCK
@given(marketing_otherwise_allowed())
def test_quiet_hours_defer_to_the_first_common_hour(ctx: SendContext) -> None:
    decision = decide(ctx)
    assert decision.outcome is not Outcome.REFUSED
    zones = ctx.recipient.timezones
    if decision.allowed and not _all_zones_allowed(ctx.quiet_hours, ctx.now, zones):
        # Only when the zones never share an hour, and then inside the first zone's hours.
        assert allowed_in_zone(ctx.quiet_hours, ctx.now, zones[0])
        assert not _overlap_before(ctx.quiet_hours, ctx.now, ctx.now + ONE_WEEK_AND_A_DAY, zones)
    elif not decision.allowed:
        assert decision.reason is Reason.QUIET_HOURS
    _assert_quiet_hours_deferral(ctx)


@PROPERTY
@given(send_contexts(purposes=st.sampled_from(NOT_MARKETING)))
def test_transactional_messages_never_hit_marketing_limits(ctx: SendContext) -> None:
    decision = decide(ctx)
    assert decision.reason not in (
        Reason.FREQUENCY_CAP,
        Reason.QUIET_HOURS,
        Reason.QUALITY_PAUSED,
    )
    if decision.reason is Reason.HOLDOUT:
        # Only a campaign's own control group; the global control is for marketing.
        assert ctx.holdout.campaign_id is not None
        assert in_slice(ctx.holdout.campaign_bucket, ctx.holdout.campaign_holdout_percent)
        assert "global control" not in decision.detail


@PROPERTY
@given(send_contexts())
def test_decide_is_deterministic_total_and_well_formed(ctx: SendContext) -> None:
    decision = decide(ctx)
    assert decide(replace(ctx)) == decision
    assert decision.cost_estimate == ctx.cost_estimate
    assert decision.detail
    if decision.outcome is Outcome.ALLOWED:
        assert decision.reason is None
        assert decision.defer_until is None
        assert decision.requires == ()
    elif decision.outcome is Outcome.DEFERRED:
        assert decision.reason in (Reason.QUIET_HOURS, Reason.MESSAGING_LIMIT)
        assert decision.defer_until is not None
        assert decision.defer_until > ctx.now
    else:
        assert decision.reason is not None
        assert decision.defer_until is None
