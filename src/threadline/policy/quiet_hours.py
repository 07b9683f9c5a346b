"""Local sending hours: is `now` inside them in every zone, and if not, when next?"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from threadline.policy.types import QuietHours

_SUNDAY = 6
# Two zones whose allowed hours never overlap would loop for ever; a week of hops is plenty.
_MAX_HOPS = 16


def allowed_in_zone(hours: QuietHours, when: datetime, zone: str) -> bool:
    local = when.astimezone(ZoneInfo(zone))
    if hours.no_sundays and local.weekday() == _SUNDAY:
        return False
    return hours.start <= local.time() < hours.end


def _next_start_in_zone(hours: QuietHours, after: datetime, zone: str) -> datetime:
    tz = ZoneInfo(zone)
    local = after.astimezone(tz)
    day = local.date()
    if local.time() >= hours.start:
        day += timedelta(days=1)
    while hours.no_sundays and day.weekday() == _SUNDAY:
        day += timedelta(days=1)
    return datetime.combine(day, hours.start, tzinfo=tz).astimezone(after.tzinfo)


def next_allowed(hours: QuietHours, now: datetime, zones: tuple[str, ...]) -> datetime | None:
    """The first instant at or after `now` that is inside the hours in every zone;
    None when `now` already is. Falls back to the first zone alone if no overlap exists."""
    zones = zones or ("UTC",)
    if all(allowed_in_zone(hours, now, zone) for zone in zones):
        return None
    candidate = now
    for _ in range(_MAX_HOPS):
        blocking = [zone for zone in zones if not allowed_in_zone(hours, candidate, zone)]
        if not blocking:
            return candidate
        candidate = max(_next_start_in_zone(hours, candidate, zone) for zone in blocking)
    # No overlap: the first zone alone decides, also when `now` is the instant we deferred to
    # (else a deferred message would be deferred again every day, never sent).
    if allowed_in_zone(hours, now, zones[0]):
        return None
    return _next_start_in_zone(hours, now, zones[0])
