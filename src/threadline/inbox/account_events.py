"""Events about a sending account itself (not a person): quality and messaging-limit
changes, platform errors, policy enforcement. They land in the channel's typed config."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

from threadline.channels import events as ev
from threadline.channels.models import ChannelAccount
from threadline.channels.service import update_config

log = logging.getLogger("threadline.inbox")
TIERS = {
    "TIER_50": 50,
    "TIER_250": 250,
    "TIER_1K": 1000,
    "TIER_2K": 2000,
    "TIER_10K": 10_000,
    "TIER_100K": 100_000,
}


def _tier(label: str | None, current: int | None) -> int | None:
    if label == "TIER_UNLIMITED":
        return None
    if label in TIERS:
        return TIERS[label]
    if label and label.startswith("TIER_") and label[5:].isdigit():
        return int(label[5:])
    return current


def number_quality(channel: ChannelAccount, event: ev.NumberQualityChange, now: datetime) -> None:
    config = channel.config or {}
    quality = {"FLAGGED": "red", "UNFLAGGED": "green"}.get(event.event, config.get("quality"))
    limit = _tier(event.current_limit, config.get("messaging_limit"))
    update_config(channel, now, quality=quality, messaging_limit=limit)


def platform_errors(channel: ChannelAccount, event: ev.PlatformErrors, now: datetime) -> None:
    log.warning("platform reported errors for %s: %s", channel.address, event.errors)
    update_config(
        channel,
        now,
        last_platform_errors=[dataclasses.asdict(e) for e in event.errors],
        last_platform_errors_at=now.isoformat(),
    )


def policy_enforcement(channel: ChannelAccount, event: ev.PolicyEnforcement, now: datetime) -> None:
    log.warning("policy enforcement on %s: %s (%s)", channel.address, event.action, event.reason)
    # "unblock" lifts it; a warning or block stays visible on the channel until then.
    state = None if event.action == "unblock" else f"{event.action}: {event.reason or ''}".strip()
    update_config(channel, now, policy_enforcement=state)
