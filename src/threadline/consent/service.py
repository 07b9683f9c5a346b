"""Writing the consent ledger and reading its projection."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels.kinds import Channel
from threadline.consent.keywords import KeywordKind, KeywordMatch, classify
from threadline.consent.models import ConsentEvent, ConsentTopic
from threadline.consent.projection import (
    ALL_MARKETING,
    ANY,
    DOUBLE_OPT_IN_EXPIRY_DAYS,
    TRANSACTIONAL,
    Action,
    LedgerLine,
    status,
)
from threadline.kit.crypto import sha256_hex
from threadline.kit.errors import Conflict, InvalidInput
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope
from threadline.policy.types import ConsentStatus
from threadline.workspaces.settings import WorkspaceSettings

SOURCES = frozenset(
    {"widget", "checkout_checkbox", "qr", "keyword", "ad", "import", "api", "agent", "platform"}
)
CHANNEL_SCOPES = frozenset({c.value for c in Channel} | {ANY})
WIDE_TOPICS = frozenset({ANY, ALL_MARKETING})


@dataclass(frozen=True)
class ConsentChange:
    action: Action
    channel: str
    topic: str
    source: str
    actor: str
    occurred_at: datetime
    address: str | None = None
    disclosure_text: str | None = None
    disclosure_version: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


async def topic_keys(session: AsyncSession, workspace_id: str) -> set[str]:
    rows = await session.scalars(
        Scope(session, workspace_id).columns(ConsentTopic, ConsentTopic.key)
    )
    return set(rows)


async def ledger(session: AsyncSession, workspace_id: str, contact_id: str) -> list[ConsentEvent]:
    rows = await session.scalars(
        Scope(session, workspace_id)
        .select(ConsentEvent)
        .where(ConsentEvent.contact_id == contact_id)
        .order_by(ConsentEvent.recorded_at, ConsentEvent.id)
    )
    return list(rows)


async def history(session: AsyncSession, workspace_id: str, contact_id: str) -> list[ConsentEvent]:
    """The ledger in the order its lines take effect (see projection.in_effect_order)."""
    events = await ledger(session, workspace_id, contact_id)
    return sorted(events, key=lambda e: e.occurred_at.replace(microsecond=0))


async def ledger_lengths(
    session: AsyncSession, workspace_id: str, contact_ids: Collection[str]
) -> dict[str, int]:
    """How many ledger lines each contact has (the ledger only grows). Read before a send is
    decided and again just before it leaves, a longer ledger means consent changed in
    between (a STOP during a broadcast) and the send must be decided again."""
    if not contact_ids:
        return {}
    rows = await session.execute(
        Scope(session, workspace_id)
        .columns(ConsentEvent, ConsentEvent.contact_id, func.count())
        .where(ConsentEvent.contact_id.in_(set(contact_ids)))
        .group_by(ConsentEvent.contact_id)
    )
    return {contact_id: count for contact_id, count in rows.all()}


def lines_of(events: list[ConsentEvent]) -> list[LedgerLine]:
    return [
        LedgerLine(
            action=Action(e.action),
            channel=e.channel,
            topic=e.topic,
            occurred_at=e.occurred_at,
            expires_at=e.expires_at,
        )
        for e in events
    ]


async def _validate(
    session: AsyncSession, workspace_id: str, contact_id: str, change: ConsentChange, now: datetime
) -> None:
    if change.channel not in CHANNEL_SCOPES:
        raise InvalidInput(
            f"unknown channel '{change.channel}'; use one of {', '.join(sorted(CHANNEL_SCOPES))}",
            where="channel",
        )
    if change.source not in SOURCES:
        raise InvalidInput(
            f"unknown source '{change.source}'; use one of {', '.join(sorted(SOURCES))}",
            where="source",
        )
    wide = change.channel == ANY or change.topic in WIDE_TOPICS
    if wide and change.action not in (Action.REVOKE, Action.RESTORE):
        raise InvalidInput(
            "only revoke and restore may cover every channel or topic; grant one at a time",
            where="topic" if change.topic in WIDE_TOPICS else "channel",
        )
    if change.topic not in WIDE_TOPICS and change.topic != TRANSACTIONAL:
        known = await topic_keys(session, workspace_id)
        if change.topic not in known:
            raise InvalidInput(
                f"unknown topic '{change.topic}'; define it first (known: "
                f"{', '.join(sorted(known | {TRANSACTIONAL}))})",
                where="topic",
            )
    if change.action in (Action.GRANT, Action.REQUEST) and not (
        change.disclosure_text and change.disclosure_version
    ):
        raise InvalidInput(
            "an opt-in must record the disclosure text and its version shown to the person",
            where="disclosure",
        )
    if change.occurred_at > now + timedelta(minutes=5):
        raise InvalidInput("occurred_at is in the future", where="occurred_at")
    if change.action is Action.CONFIRM:
        lines = lines_of(await ledger(session, workspace_id, contact_id))
        if status(lines, change.channel, change.topic, now) is not ConsentStatus.PENDING:
            raise Conflict(
                f"no pending opt-in to confirm for '{change.topic}' on {change.channel} "
                f"(requests expire after {DOUBLE_OPT_IN_EXPIRY_DAYS} days)",
                where="action",
            )


def event_row(
    workspace_id: str, contact_id: str, change: ConsentChange, now: datetime
) -> dict[str, Any]:
    """A validated change as ledger-line column values (bulk import writes many at once)."""
    expires_at = (
        change.occurred_at + timedelta(days=DOUBLE_OPT_IN_EXPIRY_DAYS)
        if change.action is Action.REQUEST
        else None
    )
    return {
        "id": new_id("cev"),
        "workspace_id": workspace_id,
        "contact_id": contact_id,
        "action": change.action.value,
        "channel": change.channel,
        "topic": change.topic,
        "source": change.source,
        "address": change.address,
        "disclosure_text": change.disclosure_text,
        "disclosure_version": change.disclosure_version,
        "disclosure_sha256": sha256_hex(change.disclosure_text) if change.disclosure_text else None,
        "evidence": change.evidence,
        "actor": change.actor,
        "occurred_at": change.occurred_at,
        "expires_at": expires_at,
        "recorded_at": now,
    }


async def record(
    session: AsyncSession, workspace_id: str, contact_id: str, change: ConsentChange, now: datetime
) -> ConsentEvent:
    """Append one ledger line after checking it makes sense. Never updates a line."""
    await _validate(session, workspace_id, contact_id, change, now)
    # A time slightly ahead of ours is clock skew (see _validate). The projection ignores lines
    # from the future, so recording it as given would delay e.g. a STOP until our clock caught
    # up: record it as happening now, keeping the reported time as evidence.
    if change.occurred_at > now:
        change = dataclasses.replace(
            change,
            occurred_at=now,
            evidence={**change.evidence, "reported_occurred_at": change.occurred_at.isoformat()},
        )
    event = ConsentEvent(**event_row(workspace_id, contact_id, change, now))
    session.add(event)
    await session.flush()
    return event


async def current_state(
    session: AsyncSession, workspace_id: str, contact_id: str, now: datetime
) -> list[dict[str, str]]:
    """State of every (channel, topic) the ledger mentions, plus transactional per channel."""
    lines = lines_of(await ledger(session, workspace_id, contact_id))
    topics = await topic_keys(session, workspace_id) | {TRANSACTIONAL}
    channels = {line.channel for line in lines if line.channel != ANY}
    if any(line.channel == ANY for line in lines):
        channels |= {c.value for c in Channel}
    out = []
    for channel in sorted(channels):
        for topic in sorted(topics):
            state = status(lines, channel, topic, now)
            if state is not ConsentStatus.NONE:
                out.append({"channel": channel, "topic": topic, "status": state.value})
    return out


@dataclass(frozen=True)
class KeywordOutcome:
    match: KeywordMatch
    reply: str | None
    events: list[ConsentEvent]


async def apply_inbound_text(
    session: AsyncSession,
    workspace_id: str,
    contact_id: str,
    *,
    channel: str,
    text: str,
    message_id: str | None,
    address: str | None,
    occurred_at: datetime,
    now: datetime,
    settings: WorkspaceSettings,
    workspace_name: str,
) -> KeywordOutcome:
    """Run a contact's message through the keyword engine and write what it means."""
    match = classify(text)
    evidence: dict[str, Any] = {"message_id": message_id, "text": text[:500]}
    base = {
        "source": "keyword",
        "actor": "contact",
        "occurred_at": occurred_at,
        "address": address,
        "evidence": evidence,
    }
    events: list[ConsentEvent] = []
    reply: str | None = None
    if match.kind in (KeywordKind.OPT_OUT, KeywordKind.OPT_OUT_ALL):
        scope = ANY if match.kind is KeywordKind.OPT_OUT_ALL else channel
        change = ConsentChange(action=Action.REVOKE, channel=scope, topic=ANY, **base)  # type: ignore[arg-type]
        events.append(await record(session, workspace_id, contact_id, change, now))
        reply = settings.opt_out_message(workspace_name)
    elif match.kind is KeywordKind.OPT_IN:
        events.extend(
            await _opt_in_by_keyword(session, workspace_id, contact_id, channel, base, now)
        )
        reply = settings.opt_in_message(workspace_name) if events else None
    elif match.kind is KeywordKind.HELP:
        reply = settings.help_message(workspace_name)
    return KeywordOutcome(match=match, reply=reply, events=events)


async def _opt_in_by_keyword(
    session: AsyncSession,
    workspace_id: str,
    contact_id: str,
    channel: str,
    base: dict[str, Any],
    now: datetime,
) -> list[ConsentEvent]:
    """START confirms pending double opt-ins, or restores what the last STOP took away.
    It never creates consent the person did not give before."""
    lines = lines_of(await ledger(session, workspace_id, contact_id))
    topics = await topic_keys(session, workspace_id) | {TRANSACTIONAL}
    written: list[ConsentEvent] = []
    for topic in sorted(topics):
        if status(lines, channel, topic, now) is ConsentStatus.PENDING:
            change = ConsentChange(action=Action.CONFIRM, channel=channel, topic=topic, **base)
            written.append(await record(session, workspace_id, contact_id, change, now))
    if any(status(lines, channel, t, now) is ConsentStatus.REVOKED for t in topics):
        change = ConsentChange(action=Action.RESTORE, channel=channel, topic=ANY, **base)
        written.append(await record(session, workspace_id, contact_id, change, now))
    return written
