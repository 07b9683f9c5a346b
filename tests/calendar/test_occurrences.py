"""A broadcast's schedule walked across the calendar's days: recurrence, `until`, zones and
DST (Europe changes on 29 March 2026, the US on 8 March), and which occurrences count."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from tests.conftest import T0
from threadline.broadcasts.models import Broadcast
from threadline.broadcasts.spec import BroadcastSpec
from threadline.calendar.occurrences import occurrences
from threadline.calendar.span import Span


def broadcast(schedule: dict[str, Any], status: str = "scheduled", **row: Any) -> Broadcast:
    spec = BroadcastSpec.model_validate({
        "name": "Offer", "audience": 'tag("vip")', "channels": ["sms"],
        "content": {"default": {"type": "text", "body": "Hi"}}, "schedule": schedule,
    })  # fmt: skip
    return Broadcast(
        id="bc_1", workspace_id="ws_1", name="Offer", spec=spec.model_dump(mode="json"),
        status=status, occurrence=row.pop("occurrence", 1), tally={}, **row,
    )  # fmt: skip


def walk(b: Broadcast, first: date, last: date, zone: str = "UTC") -> list[tuple[Any, ...]]:
    span = Span(first, last, zone, T0.date())
    found = occurrences(b, BroadcastSpec.model_validate(b.spec), span, first, T0)
    return [(o.number, o.day.isoformat(), o.time, o.moment, o.started) for o in found]


def utc(year: int, month: int, day: int, hour: int) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def test_local_time_keeps_its_wall_clock_across_the_dst_change() -> None:
    b = broadcast(
        {"kind": "local_time", "date": "2026-03-27", "local_time": "10:00",
         "recurrence": "daily", "until": "2026-03-30"}
    )  # fmt: skip
    found = walk(b, date(2026, 3, 1), date(2026, 3, 31), "Europe/Lisbon")
    assert [(n, d, t) for n, d, t, _m, _s in found] == [
        (1, "2026-03-27", "10:00"), (2, "2026-03-28", "10:00"),
        (3, "2026-03-29", "10:00"), (4, "2026-03-30", "10:00"),
    ]  # fmt: skip
    # Placed at 10:00 Lisbon time for the caps: WET (UTC) before the 29th, WEST (UTC+1) after.
    assert [m for *_x, m, _s in found] == [
        utc(2026, 3, 27, 10),
        utc(2026, 3, 28, 10),
        utc(2026, 3, 29, 9),
        utc(2026, 3, 30, 9),
    ]


def test_a_weekly_moment_in_a_zone_is_shown_on_the_calendars_clock() -> None:
    b = broadcast(
        {"kind": "at", "at": "2026-03-03T10:00:00-05:00", "zone": "America/New_York",
         "recurrence": "weekly"}
    )  # fmt: skip
    in_new_york = walk(b, date(2026, 3, 1), date(2026, 3, 20), "America/New_York")
    assert [(d, t) for _n, d, t, _m, _s in in_new_york] == [
        ("2026-03-03", "10:00"),
        ("2026-03-10", "10:00"),
        ("2026-03-17", "10:00"),
    ]
    in_lisbon = walk(b, date(2026, 3, 1), date(2026, 3, 20), "Europe/Lisbon")
    # 15:00 UTC before the US change, 14:00 after; Lisbon stays on UTC until the 29th.
    assert [t for _n, _d, t, _m, _s in in_lisbon] == ["15:00", "14:00", "14:00"]


def test_until_ends_it_and_the_range_cuts_it() -> None:
    b = broadcast(
        {"kind": "at", "at": "2026-03-12T09:00:00+00:00", "recurrence": "daily",
         "until": "2026-03-14"}
    )  # fmt: skip
    assert [d for _n, d, *_ in walk(b, date(2026, 3, 1), date(2026, 3, 31))] == [
        "2026-03-12", "2026-03-13", "2026-03-14"
    ]  # fmt: skip
    assert [d for _n, d, *_ in walk(b, date(2026, 3, 13), date(2026, 3, 13))] == ["2026-03-13"]


def test_a_long_running_daily_broadcast_is_not_walked_from_its_first_day() -> None:
    b = broadcast(
        {"kind": "at", "at": "2025-01-01T09:00:00+00:00", "recurrence": "daily"},
        occurrence=434,  # 2026-03-10
        started_at=utc(2026, 3, 10, 9),
        status="sending",
    )
    found = walk(b, date(2026, 3, 9), date(2026, 3, 12))
    assert [(n, d, s) for n, d, _t, _m, s in found] == [
        (433, "2026-03-09", True), (434, "2026-03-10", True),
        (435, "2026-03-11", False), (436, "2026-03-12", False),
    ]  # fmt: skip


def test_a_cancelled_broadcast_keeps_only_what_it_sent() -> None:
    schedule = {"kind": "at", "at": "2026-03-09T09:00:00+00:00", "recurrence": "daily"}
    b = broadcast(schedule, status="cancelled", occurrence=2, started_at=utc(2026, 3, 10, 9))
    assert [(n, s) for n, _d, _t, _m, s in walk(b, date(2026, 3, 1), date(2026, 3, 31))] == [
        (1, True),
        (2, True),
    ]
    never = broadcast(schedule, status="cancelled")
    assert walk(never, date(2026, 3, 1), date(2026, 3, 31)) == []


def test_a_broadcast_sent_now_is_on_the_day_it_goes() -> None:
    b = broadcast({"kind": "now"}, next_run_at=T0 + timedelta(minutes=1))
    assert walk(b, date(2026, 3, 1), date(2026, 3, 31), "Asia/Tokyo") == [
        (1, "2026-03-11", "00:01", T0 + timedelta(minutes=1), False)
    ]
