"""Finding or creating the contacts behind platform identities, many at once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels.events import Sender
from threadline.contacts.models import Contact, ContactURN
from threadline.contacts.service import derive_timezone
from threadline.contacts.urns import URN
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope
from threadline.policy.holdout import new_bucket


def urns_for(sender: Sender, scheme: str) -> list[URN]:
    """A person's identities on one channel type: on WhatsApp the phone-number id and/or the
    business-scoped user id, on Messenger/Instagram the page-scoped id. They come from the
    platform itself, so they are taken as given."""
    paths = [p for p in (sender.phone_id, sender.user_id) if p] or [sender.address]
    return [URN(scheme, path) for path in dict.fromkeys(paths)]


async def contact_for(
    session: AsyncSession, workspace_id: str, scheme: str, sender: Sender, now: datetime
) -> tuple[Contact, str]:
    """The contact (created on first contact) and the address to reply to."""
    return (await contacts_for(session, workspace_id, scheme, [sender], now))[0]


async def contacts_for(
    session: AsyncSession,
    workspace_id: str,
    scheme: str,
    senders: Sequence[Sender],
    now: datetime,
) -> list[tuple[Contact, str]]:
    """Each sender's contact and reply address, in the senders' order, in a fixed number of
    statements however many there are. Senders are taken in turn, so two that turn out to be
    one person (one id each) end on one contact, as they would one at a time. A person who
    asked to be erased and writes again starts afresh: suppressions stop outreach, not replies."""
    scope = Scope(session, workspace_id)
    identities = [urns_for(sender, scheme) for sender in senders]
    wanted = {str(urn) for urns in identities for urn in urns}
    owners: dict[str, str] = dict(
        (
            await session.execute(
                scope.columns(ContactURN, ContactURN.urn, ContactURN.contact_id).where(
                    ContactURN.urn.in_(wanted)
                )
            )
        ).all()
    )
    known = {
        contact.id: contact
        for contact in await session.scalars(
            scope.select(Contact).where(Contact.id.in_(set(owners.values())))
        )
    }
    new_contacts: list[Contact] = []
    new_urns: list[ContactURN] = []
    found: list[tuple[Contact, str]] = []
    for sender, urns in zip(senders, identities, strict=True):
        owner = next((owners[str(u)] for u in urns if str(u) in owners), None)
        contact = known.get(owner) if owner else None
        if contact is None:
            contact = _new_contact(workspace_id, sender, urns, now)
            known[contact.id] = contact
            new_contacts.append(contact)
        elif sender.name and not contact.name:
            contact.name = sender.name
        for urn in urns:
            if str(urn) not in owners:
                owners[str(urn)] = contact.id
                new_urns.append(_new_urn(workspace_id, contact.id, urn, now))
        found.append((contact, str(urns[0])))
    # Contacts first: the identities refer to them.
    session.add_all(new_contacts)
    await session.flush()
    session.add_all(new_urns)
    await session.flush()
    return found


def _new_contact(workspace_id: str, sender: Sender, urns: list[URN], now: datetime) -> Contact:
    return Contact(
        id=new_id("con"),
        workspace_id=workspace_id,
        name=sender.name or "",
        timezone=derive_timezone(urns),
        fields={},
        interests=[],
        holdout_bucket=new_bucket(),
        created_at=now,
        updated_at=now,
    )


def _new_urn(workspace_id: str, contact_id: str, urn: URN, now: datetime) -> ContactURN:
    return ContactURN(
        id=new_id("urn"),
        workspace_id=workspace_id,
        contact_id=contact_id,
        scheme=urn.scheme,
        urn=str(urn),
        created_at=now,
    )
