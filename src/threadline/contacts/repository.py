"""The contact queries other domains share, each written once on the workspace scope: a
contact's tags and addresses, one contact or many at a time, and finding a contact by address."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.contacts.models import Contact, ContactTag, ContactURN
from threadline.contacts.urns import URN
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope


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
    scope = Scope(session, contact.workspace_id)
    return (await tags_by_contact(scope, [contact.id]))[contact.id]


async def set_tags(session: AsyncSession, contact: Contact, tags: Sequence[str]) -> None:
    """Replace the contact's tags with `tags` (already cleaned)."""
    scope = Scope(session, contact.workspace_id)
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


async def find_by_urn(scope: Scope, urn: URN | str) -> Contact | None:
    return await scope.session.scalar(
        scope.select(Contact)
        .join(ContactURN, ContactURN.contact_id == Contact.id)
        .where(ContactURN.urn == str(urn))
    )
