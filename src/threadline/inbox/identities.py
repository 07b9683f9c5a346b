"""Finding or creating the contact behind a platform identity."""

from __future__ import annotations

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
    """The contact (created on first contact) and the address to reply to. A person who
    asked to be erased and writes again starts afresh: suppressions stop outreach, not replies."""
    urns = urns_for(sender, scheme)
    owners = dict(
        (
            await session.execute(
                Scope(session, workspace_id)
                .columns(ContactURN, ContactURN.urn, ContactURN.contact_id)
                .where(ContactURN.urn.in_([str(u) for u in urns]))
            )
        ).all()
    )
    contact_id = next((owners[str(u)] for u in urns if str(u) in owners), None)
    contact = await session.get(Contact, contact_id) if contact_id else None
    if contact is None:
        contact = Contact(
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
        session.add(contact)
        await session.flush()
    elif sender.name and not contact.name:
        contact.name = sender.name
    for urn in urns:
        if str(urn) not in owners:
            session.add(
                ContactURN(
                    id=new_id("urn"),
                    workspace_id=workspace_id,
                    contact_id=contact.id,
                    scheme=urn.scheme,
                    urn=str(urn),
                    created_at=now,
                )
            )
    await session.flush()
    return contact, str(urns[0])
