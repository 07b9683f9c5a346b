"""When a broadcast's occurrences happen, and when each recipient's message is due.

Wall-clock times are kept as wall-clock times: a weekly 10:00 broadcast in New York goes at
10:00 on both sides of a DST change (15:00 UTC, then 14:00 after the March change), and a
local-time broadcast reaches each person at 10:00 where they are. The fan-out of a
local-time occurrence starts when the first zone on Earth (UTC+14) reaches that time; each
message waits for its own."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from threadline.broadcasts.spec import Recurrence, Schedule, ScheduleKind
from threadline.kit.errors import InvalidInput

# The zone whose clock is furthest ahead: a local-time occurrence cannot begin anywhere
# before the moment it begins there.
EARLIEST_ZONE = ZoneInfo("Etc/GMT-14")
_STEP = {Recurrence.DAILY: timedelta(days=1), Recurrence.WEEKLY: timedelta(days=7)}


def _day(schedule: Schedule, occurrence: int) -> date:
    first = schedule.date if schedule.kind is ScheduleKind.LOCAL_TIME else _at_wall(schedule).date()
    assert first is not None
    return first + _STEP.get(schedule.recurrence, timedelta(0)) * (occurrence - 1)


def _at_wall(schedule: Schedule) -> datetime:
    assert schedule.at is not None
    return schedule.at.astimezone(ZoneInfo(schedule.zone)) if schedule.zone else schedule.at


def run_at(schedule: Schedule, occurrence: int, now: datetime) -> datetime:
    """When occurrence `occurrence` (from 1) may start its fan-out."""
    if schedule.kind is ScheduleKind.NOW:
        return now
    if schedule.kind is ScheduleKind.AT:
        assert schedule.at is not None
        if occurrence == 1:  # the moment given, exactly (an autumn 01:30 happens twice)
            return schedule.at.astimezone(UTC)
        wall = _at_wall(schedule)
        moment = datetime.combine(_day(schedule, occurrence), wall.timetz().replace(fold=0))
        return moment.astimezone(UTC)
    assert schedule.local_time is not None
    moment = datetime.combine(_day(schedule, occurrence), schedule.local_time, EARLIEST_ZONE)
    return moment.astimezone(UTC)


def due_for(schedule: Schedule, occurrence: int, zone: str, started: datetime) -> datetime:
    """When one recipient's message of this occurrence is due: at the local time in their
    zone, or at once when that moment has passed (the fan-out ran late)."""
    if schedule.kind is not ScheduleKind.LOCAL_TIME:
        return started
    assert schedule.local_time is not None
    local = datetime.combine(_day(schedule, occurrence), schedule.local_time, ZoneInfo(zone))
    return max(local.astimezone(UTC), started)


def next_occurrence(schedule: Schedule, occurrence: int, now: datetime) -> datetime | None:
    """When occurrence `occurrence + 1` starts, or None when there is none."""
    if schedule.recurrence is Recurrence.NONE:
        return None
    following = occurrence + 1
    if schedule.until is not None and _day(schedule, following) > schedule.until:
        return None
    return run_at(schedule, following, now)


def check_not_past(schedule: Schedule, now: datetime) -> datetime:
    """The first occurrence's start; an error if it has passed (a broadcast scheduled for
    yesterday would go out at once, which is not what anyone asked for)."""
    first = run_at(schedule, 1, now)
    if schedule.kind is ScheduleKind.AT and first < now - timedelta(minutes=1):
        raise InvalidInput(f"schedule.at {first.isoformat()} has passed", where="schedule.at")
    if schedule.kind is ScheduleKind.LOCAL_TIME and first < now:
        raise InvalidInput(
            f"{schedule.local_time} on {schedule.date} has already passed in the earliest time "
            "zone (UTC+14): schedule a later date so everyone gets it at their local time",
            where="schedule.date",
        )
    return first
