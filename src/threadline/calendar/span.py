"""The calendar's range: which days, in which zone, and where each day begins in UTC.

Days are the zone's calendar days, so a day across a DST change is 23 or 25 hours long:
"Sunday 8 March" in New York is what a marketer there means by it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from threadline.kit.clock import known_zone
from threadline.kit.errors import InvalidInput

# About a quarter: long enough to plan a season, short enough that one request stays cheap
# (each day is one branch of the grouping expression in the volume queries).
MAX_DAYS = 92


@dataclass(frozen=True, slots=True)
class Span:
    first: date
    last: date  # included
    zone: str
    today: date  # in the zone, when the calendar is asked

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def start_of(self, day: date) -> datetime:
        """The UTC moment `day` begins in the zone."""
        return datetime.combine(day, time(0), self.tz).astimezone(UTC)

    def boundaries(self, days: list[date]) -> list[datetime]:
        """Where each of `days` (consecutive) begins, and where the last one ends."""
        return [self.start_of(d) for d in days] + [self.start_of(days[-1] + timedelta(days=1))]

    def day_of(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()


def span_for(first: date | None, last: date | None, zone: str, now: datetime) -> Span:
    """The range asked for, or this month in the zone; a 422 naming the parameter when the
    zone is unknown, the range runs backwards or is longer than MAX_DAYS."""
    try:
        known_zone(zone)
    except ValueError as exc:
        raise InvalidInput(str(exc), where="zone") from None
    today = now.astimezone(ZoneInfo(zone)).date()
    start = first or (last.replace(day=1) if last else today.replace(day=1))
    end = last or _month_end(start)
    if end < start:
        raise InvalidInput(f"to ({end}) is before from ({start})", where="to")
    length = (end - start).days + 1
    if length > MAX_DAYS:
        raise InvalidInput(
            f"the range is {length} days; the calendar shows at most {MAX_DAYS} at a time",
            where="to",
        )
    return Span(start, end, zone, today)


def _month_end(day: date) -> date:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)
