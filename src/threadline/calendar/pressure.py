"""Frequency pressure: how many marketing messages a segment's members would get within a
frequency cap's window, from the broadcasts on the calendar, against that cap. Pure.

The cap is the policy's own (`policy.decide.check_frequency`): a send is refused when the
window before it already holds `max_messages` marketing messages, so a window that would
hold more means the messages past the cap are suppressed for those members — the marketer
learns it here, weeks ahead, instead of from the suppression counts afterwards."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from threadline.policy.types import FrequencyCap


@dataclass(frozen=True, slots=True)
class Send:
    """One marketing occurrence as a member of the segment would get it."""

    moment: datetime
    broadcast_id: str
    name: str
    channels: frozenset[str]  # the channel types it may travel by


@dataclass(frozen=True, slots=True)
class Peak:
    """The busiest window: how many sends fall within one window of the cap's length."""

    count: int = 0
    start: datetime | None = None
    sends: tuple[Send, ...] = ()


def peak(sends: Iterable[Send], cap: FrequencyCap, since: datetime | None = None) -> Peak:
    """The most sends within any window of the cap (sends exactly one window apart do not
    share one, as in the policy) whose last send is at `since` or later: earlier sends only
    fill the window a send in the range meets. A channel's cap counts the sends that may
    travel on it."""
    counted = sorted(
        (s for s in sends if cap.channel is None or cap.channel.value in s.channels),
        key=lambda s: s.moment,
    )
    best, low = Peak(), 0
    for high, send in enumerate(counted):
        while send.moment - counted[low].moment >= cap.window:
            low += 1
        if (since is None or send.moment >= since) and high - low + 1 > best.count:
            best = Peak(high - low + 1, counted[low].moment, tuple(counted[low : high + 1]))
    return best


@dataclass(frozen=True, slots=True)
class CapPressure:
    segment: str
    cap: FrequencyCap
    every_member: Peak  # from broadcasts that reach every member of the segment
    some_members: Peak  # adding those that reach only some of them
    automation: float  # automation marketing messages a member gets per window, on average

    @property
    def over(self) -> bool:
        return self.every_member.count > self.cap.max_messages

    @property
    def at_risk(self) -> bool:
        """Not over for everyone, but over for members in other audiences too, or once the
        automations' usual marketing is added."""
        worst = self.some_members.count + self.automation
        return not self.over and worst > self.cap.max_messages

    def message(self) -> str | None:
        if self.over:
            return self._sentence("members of", self.every_member)
        if self.at_risk:
            extra = f" and about {self.automation:g} from automations" if self.automation else ""
            return self._sentence("some members of", self.some_members, extra)
        return None

    def _sentence(self, who: str, found: Peak, extra: str = "") -> str:
        limit = self.cap.max_messages
        on = f" on {self.cap.channel.value}" if self.cap.channel else ""
        start = f" from {found.start:%Y-%m-%d %H:%M} UTC" if found.start else ""
        fate = (
            f"the {ordinal(limit + 1)} will be suppressed for them"
            if found.count > limit
            else "the messages past the cap will be suppressed for them"
        )
        return (
            f"{who} '{self.segment}' would get {found.count} marketing messages{on} in "
            f"{window_words(self.cap.window)}{start}{extra}; the cap is {limit}: {fate}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "cap": {
                "max_messages": self.cap.max_messages,
                "hours": int(self.cap.window.total_seconds() // 3600),
                "channel": self.cap.channel.value if self.cap.channel else None,
            },
            "peak": self.every_member.count,
            "peak_window_start": self.every_member.start,
            "peak_broadcasts": _names(self.every_member.sends),
            "peak_with_overlaps": self.some_members.count,
            "automation_per_member": self.automation,
            "over_cap": self.over,
            "at_risk": self.at_risk,
            "message": self.message(),
        }


def pressure(
    segment: str,
    caps: Sequence[FrequencyCap],
    every: Sequence[Send],
    some: Sequence[Send],
    automation_per_day: float,
    since: datetime | None = None,
) -> list[CapPressure]:
    """The segment against each cap. `every`: sends that reach all its members; `some`:
    sends that reach part of them; `automation_per_day`: marketing automation messages per
    member and day, from the recent past."""
    return [
        CapPressure(
            segment,
            cap,
            peak(every, cap, since),
            peak([*every, *some], cap, since),
            round(automation_per_day * (cap.window / timedelta(days=1)), 2),
        )
        for cap in caps
    ]


def _names(sends: Sequence[Send]) -> list[dict[str, Any]]:
    return [{"id": s.broadcast_id, "name": s.name, "at": s.moment} for s in sends]


def window_words(window: timedelta) -> str:
    hours = int(window.total_seconds() // 3600)
    if hours % 24 == 0 and hours > 24:
        return f"{hours // 24} days"
    return f"{hours} hours"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
