"""Regional rules as data: quiet hours and legal pressure caps, merged strictest-first."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import time, timedelta
from functools import cache
from importlib import resources
from typing import Any

from threadline.policy.types import FrequencyCap, QuietHours


@dataclass(frozen=True, slots=True)
class RegionalRules:
    quiet_hours: QuietHours
    caps: tuple[FrequencyCap, ...]


@cache
def _data() -> dict[str, Any]:
    text = resources.files("threadline.policy.data").joinpath("regional_rules.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def _parse_hours(raw: dict[str, Any]) -> QuietHours:
    return QuietHours(
        start=time.fromisoformat(raw["start"]),
        end=time.fromisoformat(raw["end"]),
        no_sundays=bool(raw.get("no_sundays", False)),
    )


def default_quiet_hours() -> QuietHours:
    return _parse_hours(_data()["default"]["quiet_hours"])


def strictest(a: QuietHours, b: QuietHours) -> QuietHours:
    return QuietHours(
        start=max(a.start, b.start), end=min(a.end, b.end), no_sundays=a.no_sundays or b.no_sundays
    )


def rules_for(
    region: str | None, subdivision: str | None, base: QuietHours | None = None
) -> RegionalRules:
    """Rules for someone in `region` (ISO country) / `subdivision` (e.g. US-FL)."""
    # A workspace may tighten the default hours, never loosen them.
    hours = strictest(default_quiet_hours(), base) if base else default_quiet_hours()
    caps: list[FrequencyCap] = []
    regions = _data()["regions"]
    for key in (region, subdivision):
        entry = regions.get(key) if key else None
        if entry is None:
            continue
        hours = strictest(hours, _parse_hours(entry["quiet_hours"]))
        cap = entry.get("marketing_cap")
        if cap:
            caps.append(
                FrequencyCap(
                    max_messages=int(cap["max"]),
                    window=timedelta(hours=int(cap["hours"])),
                    channel=None,
                    label=f"{key} legal limit",
                )
            )
    return RegionalRules(quiet_hours=hours, caps=tuple(caps))
