"""Who an automation takes in, and what takes them out: the pure rules of a flow that starts
on its own (an event, a schedule). Re-entry, the control group and the exits are the flow
file's (`reentry`, `holdout_percent`, `exit_on`); the runner carries the answers out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from threadline.consent.keywords import KeywordKind
from threadline.flows import format as f
from threadline.policy.holdout import campaign_bucket, in_slice

# The triggers by which a flow starts on its own, where the entry rules apply. A person's
# words start flows at once; a start through the API is the business's explicit choice.
AUTOMATIC_TRIGGERS = frozenset({"event", "schedule"})


class Entry(StrEnum):
    START = "start"
    RESTART = "restart"  # the running session ends, a new one starts
    ALREADY_IN = "already_in"  # the contact's session of this flow runs: the trigger is ignored
    TOO_SOON = "too_soon"  # started less than `reentry.after` ago
    HELD_OUT = "held_out"  # in the control group: recorded, nothing sent
    BUSY = "busy"  # in another conversation, and the flow would speak at once


@dataclass(frozen=True, slots=True)
class Facts:
    """What the entry decision needs about one contact and one flow."""

    contact_id: str
    running: bool  # a session of this flow is alive for the contact
    last_started_at: datetime | None  # the latest session of this flow (held-out included)
    busy: bool  # another session holds the person's conversation
    starts_asleep: bool  # starting, the flow would say nothing and sleep in a wait


def holdout_key(flow_key: str) -> str:
    """The control group is the flow's, stable across its versions and its re-entries."""
    return f"flow:{flow_key}"


def decide(file: f.FlowFile, facts: Facts, now: datetime) -> Entry:
    if facts.running and file.reentry.while_active == "ignore":
        return Entry.ALREADY_IN
    after = file.reentry.after
    last = facts.last_started_at
    if not facts.running and after and last is not None and now - last < after:
        return Entry.TOO_SOON
    bucket = campaign_bucket(facts.contact_id, holdout_key(file.flow))
    if in_slice(bucket, file.holdout_percent):
        return Entry.HELD_OUT
    if facts.busy and not facts.starts_asleep:
        return Entry.BUSY
    return Entry.RESTART if facts.running else Entry.START


def exit_for_event(file: f.FlowFile, kind: str, name: str | None) -> f.ExitRule | None:
    for rule in file.exit_on:
        event = rule.event
        if event is not None and event.kind == kind and event.name in (None, name):
            return rule
    return None


def exit_for_words(
    file: f.FlowFile, keyword: KeywordKind, *, sleeping: bool
) -> tuple[str, str] | None:
    """(outcome, reason) when what the person wrote ends the run. An opt-out ends a
    marketing automation without being told to (STOPALL ends any); a reply ends only a
    sleeping run, since a run that asked something is waiting for exactly that reply."""
    opted_out = keyword in (KeywordKind.OPT_OUT, KeywordKind.OPT_OUT_ALL)
    if opted_out:
        for rule in file.exit_on:
            if rule.opt_out:
                return rule.outcome, "opted_out"
        if keyword is KeywordKind.OPT_OUT_ALL or file.purpose == "marketing":
            return "abandoned", "opted_out"
    if sleeping:
        for rule in file.exit_on:
            if rule.reply:
                return rule.outcome, "replied"
    return None
