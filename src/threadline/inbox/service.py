"""Storing received platform events exactly once, and claiming them in per-contact order."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from threadline.channels import codec
from threadline.channels import events as ev
from threadline.inbox.models import InboxEvent
from threadline.kit.ids import new_id

CLAIM_FOR = timedelta(seconds=60)
MAX_ATTEMPTS = 5


def _content_hash(stored: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(stored, sort_keys=True).encode()).hexdigest()[:32]


class ChannelRef(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def workspace_id(self) -> str: ...
    @property
    def account_id(self) -> str: ...


# The inbox kinds the worker takes a channel at a time: per-message statuses and messages.
STATUS_KIND = "status"
MESSAGE_KIND = "message"


def keys_for(channel: ChannelRef, event: ev.ChannelEvent) -> tuple[str, str, str]:
    """(dedupe key, ordering key, kind) of an event."""
    if isinstance(event, ev.InboundMessage):
        return event.dedupe_key, _person(event.sender), MESSAGE_KIND
    if isinstance(event, ev.Comment):
        return event.dedupe_key, _person(event.sender), "comment"
    if isinstance(event, ev.StatusUpdate):
        return event.dedupe_key, f"contact:{event.recipient or event.external_id}", STATUS_KIND
    if isinstance(event, ev.MarketingPreference):
        key = f"pref:{event.address}:{event.value}:{int(event.timestamp.timestamp())}"
        return key, f"contact:{event.address}", "preference"
    if isinstance(event, ev.Suppression):
        # After the person's own messages: a reply just before a bounce is still theirs.
        return event.dedupe_key, f"contact:{event.address}", "suppression"
    stored = codec.dump(event)
    kind = type(event).__name__
    return f"{kind}:{_content_hash(stored)}", f"account:{channel.account_id}", kind


def _person(sender: ev.Sender) -> str:
    """What orders one person's messages: the platform's user id when it gives one (it stays
    when they change number or hide it), else the address. A person whose messages come
    under two identities (the day they start hiding their number) is ordered per identity."""
    return f"contact:{sender.user_id or sender.address}"


def _insert(session: AsyncSession):  # type: ignore[no-untyped-def]
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(InboxEvent)


def rows_for(
    channel: ChannelRef, events: Sequence[ev.ChannelEvent], now: datetime
) -> list[dict[str, Any]]:
    """The inbox rows of a delivery's events. Malformed and unhandled events are kept for
    the record but marked processed."""
    rows = []
    for event in events:
        dedupe, ordering, kind = keys_for(channel, event)
        done = isinstance(event, ev.Malformed | ev.Unhandled)
        rows.append(
            {
                "id": new_id("inb"),
                "workspace_id": channel.workspace_id,
                "channel_id": channel.id,
                "dedupe_key": dedupe[:300],
                "kind": kind,
                "ordering_key": ordering[:200],
                "payload": codec.dump(event),
                "received_at": now,
                "processed_at": now if done else None,
                "claimed_until": None,
                "attempts": 0,
                "error": None,
            }
        )
    return rows


async def insert_new(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert the rows whose (channel, dedupe key) is new, in one statement; the ids stored."""
    if not rows:
        return set()
    # executemany form: SQLAlchemy caches one compiled statement for every batch size.
    statement = (
        _insert(session)
        .on_conflict_do_nothing(index_elements=["channel_id", "dedupe_key"])
        .returning(InboxEvent.id)
    )
    return {row[0] for row in (await session.execute(statement, list(rows))).all()}


async def store(
    session: AsyncSession, channel: ChannelRef, events: Sequence[ev.ChannelEvent], now: datetime
) -> tuple[int, int]:
    """Store the events that are new; returns (stored, duplicates)."""
    stored = len(await insert_new(session, rows_for(channel, events, now)))
    return stored, len(events) - stored


async def claim(session: AsyncSession, now: datetime, limit: int = 100) -> list[InboxEvent]:
    """The oldest pending event of each ordering key, so one contact's events are handled
    one at a time and in order; several workers never claim the same key. One statement:
    the rows are picked (locked, skipping those another worker holds, on PostgreSQL),
    marked claimed and returned together."""
    head, earlier = aliased(InboxEvent), aliased(InboxEvent)
    blocked_by_earlier = exists().where(
        earlier.ordering_key == head.ordering_key,
        earlier.processed_at.is_(None),
        or_(
            earlier.received_at < head.received_at,
            and_(earlier.received_at == head.received_at, earlier.id < head.id),
        ),
    )
    picked = (
        select(head.id)
        .where(
            head.processed_at.is_(None),
            or_(head.claimed_until.is_(None), head.claimed_until < now),
            ~blocked_by_earlier,
        )
        .order_by(head.received_at, head.id)
        .limit(limit)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        picked = picked.with_for_update(skip_locked=True)
    claimed = await session.scalars(
        update(InboxEvent)
        .where(InboxEvent.id.in_(picked.scalar_subquery()))
        .values(claimed_until=now + CLAIM_FOR)
        .returning(InboxEvent)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return sorted(claimed, key=lambda row: (row.received_at, row.id))


async def finish_many(session: AsyncSession, event_ids: Sequence[str], now: datetime) -> None:
    if event_ids:
        await session.execute(
            update(InboxEvent)
            .where(InboxEvent.id.in_(list(event_ids)))
            .values(processed_at=now, claimed_until=None, error=None)
            .execution_options(synchronize_session=False)
        )


async def fail(session: AsyncSession, event: InboxEvent, error: str, now: datetime) -> None:
    """Retry later with backoff; after MAX_ATTEMPTS give up so the contact's later events
    are not blocked for ever (the error stays on the row for inspection)."""
    attempts = event.attempts + 1
    values: dict[str, object] = {"attempts": attempts, "error": error[:2000]}
    if attempts >= MAX_ATTEMPTS:
        values |= {"processed_at": now, "claimed_until": None}
    else:
        values["claimed_until"] = now + timedelta(seconds=2**attempts)
    await session.execute(update(InboxEvent).where(InboxEvent.id == event.id).values(**values))
