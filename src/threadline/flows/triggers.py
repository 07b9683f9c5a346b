"""Which flow an inbound message or a contact event starts.

Most specific first: an ad referral (exact source id, then headline), then a keyword, then
any first message. Within one kind the higher `priority` wins, then the flow key (stable)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from threadline.channels.choices import plain
from threadline.flows import format as f

KIND_RANK = {"referral": 0, "keyword": 1, "event": 2, "first_inbound": 3}


@dataclass(frozen=True, slots=True)
class Candidate:
    """An active flow version and its triggers, as the matcher needs them."""

    flow_id: str
    key: str
    priority: int
    triggers: tuple[f.Trigger, ...]


@dataclass(frozen=True, slots=True)
class Match:
    flow_id: str
    trigger: str
    params: dict[str, Any]
    rank: tuple[int, int, int, str]


def _keyword_hit(words: Sequence[str], text: str) -> str | None:
    said = f" {plain(text)} "
    for word in words:
        wanted = plain(word)
        if wanted and f" {wanted} " in said:
            return word
    return None


def _referral_hit(match: f.ReferralMatch, referral: dict[str, Any]) -> int | None:
    """0 for an exact source id, 1 for a headline match, None otherwise."""
    if match.source_id is not None:
        return 0 if str(referral.get("source_id", "")) == match.source_id else None
    headline = plain(str(referral.get("headline", "")))
    assert match.headline_contains is not None
    return 1 if plain(match.headline_contains) in headline and headline else None


def _best(found: list[Match]) -> Match | None:
    return min(found, key=lambda m: m.rank) if found else None


def for_inbound(
    candidates: Sequence[Candidate],
    text: str | None,
    referral: dict[str, Any] | None,
    first_inbound: bool,
) -> Match | None:
    found: list[Match] = []
    for c in candidates:
        for trigger in c.triggers:
            if trigger.referral is not None and referral:
                specificity = _referral_hit(trigger.referral, referral)
                if specificity is not None:
                    params = {
                        "referral": {
                            k: referral.get(k) for k in ("source_id", "source_type", "headline")
                        }
                    }
                    found.append(
                        Match(c.flow_id, "referral", params, (0, specificity, -c.priority, c.key))
                    )
            elif trigger.keyword is not None and text:
                word = _keyword_hit(trigger.keyword, text)
                if word is not None:
                    found.append(
                        Match(c.flow_id, "keyword", {"keyword": word}, (1, 0, -c.priority, c.key))
                    )
            elif trigger.first_inbound and first_inbound:
                found.append(Match(c.flow_id, "first_inbound", {}, (3, 0, -c.priority, c.key)))
    return _best(found)


def for_event(
    candidates: Sequence[Candidate], kind: str, name: str | None, properties: dict[str, Any]
) -> Match | None:
    found: list[Match] = []
    for c in candidates:
        for trigger in c.triggers:
            event = trigger.event
            if event is None or event.kind != kind:
                continue
            if event.name is not None and event.name != name:
                continue
            specificity = 0 if event.name is not None else 1
            params = {"event": {"kind": kind, "name": name, **properties}}
            found.append(Match(c.flow_id, "event", params, (2, specificity, -c.priority, c.key)))
    return _best(found)
