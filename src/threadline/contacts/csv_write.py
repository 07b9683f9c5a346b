"""Writing validated CSV rows: new contacts in multi-row inserts, existing ones updated in
place (name, fields, addresses and tags added, never removed), and imported opt-ins
recorded in the consent ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.consent import service as consent
from threadline.consent.models import ConsentEvent
from threadline.consent.projection import Action
from threadline.contacts import repository, service
from threadline.contacts.csv_rows import ContactRow
from threadline.contacts.models import Contact, ContactTag, ContactURN
from threadline.contacts.schemas import ContactIn
from threadline.kit.ids import new_id
from threadline.policy.holdout import new_bucket

BULK_CHUNK = 500


def _contact_values(
    workspace_id: str, contact_id: str, row: ContactRow, now: datetime
) -> dict[str, Any]:
    return {
        "id": contact_id,
        "workspace_id": workspace_id,
        "name": row.name,
        "language": row.language,
        "timezone": row.timezone or service.derive_timezone(row.urns),
        "fields": row.fields,
        "interests": sorted(set(row.interests)),
        "holdout_bucket": new_bucket(),
        "created_at": now,
        "updated_at": now,
    }


async def bulk_create(
    session: AsyncSession, workspace_id: str, rows: list[ContactRow], now: datetime
) -> int:
    """New contacts in multi-row inserts: every row was validated (addresses free, fields,
    topics, disclosures) before anything is written, so the per-row checks of the API path
    would only repeat work. Returns the opt-ins recorded."""
    contacts: list[dict[str, Any]] = []
    addresses: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    ledger: list[dict[str, Any]] = []
    for row in rows:
        contact_id = new_id("con")
        contacts.append(_contact_values(workspace_id, contact_id, row, now))
        addresses += [
            {
                "id": new_id("urn"),
                "workspace_id": workspace_id,
                "contact_id": contact_id,
                "scheme": urn.scheme,
                "urn": str(urn),
                "created_at": now,
            }
            for urn in row.urns
        ]
        tags += [
            {
                "id": new_id("tag"),
                "workspace_id": workspace_id,
                "contact_id": contact_id,
                "tag": tag,
            }
            for tag in row.tags
        ]
        ledger += [
            consent.event_row(workspace_id, contact_id, change, now)
            for change in _opt_ins(row, now)
        ]
    # Parents before children: there are no ORM relationships to order the inserts.
    for model, values in (
        (Contact, contacts),
        (ContactURN, addresses),
        (ContactTag, tags),
        (ConsentEvent, ledger),
    ):
        if values:
            await session.execute(insert(model), values)
    return len(ledger)


def _opt_ins(row: ContactRow, now: datetime) -> list[consent.ConsentChange]:
    if row.consent_topic is None:
        return []
    return [
        consent.ConsentChange(
            action=Action.GRANT,
            channel=channel,
            topic=row.consent_topic,
            source="import",
            actor="import",
            occurred_at=row.consented_at or now,
            disclosure_text=row.consent_text,
            disclosure_version=row.consent_version,
        )
        for channel in row.consent_channels
    ]


async def write_row(
    session: AsyncSession,
    workspace_id: str,
    row: ContactRow,
    target: str | None,
    now: datetime,
    default_region: str | None,
) -> str:
    if target is None:
        contact = await service.create_contact(
            session,
            workspace_id,
            ContactIn(
                name=row.name,
                urns=[str(u) for u in row.urns],
                language=row.language,
                timezone=row.timezone,
                fields=row.fields,
                tags=row.tags,
                interests=row.interests,
            ),
            now=now,
            default_region=default_region,
        )
        return contact.id
    contact = await service.get_contact(session, workspace_id, target)
    contact.name = row.name or contact.name
    contact.language = row.language or contact.language
    contact.timezone = row.timezone or contact.timezone
    contact.fields = {**(contact.fields or {}), **row.fields}
    contact.interests = sorted(set(contact.interests or []) | set(row.interests))
    contact.updated_at = now
    existing = set(await service.urns_of(session, workspace_id, contact.id))
    for urn in row.urns:
        if str(urn) not in existing:
            await service.add_urn(
                session, workspace_id, contact.id, str(urn), now=now, default_region=default_region
            )
    await repository.change_tags(session, contact, add=row.tags)
    return contact.id


async def write_consent(
    session: AsyncSession, workspace_id: str, contact_id: str, row: ContactRow, now: datetime
) -> int:
    changes = _opt_ins(row, now)
    for change in changes:
        await consent.record(session, workspace_id, contact_id, change, now)
    return len(changes)
