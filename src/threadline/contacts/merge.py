"""Merging two contacts into one without losing either's history: every row that points at
the merged contact moves to the kept one, found from the models' foreign keys."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from threadline.contacts.models import Contact, ContactTag
from threadline.contacts.service import get_contact
from threadline.conversations.models import Conversation
from threadline.flows.models import FlowSession
from threadline.flows.state import FlowStatus
from threadline.kit.errors import InvalidInput
from threadline.kit.scoped import Scope
from threadline.models import Base
from threadline.tickets.models import Ticket
from threadline.tickets.service import note

# The end reason of a flow session stopped because its contact was merged into another.
MERGED_REASON = "contact_merged"


@dataclass(frozen=True, slots=True)
class MergeResult:
    """What a merge did. `moved`: table -> rows that now point at the kept contact (every
    table that references contacts, zeros included). `combined`: table -> rows of the merged
    contact folded into an equivalent row the kept contact already had, then removed
    (a tag both had; a conversation on a channel both had)."""

    contact: Contact
    moved: dict[str, int]
    combined: dict[str, int]


@dataclass(frozen=True, slots=True)
class ContactReference:
    """One column that holds a contact id through a foreign key to contacts.id."""

    table: str
    model: type[Any]
    attribute: str  # the mapped attribute of that column
    workspace: str  # ...and of its table's workspace_id, which scopes every update


@cache
def contact_references() -> tuple[ContactReference, ...]:
    """Every column with a foreign key to contacts.id, read from the models' metadata, so a
    new table is moved by merge without anyone remembering to add it here. Refuses (loudly,
    on the first merge) a reference merge could not move safely: one without a mapped class,
    or in a table without workspace_id to scope the update by."""
    contacts_id = Contact.__table__.c.id
    mapped = {m.local_table: m for m in Base.registry.mappers}
    found: list[ContactReference] = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if not any(fk.column is contacts_id for fk in column.foreign_keys):
                continue
            mapper = mapped.get(table)
            if mapper is None or "workspace_id" not in table.c:
                raise RuntimeError(
                    f"{table.name}.{column.name} references contacts but has no mapped class "
                    "or no workspace_id: contact merge cannot move it safely"
                )
            attribute = mapper.get_property_by_column(column).key
            workspace = mapper.get_property_by_column(table.c.workspace_id).key
            found.append(ContactReference(table.name, mapper.class_, attribute, workspace))
    return tuple(found)


async def merge(
    session: AsyncSession, workspace_id: str, keep_id: str, merge_id: str, now: datetime
) -> MergeResult:
    """Fold `merge_id` into `keep_id` within the caller's transaction: every row that points
    at the merged contact (addresses, tags, events, consent, pressure, conversations,
    messages, flow sessions, tickets, ...) moves to the kept one before the merged contact
    is deleted, so its CASCADEs find nothing left to delete. The kept contact's own values
    win where both have one."""
    if keep_id == merge_id:
        raise InvalidInput("cannot merge a contact into itself", where="merge_id")
    keep = await get_contact(session, workspace_id, keep_id)
    gone = await get_contact(session, workspace_id, merge_id)
    _fold_values(keep, gone, now)
    # Rows the unique constraints allow only once per contact are settled first.
    combined = {
        "contact_tags": await _drop_shared_tags(session, workspace_id, keep.id, gone.id),
        "conversations": await _merge_conversations(session, workspace_id, keep.id, gone.id),
    }
    await _settle_active_session(session, workspace_id, keep.id, gone.id, now)
    await _settle_open_ticket(session, workspace_id, keep.id, gone.id, now)
    await session.flush()
    moved: dict[str, int] = defaultdict(int)
    for ref in contact_references():
        column, scope = getattr(ref.model, ref.attribute), getattr(ref.model, ref.workspace)
        result = await session.execute(
            update(ref.model)
            .where(scope == workspace_id, column == gone.id)
            .values({ref.attribute: keep.id})
        )
        moved[ref.table] += int(getattr(result, "rowcount", 0) or 0)
    await session.delete(gone)
    await session.flush()
    return MergeResult(contact=keep, moved=dict(moved), combined=combined)


def _fold_values(keep: Contact, gone: Contact, now: datetime) -> None:
    keep.name = keep.name or gone.name
    keep.language = keep.language or gone.language
    keep.timezone = keep.timezone or gone.timezone
    keep.fields = {**(gone.fields or {}), **(keep.fields or {})}
    keep.interests = sorted(set(keep.interests or []) | set(gone.interests or []))
    keep.updated_at = now


async def _drop_shared_tags(
    session: AsyncSession, workspace_id: str, keep_id: str, gone_id: str
) -> int:
    """A tag is unique per contact: the merged contact's copy of a tag both have goes; the
    rest move with the other rows."""
    scope = Scope(session, workspace_id)
    kept = scope.columns(ContactTag, ContactTag.tag).where(ContactTag.contact_id == keep_id)
    result = await session.execute(
        scope.delete(ContactTag).where(
            ContactTag.contact_id == gone_id, ContactTag.tag.in_(kept.scalar_subquery())
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def _merge_conversations(
    session: AsyncSession, workspace_id: str, keep_id: str, gone_id: str
) -> int:
    """One conversation per contact and channel: where both have one, the kept contact's
    takes the latest window facts of the two and the other goes. Returns how many went."""
    of_contact = Scope(session, workspace_id).select(Conversation)
    mine = {
        c.channel: c
        for c in await session.scalars(of_contact.where(Conversation.contact_id == keep_id))
    }
    theirs = await session.scalars(of_contact.where(Conversation.contact_id == gone_id))
    folded = 0
    for conversation in list(theirs):
        existing = mine.get(conversation.channel)
        if existing is None:
            continue  # moved with the other rows
        if _later(conversation.entry_point_at, existing.entry_point_at):
            existing.last_referral = conversation.last_referral
        existing.last_inbound_at = _latest(existing.last_inbound_at, conversation.last_inbound_at)
        existing.entry_point_at = _latest(existing.entry_point_at, conversation.entry_point_at)
        # The platform's word that a window closed still holds for the later of the two.
        existing.window_closed_at = _latest(
            existing.window_closed_at, conversation.window_closed_at
        )
        existing.updated_at = max(existing.updated_at, conversation.updated_at)
        await session.delete(conversation)
        folded += 1
    return folded


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


def _later(a: datetime | None, b: datetime | None) -> bool:
    return a is not None and (b is None or a > b)


async def _held_by(
    session: AsyncSession,
    holder: InstrumentedAttribute[str | None],
    workspace_id: str,
    keep_id: str,
    gone_id: str,
) -> dict[str, Any]:
    """The rows whose unique "one per contact" column (no foreign key) names either contact,
    by that contact's id."""
    model = holder.class_
    assert isinstance(model, type)  # a mapped class here, never an alias
    found = await session.scalars(
        Scope(session, workspace_id).select(model).where(holder.in_([keep_id, gone_id]))
    )
    return {getattr(row, holder.key): row for row in found}


async def _settle_active_session(
    session: AsyncSession, workspace_id: str, keep_id: str, gone_id: str, now: datetime
) -> None:
    """One active flow session per contact (unique `active_contact_id`, which is no foreign
    key and so not moved with the rest). The kept contact's conversation goes on; the merged
    contact's ends the way `POST /flow-sessions/{id}/end` ends one, with its own reason."""
    rows = await _held_by(session, FlowSession.active_contact_id, workspace_id, keep_id, gone_id)
    theirs = rows.get(gone_id)
    if theirs is None:
        return
    if keep_id not in rows:
        theirs.active_contact_id = keep_id
        return
    state = dict(theirs.state)
    state.update(status=FlowStatus.ENDED, wait=None, outcome="abandoned", end_reason=MERGED_REASON)
    state["ended_at"] = now.isoformat()
    state["merged_from"] = gone_id  # the contact it belonged to no longer exists
    theirs.state, theirs.status, theirs.deadline = state, FlowStatus.ENDED, None
    theirs.outcome, theirs.end_reason, theirs.ended_at = "abandoned", MERGED_REASON, now
    theirs.active_contact_id, theirs.updated_at = None, now


async def _settle_open_ticket(
    session: AsyncSession, workspace_id: str, keep_id: str, gone_id: str, now: datetime
) -> None:
    """One open ticket per contact (unique `open_contact_id`, no foreign key). Where both
    have one, the merged contact's is resolved as `merged`, and each ticket's history
    names the other so agents can follow the conversation across."""
    rows = await _held_by(session, Ticket.open_contact_id, workspace_id, keep_id, gone_id)
    theirs = rows.get(gone_id)
    if theirs is None:
        return
    mine = rows.get(keep_id)
    if mine is None:
        theirs.open_contact_id = keep_id
        note(theirs, now, "contact_merged", "merge", merged_from=gone_id)
        return
    theirs.status, theirs.resolution = "resolved", "merged"
    theirs.resolved_at, theirs.open_contact_id = now, None
    note(theirs, now, "resolved", "merge", resolution="merged", continued_in=mine.id)
    note(mine, now, "contact_merged", "merge", merged_from=gone_id, merged_ticket=theirs.id)
