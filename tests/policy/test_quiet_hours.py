"""Local sending hours: `allowed_in_zone` and `next_allowed`, including DST days, several zones
and zones that never share an allowed hour."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import permutations
from zoneinfo import ZoneInfo

import pytest

from threadline.policy.quiet_hours import allowed_in_zone, next_allowed
from threadline.policy.types import QuietHours

DEFAULT = QuietHours()  # 08:00-21:00
NO_SUNDAYS = QuietHours(start=time(8), end=time(22), no_sundays=True)

NEW_YORK = "America/New_York"
LOS_ANGELES = "America/Los_Angeles"
BERLIN = "Europe/Berlin"
PARIS = "Europe/Paris"
TOKYO = "Asia/Tokyo"


def local(
    zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A wall-clock time in `zone`, as the UTC instant a server clock would give."""
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# ------------------------------------------------------------------------- allowed_in_zone


@pytest.mark.parametrize(
    ("wall", "allowed"),
    [
        pytest.param((7, 59, 59), False, id="07:59:59-before-start"),
        pytest.param((8, 0, 0), True, id="08:00-start-is-allowed"),
        pytest.param((12, 0, 0), True, id="noon"),
        pytest.param((20, 59, 59), True, id="20:59:59-last-second"),
        pytest.param((21, 0, 0), False, id="21:00-end-is-not-allowed"),
        pytest.param((23, 30, 0), False, id="late-evening"),
        pytest.param((0, 0, 0), False, id="midnight"),
    ],
)
def test_allowed_in_zone_boundaries(wall: tuple[int, int, int], allowed: bool) -> None:
    when = local(NEW_YORK, 2026, 3, 10, *wall)
    assert allowed_in_zone(DEFAULT, when, NEW_YORK) is allowed


def test_allowed_in_zone_uses_the_recipients_wall_clock_not_utc() -> None:
    when = utc(2026, 3, 10, 15, 0)  # 16:00 in Berlin, 00:00 next day in Tokyo
    assert allowed_in_zone(DEFAULT, when, BERLIN)
    assert not allowed_in_zone(DEFAULT, when, TOKYO)


def test_no_sundays_blocks_the_whole_local_sunday() -> None:
    sunday_noon = local(PARIS, 2026, 3, 15, 12, 0)
    assert not allowed_in_zone(NO_SUNDAYS, sunday_noon, PARIS)
    assert allowed_in_zone(QuietHours(end=time(22)), sunday_noon, PARIS)
    assert allowed_in_zone(NO_SUNDAYS, local(PARIS, 2026, 3, 14, 12, 0), PARIS)  # Saturday


def test_sunday_is_the_recipients_sunday() -> None:
    # Saturday 20:00 UTC is already Sunday 10:00 at UTC+14.
    when = utc(2026, 3, 14, 20, 0)
    assert not allowed_in_zone(NO_SUNDAYS, when, "Pacific/Kiritimati")
    assert allowed_in_zone(NO_SUNDAYS, when, "UTC")


# ------------------------------------------------------------------------- next_allowed, one zone


def test_inside_hours_needs_no_deferral() -> None:
    assert next_allowed(DEFAULT, local(NEW_YORK, 2026, 3, 10, 8, 0), (NEW_YORK,)) is None
    assert next_allowed(DEFAULT, local(NEW_YORK, 2026, 3, 10, 20, 59), (NEW_YORK,)) is None


def test_before_start_defers_to_start_the_same_day() -> None:
    now = local(NEW_YORK, 2026, 3, 10, 6, 45)
    assert next_allowed(DEFAULT, now, (NEW_YORK,)) == local(NEW_YORK, 2026, 3, 10, 8, 0)


def test_after_end_defers_to_start_the_next_day() -> None:
    now = local(NEW_YORK, 2026, 3, 10, 22, 15)
    assert next_allowed(DEFAULT, now, (NEW_YORK,)) == local(NEW_YORK, 2026, 3, 11, 8, 0)


def test_exactly_at_end_defers_to_the_next_day() -> None:
    now = local(NEW_YORK, 2026, 3, 10, 21, 0)
    assert next_allowed(DEFAULT, now, (NEW_YORK,)) == local(NEW_YORK, 2026, 3, 11, 8, 0)


def test_just_after_midnight_defers_to_the_same_calendar_day() -> None:
    now = local(NEW_YORK, 2026, 3, 11, 0, 5)
    assert next_allowed(DEFAULT, now, (NEW_YORK,)) == local(NEW_YORK, 2026, 3, 11, 8, 0)


def test_result_keeps_the_callers_time_zone() -> None:
    until = next_allowed(DEFAULT, utc(2026, 3, 10, 2, 0), (NEW_YORK,))
    assert until == utc(2026, 3, 10, 12, 0)
    assert until is not None and until.tzinfo is UTC


def test_no_zones_means_utc() -> None:
    assert next_allowed(DEFAULT, utc(2026, 3, 10, 22, 0), ()) == utc(2026, 3, 11, 8, 0)


# ------------------------------------------------------------------------- DST days


@pytest.mark.parametrize(
    ("zone", "now", "expected"),
    [
        # New York springs forward on Sun 2026-03-08 at 02:00 EST -> 03:00 EDT.
        pytest.param(
            NEW_YORK, utc(2026, 3, 8, 6, 0), utc(2026, 3, 8, 12, 0), id="new-york-spring-forward"
        ),
        pytest.param(
            NEW_YORK,
            utc(2026, 3, 8, 2, 30),  # Sat 21:30 EST, the evening before
            utc(2026, 3, 8, 12, 0),  # Sun 08:00 EDT: a night one hour shorter
            id="new-york-night-before-spring-forward",
        ),
        # New York falls back on Sun 2026-11-01 at 02:00 EDT -> 01:00 EST.
        pytest.param(
            NEW_YORK,
            utc(2026, 11, 1, 5, 30),  # 01:30 EDT, the first time round
            utc(2026, 11, 1, 13, 0),  # 08:00 EST
            id="new-york-fall-back-first-01:30",
        ),
        pytest.param(
            NEW_YORK,
            utc(2026, 11, 1, 6, 30),  # 01:30 EST, the second time round
            utc(2026, 11, 1, 13, 0),
            id="new-york-fall-back-second-01:30",
        ),
        # Berlin springs forward on Sun 2026-03-29 at 02:00 CET -> 03:00 CEST.
        pytest.param(
            BERLIN,
            utc(2026, 3, 28, 21, 0),  # Sat 22:00 CET
            utc(2026, 3, 29, 6, 0),  # Sun 08:00 CEST
            id="berlin-spring-forward",
        ),
        # Berlin falls back on Sun 2026-10-25 at 03:00 CEST -> 02:00 CET.
        pytest.param(
            BERLIN,
            utc(2026, 10, 24, 20, 0),  # Sat 22:00 CEST
            utc(2026, 10, 25, 7, 0),  # Sun 08:00 CET
            id="berlin-fall-back",
        ),
    ],
)
def test_dst_days_defer_to_local_08_00(zone: str, now: datetime, expected: datetime) -> None:
    until = next_allowed(DEFAULT, now, (zone,))
    assert until == expected
    assert until.astimezone(ZoneInfo(zone)).time() == time(8, 0)


def test_dst_shifts_the_allowed_span_in_utc() -> None:
    # 12:30 UTC is 07:30 on the Saturday before spring-forward, 08:30 on the Monday after.
    assert not allowed_in_zone(DEFAULT, utc(2026, 3, 7, 12, 30), NEW_YORK)
    assert allowed_in_zone(DEFAULT, utc(2026, 3, 9, 12, 30), NEW_YORK)


# ------------------------------------------------------------------------- several zones


def test_two_zones_both_inside_needs_no_deferral() -> None:
    # 16:00 UTC: 17:00 in Berlin, 12:00 in New York.
    assert next_allowed(DEFAULT, utc(2026, 3, 10, 16, 0), (BERLIN, NEW_YORK)) is None


@pytest.mark.parametrize(
    ("now", "zones", "expected"),
    [
        pytest.param(
            utc(2026, 3, 10, 12, 30),  # New York 08:30, Los Angeles 05:30
            (NEW_YORK, LOS_ANGELES),
            utc(2026, 3, 10, 15, 0),  # Los Angeles 08:00
            id="phone-zone-still-asleep",
        ),
        pytest.param(
            utc(2026, 3, 10, 11, 0),  # Berlin 12:00, New York 07:00
            (BERLIN, NEW_YORK),
            utc(2026, 3, 10, 12, 0),  # New York 08:00
            id="profile-zone-still-asleep",
        ),
        pytest.param(
            # Berlin 21:00 (closed); Berlin's next 08:00 is 03:00 in New York, so wait on to
            # New York's 08:00, when Berlin is open again (13:00).
            utc(2026, 3, 10, 20, 0),
            (BERLIN, NEW_YORK),
            utc(2026, 3, 11, 12, 0),
            id="two-hops",
        ),
    ],
)
def test_the_strictest_zone_wins(now: datetime, zones: tuple[str, str], expected: datetime) -> None:
    for order in permutations(zones):
        until = next_allowed(DEFAULT, now, order)
        assert until == expected
        assert all(allowed_in_zone(DEFAULT, until, zone) for zone in zones)


def test_strictest_zone_wins_on_a_florida_evening() -> None:
    florida = QuietHours(end=time(20))
    # 23:30 UTC: 19:30 in Miami (fine), 16:30 in Los Angeles (fine) -> no deferral.
    assert next_allowed(florida, utc(2026, 3, 10, 23, 30), (NEW_YORK, LOS_ANGELES)) is None
    # 00:30 UTC: 20:30 in Miami (closed) -> next morning 08:00 in LA, 11:00 in Miami.
    until = next_allowed(florida, utc(2026, 3, 11, 0, 30), (NEW_YORK, LOS_ANGELES))
    assert until == utc(2026, 3, 11, 15, 0)


# ------------------------------------------------------------------------- no Sundays


@pytest.mark.parametrize(
    ("wall", "expected_wall"),
    [
        pytest.param((2026, 3, 14, 22, 30), (2026, 3, 16, 8, 0), id="saturday-night-to-monday"),
        pytest.param((2026, 3, 15, 7, 0), (2026, 3, 16, 8, 0), id="sunday-dawn-to-monday"),
        pytest.param((2026, 3, 15, 12, 0), (2026, 3, 16, 8, 0), id="sunday-noon-to-monday"),
        pytest.param((2026, 3, 16, 7, 0), (2026, 3, 16, 8, 0), id="monday-dawn-same-day"),
    ],
)
def test_no_sundays_skips_to_monday(
    wall: tuple[int, int, int, int, int], expected_wall: tuple[int, int, int, int, int]
) -> None:
    assert next_allowed(NO_SUNDAYS, local(PARIS, *wall), (PARIS,)) == local(PARIS, *expected_wall)


def test_no_sundays_saturday_inside_hours_is_allowed() -> None:
    assert next_allowed(NO_SUNDAYS, local(PARIS, 2026, 3, 14, 10, 0), (PARIS,)) is None


def test_no_sundays_in_two_zones_waits_for_a_day_that_is_monday_in_both() -> None:
    # Sunday 23:00 UTC is Monday 08:00 in Tokyo but still Sunday in Paris.
    now = utc(2026, 3, 15, 23, 0)
    until = next_allowed(NO_SUNDAYS, now, (TOKYO, PARIS))
    assert until is not None
    for zone in (TOKYO, PARIS):
        assert allowed_in_zone(NO_SUNDAYS, until, zone)
        assert until.astimezone(ZoneInfo(zone)).weekday() == 0  # Monday in both
    assert until == local(PARIS, 2026, 3, 16, 8, 0)


# ------------------------------------------------------------------------- zones that never overlap

MORNINGS = QuietHours(start=time(9), end=time(12))  # Tokyo 00-03 UTC, New York 13-16 UTC (EDT)


def test_zones_that_never_overlap_fall_back_to_the_first_zone() -> None:
    now = utc(2026, 3, 10, 15, 0)  # 11:00 in New York, midnight in Tokyo
    assert next_allowed(MORNINGS, now, (TOKYO, NEW_YORK)) == local(TOKYO, 2026, 3, 11, 9, 0)
    assert next_allowed(MORNINGS, now, (NEW_YORK, TOKYO)) is None  # New York is first: open


def test_fallback_deferral_is_final() -> None:
    """At the instant a message was deferred to, it goes: deferring it again would push it a
    day further every day, and it would never be sent."""
    zones = (TOKYO, NEW_YORK)
    until = next_allowed(MORNINGS, utc(2026, 3, 10, 15, 0), zones)
    assert until is not None
    assert next_allowed(MORNINGS, until, zones) is None
    assert next_allowed(MORNINGS, until + timedelta(hours=2, minutes=59), zones) is None
    assert next_allowed(MORNINGS, until + timedelta(hours=3), zones) == until + timedelta(days=1)


def test_twelve_hour_days_twelve_hours_apart_fall_back_too() -> None:
    # Florida-style 08:00-20:00 in New York (EDT, UTC-4) and Shanghai (UTC+8) only touch.
    florida = QuietHours(end=time(20))
    zones = (NEW_YORK, "Asia/Shanghai")
    now = utc(2026, 6, 10, 1, 0)  # 21:00 in New York, 09:00 in Shanghai
    until = next_allowed(florida, now, zones)
    assert until == local(NEW_YORK, 2026, 6, 10, 8, 0)
    assert next_allowed(florida, until, zones) is None
