"""A broadcast's schedule as the moments it sends on, within a range of days.

The schedule's own arithmetic (`broadcasts.schedule`) says when occurrence n starts; this
module only walks n across the range and says on which calendar day, at what time, each
one reaches people. A local-time occurrence reaches everyone on its date at its wall-clock
time, wherever they are, so it is shown on that date at that time; for counting it against
a frequency cap it is placed at that time in the calendar's zone."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

from threadline.broadcasts import schedule
from threadline.broadcasts.models import Broadcast
from threadline.broadcasts.spec import BroadcastSpec, Recurrence, Schedule, ScheduleKind
from threadline.broadcasts.states import BroadcastState
from threadline.calendar.span import Span

# States whose coming occurrences will still go out.
UPCOMING = frozenset({BroadcastState.SCHEDULED, BroadcastState.SENDING, BroadcastState.PAUSED})
_STEP_DAYS = {Recurrence.DAILY: 1, Recurrence.WEEKLY: 7}


@dataclass(frozen=True, slots=True)
class Occurrence:
    broadcast: Broadcast
    spec: BroadcastSpec
    number: int  # from 1, as the broadcast counts them
    day: date  # the calendar day it reaches people on
    moment: datetime  # when, in UTC (local time: that time in the calendar's zone)
    time: str  # HH:MM on the calendar's clock, or on each recipient's for local time
    local_time: bool  # at `time` in each recipient's own zone
    started: bool  # its fan-out has begun: its messages exist


def occurrences(
    broadcast: Broadcast, spec: BroadcastSpec, span: Span, first: date, now: datetime
) -> list[Occurrence]:
    """The broadcast's occurrences on the days from `first` to the span's last: those
    already started (their messages are counted) and, while it is live, those to come."""
    found = []
    for number in _numbers(broadcast, spec.schedule, first, now):
        started = number < broadcast.occurrence or (
            number == broadcast.occurrence and broadcast.started_at is not None
        )
        if not started and BroadcastState(broadcast.status) not in UPCOMING:
            break  # a cancelled or finished broadcast sends nothing more
        found_one = _occurrence(broadcast, spec, number, span, now, started)
        if found_one.day > span.last:
            break
        if found_one.day >= first:
            found.append(found_one)
    return found


def _numbers(broadcast: Broadcast, plan: Schedule, first: date, now: datetime) -> Iterator[int]:
    """Occurrence numbers from about `first` on, ending where the schedule ends (`until`,
    or after the one occurrence of a broadcast that does not repeat)."""
    number = _first_number(plan, first, now)
    while True:
        yield number
        if schedule.next_occurrence(plan, number, now) is None:
            return
        number += 1


def _first_number(plan: Schedule, first: date, now: datetime) -> int:
    """Skip straight to the occurrences near `first`: a daily broadcast running for a year
    should not be walked from its first day. One day of slack covers zones."""
    step = _STEP_DAYS.get(plan.recurrence)
    if step is None:
        return 1
    behind = (first - _schedule_day(plan, 1, now)).days - 1
    return max(1, behind // step + 1)


def _schedule_day(plan: Schedule, number: int, now: datetime) -> date:
    """The date occurrence `number` is on in the schedule's own terms."""
    start = schedule.run_at(plan, number, now)
    if plan.kind is ScheduleKind.LOCAL_TIME:
        return start.astimezone(schedule.EARLIEST_ZONE).date()
    return start.date()


def _occurrence(
    broadcast: Broadcast, spec: BroadcastSpec, number: int, span: Span, now: datetime,
    started: bool,
) -> Occurrence:  # fmt: skip
    plan = spec.schedule
    if plan.kind is ScheduleKind.LOCAL_TIME:
        assert plan.local_time is not None
        day = _schedule_day(plan, number, now)
        moment = datetime.combine(day, plan.local_time, span.tz).astimezone(UTC)
        wall = plan.local_time.strftime("%H:%M")
        return Occurrence(broadcast, spec, number, day, moment, wall, True, started)
    if plan.kind is ScheduleKind.NOW:
        # It has no moment of its own: when it was sent, or when it will be picked up.
        moment = broadcast.started_at or broadcast.next_run_at or now
    else:
        moment = schedule.run_at(plan, number, now)
    wall = moment.astimezone(span.tz).strftime("%H:%M")
    return Occurrence(broadcast, spec, number, span.day_of(moment), moment, wall, False, started)
