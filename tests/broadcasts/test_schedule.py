"""When a broadcast's occurrences start and when each recipient's message is due.

Every expected moment is worked out by hand in the comments, from the zone's offset on that
date: the US moved to daylight time on Sunday 2026-03-08 (02:00 EST → 03:00 EDT) and the
EU on Sunday 2026-03-29 (01:00 UTC). Nothing here touches the database."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from threadline.broadcasts.schedule import check_not_past, due_for, next_occurrence, run_at
from threadline.broadcasts.spec import Recurrence, Schedule, ScheduleKind
from threadline.kit.errors import InvalidInput

# Before every schedule below, so none of them has passed.
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NEW_YORK = "America/New_York"


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def weekly_new_york(until: date | None = None) -> Schedule:
    # Thursday 2026-03-05 10:00 in New York, given as the UTC moment: EST is UTC-5 → 15:00.
    return Schedule(
        kind=ScheduleKind.AT,
        at=utc(2026, 3, 5, 15, 0),
        zone=NEW_YORK,
        recurrence=Recurrence.WEEKLY,
        until=until,
    )


def local_ten(first: date, recurrence: Recurrence = Recurrence.NONE, **extra: Any) -> Schedule:
    return Schedule(
        kind=ScheduleKind.LOCAL_TIME,
        date=first,
        local_time=time(10, 0),
        recurrence=recurrence,
        **extra,
    )


# --- kind "now" -----------------------------------------------------------------------------


def test_now_starts_at_the_moment_it_is_sent() -> None:
    assert run_at(Schedule(), 1, NOW) == NOW
    assert check_not_past(Schedule(), NOW) == NOW


def test_now_sends_every_message_as_soon_as_the_fan_out_reaches_it() -> None:
    # No local time to wait for, whatever the recipient's zone.
    started = NOW + timedelta(minutes=3)
    assert due_for(Schedule(), 1, "Pacific/Honolulu", started) == started


# --- kind "at" ------------------------------------------------------------------------------


def test_a_one_off_at_broadcast_starts_at_its_moment_and_never_again() -> None:
    # 2026-03-20 09:30 at UTC+01:00 is 08:30 UTC.
    schedule = Schedule(
        kind=ScheduleKind.AT, at=datetime(2026, 3, 20, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    )
    assert run_at(schedule, 1, NOW) == utc(2026, 3, 20, 8, 30)
    assert run_at(schedule, 1, NOW).tzinfo is UTC
    assert next_occurrence(schedule, 1, NOW) is None


@pytest.mark.parametrize(
    ("occurrence", "expected"),
    [
        (1, utc(2026, 3, 5, 15, 0)),  # Thu 03-05 10:00 EST (UTC-5)
        (2, utc(2026, 3, 12, 14, 0)),  # Thu 03-12 10:00 EDT (UTC-4): after the 03-08 change
        (3, utc(2026, 3, 19, 14, 0)),  # Thu 03-19 10:00 EDT
    ],
)
def test_a_weekly_broadcast_keeps_its_wall_clock_across_dst(
    occurrence: int, expected: datetime
) -> None:
    assert run_at(weekly_new_york(), occurrence, NOW) == expected


def test_the_first_moment_may_be_given_with_the_zones_own_offset() -> None:
    # 10:00-05:00 is the same moment as 15:00Z: the wall clock repeated is New York's 10:00.
    schedule = Schedule(
        kind=ScheduleKind.AT,
        at=datetime(2026, 3, 5, 10, 0, tzinfo=timezone(timedelta(hours=-5))),
        zone=NEW_YORK,
        recurrence=Recurrence.WEEKLY,
    )
    assert run_at(schedule, 2, NOW) == utc(2026, 3, 12, 14, 0)


def test_without_a_zone_a_recurring_broadcast_keeps_its_utc_offset() -> None:
    # Only the offset -05:00 is known, so the second week is 10:00-05:00 = 15:00 UTC, which
    # is 11:00 in New York by then: why a recurring broadcast should name its zone.
    schedule = Schedule(
        kind=ScheduleKind.AT,
        at=datetime(2026, 3, 5, 10, 0, tzinfo=timezone(timedelta(hours=-5))),
        recurrence=Recurrence.WEEKLY,
    )
    assert run_at(schedule, 2, NOW) == utc(2026, 3, 12, 15, 0)


def test_an_at_broadcast_sends_to_everyone_when_it_starts() -> None:
    # One moment for everyone: the recipient's zone does not delay anyone.
    started = utc(2026, 3, 12, 14, 0, 5)
    assert due_for(weekly_new_york(), 2, "Pacific/Kiritimati", started) == started
    assert due_for(weekly_new_york(), 2, "Pacific/Honolulu", started) == started


# --- kind "local_time" ----------------------------------------------------------------------


def test_a_local_time_occurrence_starts_when_utc_plus_14_reaches_it() -> None:
    # 2026-03-10 10:00 at UTC+14 is 2026-03-09 20:00 UTC; the next day's a day later.
    schedule = local_ten(date(2026, 3, 10), Recurrence.DAILY)
    assert run_at(schedule, 1, NOW) == utc(2026, 3, 9, 20, 0)
    assert run_at(schedule, 2, NOW) == utc(2026, 3, 10, 20, 0)


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("Pacific/Kiritimati", utc(2026, 3, 9, 20, 0)),  # UTC+14: the first to get it
        ("Asia/Kolkata", utc(2026, 3, 10, 4, 30)),  # UTC+5:30
        ("Europe/London", utc(2026, 3, 10, 10, 0)),  # GMT, UTC+0 until 03-29
        (NEW_YORK, utc(2026, 3, 10, 14, 0)),  # EDT, UTC-4 since 03-08
        ("Pacific/Honolulu", utc(2026, 3, 10, 20, 0)),  # HST, UTC-10, no DST
    ],
)
def test_each_recipient_gets_it_at_ten_where_they_are(zone: str, expected: datetime) -> None:
    schedule = local_ten(date(2026, 3, 10))
    started = run_at(schedule, 1, NOW)
    assert due_for(schedule, 1, zone, started) == expected


@pytest.mark.parametrize(
    ("zone", "first", "occurrence", "expected"),
    [
        # London, daily from Sat 03-28: GMT (UTC+0) that day, BST (UTC+1) from Sun 03-29.
        ("Europe/London", date(2026, 3, 28), 1, utc(2026, 3, 28, 10, 0)),
        ("Europe/London", date(2026, 3, 28), 2, utc(2026, 3, 29, 9, 0)),
        # New York, daily from Sat 03-07: EST (UTC-5) that day, EDT (UTC-4) from Sun 03-08.
        (NEW_YORK, date(2026, 3, 7), 1, utc(2026, 3, 7, 15, 0)),
        (NEW_YORK, date(2026, 3, 7), 2, utc(2026, 3, 8, 14, 0)),
    ],
)
def test_a_daily_local_time_keeps_ten_oclock_across_dst(
    zone: str, first: date, occurrence: int, expected: datetime
) -> None:
    schedule = local_ten(first, Recurrence.DAILY)
    started = run_at(schedule, occurrence, NOW)
    assert due_for(schedule, occurrence, zone, started) == expected


def test_a_late_fan_out_sends_at_once_where_ten_oclock_has_passed() -> None:
    # The fan-out only started at 16:00 UTC on 03-10: New York's 10:00 (14:00 UTC) has gone,
    # so it sends now rather than in the past; Honolulu's 10:00 (20:00 UTC) is still ahead.
    schedule = local_ten(date(2026, 3, 10))
    started = utc(2026, 3, 10, 16, 0)
    assert due_for(schedule, 1, NEW_YORK, started) == started
    assert due_for(schedule, 1, "Pacific/Honolulu", started) == utc(2026, 3, 10, 20, 0)


# --- recurrence -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("occurrence", "expected"),
    [
        (1, utc(2026, 3, 12, 14, 0)),  # week 2: Thu 03-12 10:00 EDT
        (2, utc(2026, 3, 19, 14, 0)),  # week 3: Thu 03-19, the `until` date itself, is kept
        (3, None),  # week 4 would be 03-26, after `until`
    ],
)
def test_a_weekly_broadcast_stops_after_its_until_date(
    occurrence: int, expected: datetime | None
) -> None:
    schedule = weekly_new_york(until=date(2026, 3, 19))
    assert next_occurrence(schedule, occurrence, NOW) == expected


@pytest.mark.parametrize(
    ("occurrence", "expected"),
    [
        (1, utc(2026, 3, 10, 20, 0)),  # 03-11 10:00 at UTC+14
        (2, utc(2026, 3, 11, 20, 0)),  # 03-12 10:00 at UTC+14: the last day
        (3, None),  # 03-13 is after `until`
    ],
)
def test_a_daily_local_time_broadcast_stops_after_its_until_date(
    occurrence: int, expected: datetime | None
) -> None:
    schedule = local_ten(date(2026, 3, 10), Recurrence.DAILY, until=date(2026, 3, 12))
    assert next_occurrence(schedule, occurrence, NOW) == expected


def test_without_until_a_recurring_broadcast_goes_on() -> None:
    # Week 53 of a weekly broadcast from 2026-03-05 is Thu 2027-03-04, still EST: 15:00 UTC.
    assert next_occurrence(weekly_new_york(), 52, NOW) == utc(2027, 3, 4, 15, 0)


@pytest.mark.parametrize(
    "schedule",
    [
        Schedule(),
        Schedule(kind=ScheduleKind.AT, at=utc(2026, 3, 5, 15, 0), zone=NEW_YORK),
        local_ten(date(2026, 3, 10)),
    ],
    ids=["now", "at", "local_time"],
)
def test_a_broadcast_that_does_not_recur_has_no_next_occurrence(schedule: Schedule) -> None:
    assert next_occurrence(schedule, 1, NOW) is None


# --- check_not_past -------------------------------------------------------------------------


def test_an_at_moment_in_the_past_is_refused() -> None:
    schedule = Schedule(kind=ScheduleKind.AT, at=utc(2026, 3, 1, 11, 0))
    with pytest.raises(InvalidInput) as caught:
        check_not_past(schedule, NOW)
    assert caught.value.where == "schedule.at"
    assert caught.value.status_code == 422
    assert "2026-03-01T11:00:00+00:00 has passed" in caught.value.message


def test_an_at_moment_a_few_seconds_ago_still_goes() -> None:
    # Thirty seconds between pressing "send at 12:00" and the request arriving is not an
    # error: there is a minute's grace.
    schedule = Schedule(kind=ScheduleKind.AT, at=NOW)
    assert check_not_past(schedule, NOW + timedelta(seconds=30)) == NOW


def test_an_at_moment_in_the_future_is_the_first_start() -> None:
    assert check_not_past(weekly_new_york(), NOW) == utc(2026, 3, 5, 15, 0)


def test_a_local_time_already_passed_at_utc_plus_14_is_refused() -> None:
    # 03-10 10:00 began at UTC+14 at 03-09 20:00 UTC; a second later someone has missed it,
    # even though it is still morning of 03-09 in the Americas.
    schedule = local_ten(date(2026, 3, 10))
    with pytest.raises(InvalidInput) as caught:
        check_not_past(schedule, utc(2026, 3, 9, 20, 0, 1))
    assert caught.value.where == "schedule.date"
    assert "has already passed in the earliest time zone (UTC+14)" in caught.value.message


def test_a_local_time_not_yet_reached_anywhere_is_the_first_start() -> None:
    schedule = local_ten(date(2026, 3, 10))
    assert check_not_past(schedule, utc(2026, 3, 9, 20, 0)) == utc(2026, 3, 9, 20, 0)


# --- incomplete schedules -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"kind": "at"}, "schedule.at must be a moment with its UTC offset"),
        # A naive time would be read in whatever zone the server runs in.
        ({"kind": "at", "at": "2026-03-05T10:00:00"}, "schedule.at must be a moment"),
        (
            {"kind": "local_time", "local_time": "10:00"},
            "a local_time schedule needs schedule.date and schedule.local_time",
        ),
        (
            {"kind": "local_time", "date": "2026-03-10"},
            "a local_time schedule needs schedule.date and schedule.local_time",
        ),
        ({"recurrence": "daily"}, "a recurring broadcast needs kind 'at' or 'local_time'"),
        (
            {"kind": "at", "at": "2026-03-05T15:00:00Z", "zone": "Mars/Olympus_Mons"},
            "unknown time zone 'Mars/Olympus_Mons'",
        ),
    ],
    ids=["at-missing", "at-naive", "no-date", "no-local-time", "recurring-now", "bad-zone"],
)
def test_an_incomplete_schedule_is_refused_saying_what_is_missing(
    given: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Schedule.model_validate(given)
