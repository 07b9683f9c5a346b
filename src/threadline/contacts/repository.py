"""The contact queries other domains share, each written once on the workspace scope: a
contact's tags and addresses, one contact or many at a time, and finding a contact by address."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from contextlib import ExitStack, asynccontextmanager
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.contacts.models import Contact, ContactEvent, ContactTag, ContactURN
from threadline.contacts.urns import URN
from threadline.kit.held import Held
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope

# A contact's recent events as flows see them: (kind, name, when), newest first.
RecentEvent = tuple[str, str | None, datetime]
RECENT_EVENTS_KEPT = 50

URNS: Held[str, list[str]] = Held("contacts.urns")
TAGS: Held[str, list[str]] = Held("contacts.tags")
RECENT: Held[str, tuple[datetime, list[RecentEvent]]] = Held("contacts.recent_events")


@asynccontextmanager
async def holding(
    session: AsyncSession,
    workspace_id: str,
    contact_ids: Collection[str],
    *,
    tags_and_events_since: datetime | None = None,
) -> AsyncIterator[None]:
    """The contacts' addresses (and, when asked, their tags and their events since a time)
    read in one statement each and held for the block: a batch of inbound messages looks
    them up once per contact otherwise, several times."""
    scope = Scope(session, workspace_id)
    with ExitStack() as stack:
        urns = await urns_by_contact(scope, contact_ids)
        stack.enter_context(URNS.holding(session, workspace_id, {i: urns[i] for i in contact_ids}))
        if tags_and_events_since is not None:
            since = tags_and_events_since
            tags = await tags_by_contact(scope, contact_ids)
            events = await recent_events_by_contact(scope, contact_ids, since)
            stack.enter_context(
                TAGS.holding(session, workspace_id, {i: tags[i] for i in contact_ids})
            )
            stack.enter_context(
                RECENT.holding(session, workspace_id, {i: (since, events[i]) for i in contact_ids})
            )
        yield


async def tags_by_contact(scope: Scope, ids: Iterable[str]) -> defaultdict[str, list[str]]:
    """Each contact's tags, alphabetically (a contact without tags maps to [])."""
    tags: defaultdict[str, list[str]] = defaultdict(list)
    rows = await scope.session.execute(
        scope.columns(ContactTag, ContactTag.contact_id, ContactTag.tag)
        .where(ContactTag.contact_id.in_(list(ids)))
        .order_by(ContactTag.tag)
    )
    for contact_id, tag in rows.all():
        tags[contact_id].append(tag)
    return tags


async def tags_of(session: AsyncSession, contact: Contact) -> list[str]:
    held = TAGS.get(session, contact.workspace_id, contact.id)
    if held is not None:
        return list(held)
    scope = Scope(session, contact.workspace_id)
    return (await tags_by_contact(scope, [contact.id]))[contact.id]


async def set_tags(session: AsyncSession, contact: Contact, tags: Sequence[str]) -> None:
    """Replace the contact's tags with `tags` (already cleaned)."""
    scope = Scope(session, contact.workspace_id)
    TAGS.forget(session, contact.id)
    await session.execute(scope.delete(ContactTag).where(ContactTag.contact_id == contact.id))
    for tag in dict.fromkeys(tags):
        session.add(
            ContactTag(
                id=new_id("tag"), workspace_id=contact.workspace_id, contact_id=contact.id, tag=tag
            )
        )
    await session.flush()


async def change_tags(
    session: AsyncSession, contact: Contact, add: Iterable[str] = (), remove: Iterable[str] = ()
) -> list[str]:
    """Add and remove tags, keeping the others; returns the tags the contact now has."""
    current = set(await tags_of(session, contact))
    wanted = sorted((current | set(add)) - set(remove))
    if set(wanted) != current:
        await set_tags(session, contact, wanted)
    return wanted


async def urns_by_contact(scope: Scope, ids: Iterable[str]) -> defaultdict[str, list[str]]:
    """Each contact's addresses, in the order they were added."""
    urns: defaultdict[str, list[str]] = defaultdict(list)
    rows = await scope.session.execute(
        scope.columns(ContactURN, ContactURN.contact_id, ContactURN.urn)
        .where(ContactURN.contact_id.in_(list(ids)))
        .order_by(ContactURN.created_at, ContactURN.id)
    )
    for contact_id, urn in rows.all():
        urns[contact_id].append(urn)
    return urns


async def urns_of(session: AsyncSession, workspace_id: str, contact_id: str) -> list[str]:
    held = URNS.get(session, workspace_id, contact_id)
    if held is not None:
        return list(held)
    return (await urns_by_contact(Scope(session, workspace_id), [contact_id]))[contact_id]


async def recent_events_by_contact(
    scope: Scope, ids: Iterable[str], since: datetime
) -> defaultdict[str, list[RecentEvent]]:
    """Each contact's newest events since `since`, at most RECENT_EVENTS_KEPT of them."""
    newest_first = (
        func.row_number()
        .over(partition_by=ContactEvent.contact_id, order_by=ContactEvent.occurred_at.desc())
        .label("place")
    )
    ranked = (
        scope.columns(
            ContactEvent,
            ContactEvent.contact_id,
            ContactEvent.kind,
            ContactEvent.name,
            ContactEvent.occurred_at,
            newest_first,
        )
        .where(ContactEvent.contact_id.in_(list(ids)), ContactEvent.occurred_at >= since)
        .subquery()
    )
    rows = await scope.session.execute(
        ranked.select()
        .where(ranked.c.place <= RECENT_EVENTS_KEPT)
        .order_by(ranked.c.contact_id, ranked.c.place)
    )
    events: defaultdict[str, list[RecentEvent]] = defaultdict(list)
    for contact_id, kind, name, at, _ in rows.all():
        events[contact_id].append((kind, name, at))
    return events


async def recent_events_of(
    session: AsyncSession, workspace_id: str, contact_id: str, since: datetime
) -> list[RecentEvent]:
    held = RECENT.get(session, workspace_id, contact_id)
    if held is not None and held[0] == since:
        return list(held[1])
    scope = Scope(session, workspace_id)
    return (await recent_events_by_contact(scope, [contact_id], since))[contact_id]


async def find_by_urn(scope: Scope, urn: URN | str) -> Contact | None:
    return await scope.session.scalar(
        scope.select(Contact)
        .join(ContactURN, ContactURN.contact_id == Contact.id)
        .where(ContactURN.urn == str(urn))
    )
