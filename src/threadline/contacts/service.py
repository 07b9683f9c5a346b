"""Contacts, their addresses (URNs), tags, fields and erasure (merge: contacts.merge)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, or_
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.consent.models import Suppression
from threadline.contacts import repository
from threadline.contacts.models import (
    Contact,
    ContactTag,
    ContactURN,
    FieldDefinition,
)
from threadline.contacts.schemas import ContactIn, ContactOut, ContactPatch, FieldType
from threadline.contacts.urns import URN, parse_urn, timezone_for_phone
from threadline.kit.clock import known_zone
from threadline.kit.crypto import sha256_hex
from threadline.kit.errors import Conflict, InvalidInput, NotFound
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope
from threadline.policy.holdout import new_bucket

MAX_TAG_LENGTH = 100


def parse_urns(raw: Sequence[str], default_region: str | None, where: str = "urns") -> list[URN]:
    parsed: list[URN] = []
    for index, value in enumerate(raw):
        try:
            urn = parse_urn(value, default_region)
        except ValueError as exc:  # InvalidURN, or an unknown default region
            raise InvalidInput(str(exc), where=f"{where}[{index}]") from exc
        if urn not in parsed:
            parsed.append(urn)
    return parsed


def parse_one_urn(raw: str, default_region: str | None, where: str = "urn") -> URN:
    """One address from a single-valued field: errors point at `where`, not `where[0]`."""
    try:
        return parse_urn(raw, default_region)
    except ValueError as exc:
        raise InvalidInput(str(exc), where=where) from exc


def clean_tags(tags: Sequence[str], where: str = "tags") -> list[str]:
    cleaned: list[str] = []
    for index, tag in enumerate(tags):
        value = tag.strip()
        if not value or len(value) > MAX_TAG_LENGTH:
            raise InvalidInput(
                f"tags must be 1-{MAX_TAG_LENGTH} characters", where=f"{where}[{index}]"
            )
        if value not in cleaned:
            cleaned.append(value)
    return cleaned


def check_timezone(value: str | None, where: str = "timezone") -> str | None:
    if value is None:
        return None
    try:
        return known_zone(value)
    except ValueError as exc:
        raise InvalidInput(str(exc), where=where) from None


def suppression_hash(urn: URN | str) -> str:
    return sha256_hex(str(urn))


async def field_types(session: AsyncSession, workspace_id: str) -> dict[str, FieldType]:
    scope = Scope(session, workspace_id)
    rows = await session.execute(
        scope.columns(FieldDefinition, FieldDefinition.key, FieldDefinition.value_type)
    )
    return {key: FieldType(value_type) for key, value_type in rows.all()}


def coerce_field(key: str, value: Any, value_type: FieldType, where: str) -> Any:
    """Field values are stored as JSON scalars of their declared type (None clears)."""
    if value is None:
        return None
    if value_type is FieldType.TEXT:
        return str(value)
    if value_type is FieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
        lowered = str(value).strip().lower()
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
        raise InvalidInput(f"field '{key}' expects true or false, got {value!r}", where=where)
    if value_type is FieldType.NUMBER:
        if isinstance(value, bool):
            raise InvalidInput(f"field '{key}' expects a number, got {value!r}", where=where)
        try:
            number = Decimal(str(value))
        except InvalidOperation as exc:
            raise InvalidInput(
                f"field '{key}' expects a number, got {value!r}", where=where
            ) from exc
        return int(number) if number == number.to_integral_value() else float(number)
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError as exc:
        raise InvalidInput(
            f"field '{key}' expects a date YYYY-MM-DD, got {value!r}", where=where
        ) from exc


async def check_fields(
    session: AsyncSession, workspace_id: str, fields: dict[str, Any], where: str = "fields"
) -> dict[str, Any]:
    if not fields:
        return {}
    known = await field_types(session, workspace_id)
    checked: dict[str, Any] = {}
    for key, value in fields.items():
        if key not in known:
            listing = ", ".join(sorted(known)) or "none defined"
            raise InvalidInput(f"unknown field '{key}' (known: {listing})", where=f"{where}.{key}")
        checked[key] = coerce_field(key, value, known[key], f"{where}.{key}")
    return checked


async def ensure_addresses_free(
    session: AsyncSession,
    workspace_id: str,
    urns: Sequence[URN],
    *,
    owner_id: str | None = None,
    where: str = "urns",
    allow_suppressed: bool = False,
    single: bool = False,
) -> None:
    """An address belongs to one contact, and an erased address is never re-added by import."""
    if not urns:
        return
    texts = [str(u) for u in urns]

    def at(urn_text: str) -> str:
        return where if single else f"{where}[{texts.index(urn_text)}]"

    scope = Scope(session, workspace_id)
    taken = await session.execute(
        scope.columns(ContactURN, ContactURN.urn, ContactURN.contact_id).where(
            ContactURN.urn.in_(texts)
        )
    )
    for urn_text, contact_id in taken.all():
        if contact_id != owner_id:
            raise Conflict(
                f"{urn_text} already belongs to contact {contact_id}", where=at(urn_text)
            )
    if allow_suppressed:
        return
    hashes = {suppression_hash(t): t for t in texts}
    suppressed = await session.scalars(
        scope.columns(Suppression, Suppression.address_sha256).where(
            Suppression.address_sha256.in_(hashes)
        )
    )
    for digest in suppressed:
        urn_text = hashes[digest]
        raise Conflict(
            f"{urn_text} was erased at the person's request and is suppressed",
            where=at(urn_text),
        )


def derive_timezone(urns: Sequence[URN]) -> str | None:
    for urn in urns:
        if urn.phone_e164:
            zone = timezone_for_phone(urn.phone_e164)
            if zone:
                return zone
    return None


async def create_contact(
    session: AsyncSession,
    workspace_id: str,
    data: ContactIn,
    *,
    now: datetime,
    default_region: str | None,
    allow_suppressed: bool = False,
) -> Contact:
    urns = parse_urns(data.urns, default_region)
    timezone = check_timezone(data.timezone)
    fields = await check_fields(session, workspace_id, data.fields)
    tags = clean_tags(data.tags)
    await ensure_addresses_free(session, workspace_id, urns, allow_suppressed=allow_suppressed)
    contact = Contact(
        id=new_id("con"),
        workspace_id=workspace_id,
        name=data.name.strip(),
        language=data.language,
        timezone=timezone or derive_timezone(urns),
        fields=fields,
        interests=sorted(set(data.interests)),
        holdout_bucket=new_bucket(),
        created_at=now,
        updated_at=now,
    )
    session.add(contact)
    await session.flush()
    for urn in urns:
        _add_urn_row(session, contact, urn, now)
    for tag in tags:
        session.add(
            ContactTag(id=new_id("tag"), workspace_id=workspace_id, contact_id=contact.id, tag=tag)
        )
    await session.flush()
    return contact


def _add_urn_row(session: AsyncSession, contact: Contact, urn: URN, now: datetime) -> None:
    repository.URNS.forget(session, contact.id)
    session.add(
        ContactURN(
            id=new_id("urn"),
            workspace_id=contact.workspace_id,
            contact_id=contact.id,
            scheme=urn.scheme,
            urn=str(urn),
            created_at=now,
        )
    )


async def get_contact(session: AsyncSession, workspace_id: str, contact_id: str) -> Contact:
    # By primary key: a contact already loaded in this transaction costs no query.
    return await Scope(session, workspace_id).one(Contact, contact_id, "contact")


async def find_by_urn(session: AsyncSession, workspace_id: str, urn: URN | str) -> Contact | None:
    return await repository.find_by_urn(Scope(session, workspace_id), urn)


async def urns_of(session: AsyncSession, workspace_id: str, contact_id: str) -> list[str]:
    return await repository.urns_of(session, workspace_id, contact_id)


async def describe(session: AsyncSession, contacts: Sequence[Contact]) -> list[ContactOut]:
    """API view of contacts, loading URNs and tags for all of them in two queries."""
    if not contacts:
        return []
    ids = [c.id for c in contacts]
    scope = Scope(session, contacts[0].workspace_id)
    urns = await repository.urns_by_contact(scope, ids)
    tags = await repository.tags_by_contact(scope, ids)
    return [
        ContactOut(
            id=c.id,
            name=c.name,
            urns=urns[c.id],
            language=c.language,
            timezone=c.timezone,
            fields=c.fields or {},
            tags=tags[c.id],
            interests=c.interests or [],
            created_at=c.created_at,
            updated_at=c.updated_at,
        )
        for c in contacts
    ]


async def update_contact(
    session: AsyncSession, workspace_id: str, contact_id: str, patch: ContactPatch, now: datetime
) -> Contact:
    contact = await get_contact(session, workspace_id, contact_id)
    if patch.name is not None:
        contact.name = patch.name.strip()
    if patch.language is not None:
        contact.language = patch.language
    if patch.timezone is not None:
        contact.timezone = check_timezone(patch.timezone)
    if patch.fields is not None:
        merged = {
            **(contact.fields or {}),
            **await check_fields(session, workspace_id, patch.fields),
        }
        contact.fields = {k: v for k, v in merged.items() if v is not None}
    if patch.interests is not None:
        contact.interests = sorted(set(patch.interests))
    if patch.tags is not None:
        await repository.set_tags(session, contact, clean_tags(patch.tags))
    contact.updated_at = now
    await session.flush()
    return contact


async def add_urn(
    session: AsyncSession,
    workspace_id: str,
    contact_id: str,
    raw: str,
    *,
    now: datetime,
    default_region: str | None,
) -> Contact:
    contact = await get_contact(session, workspace_id, contact_id)
    urn = parse_one_urn(raw, default_region)
    await ensure_addresses_free(
        session, workspace_id, [urn], owner_id=contact.id, where="urn", single=True
    )
    if str(urn) not in await urns_of(session, workspace_id, contact.id):
        _add_urn_row(session, contact, urn, now)
    if contact.timezone is None:
        contact.timezone = derive_timezone([urn])
    contact.updated_at = now
    await session.flush()
    return contact


async def remove_urn(
    session: AsyncSession,
    workspace_id: str,
    contact_id: str,
    raw: str,
    *,
    default_region: str | None,
) -> Contact:
    contact = await get_contact(session, workspace_id, contact_id)
    urn = parse_one_urn(raw, default_region)
    repository.URNS.forget(session, contact.id)
    result = await session.execute(
        Scope(session, workspace_id)
        .delete(ContactURN)
        .where(ContactURN.contact_id == contact.id, ContactURN.urn == str(urn))
    )
    if getattr(result, "rowcount", 0) == 0:
        raise NotFound(f"contact {contact_id} has no address {urn}", where="urn")
    return contact


async def search(
    session: AsyncSession,
    workspace_id: str,
    *,
    query: str | None = None,
    tag: str | None = None,
    urn: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> tuple[list[Contact], str | None]:
    """Contacts in id (creation) order, filtered; returns the page and the next cursor."""
    scope = Scope(session, workspace_id)
    stmt = scope.select(Contact)
    with_urn = scope.columns(ContactURN, ContactURN.contact_id)
    if query:
        pattern = f"%{query.strip().lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(Contact.name).like(pattern),
                Contact.id.in_(with_urn.where(func.lower(ContactURN.urn).like(pattern))),
            )
        )
    if tag:
        tagged = scope.columns(ContactTag, ContactTag.contact_id).where(ContactTag.tag == tag)
        stmt = stmt.where(Contact.id.in_(tagged))
    if urn:
        stmt = stmt.where(Contact.id.in_(with_urn.where(ContactURN.urn == urn)))
    if after:
        stmt = stmt.where(Contact.id > after)
    rows = list(await session.scalars(stmt.order_by(Contact.id).limit(limit + 1)))
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_cursor


async def erase(
    session: AsyncSession, workspace_id: str, contact_id: str, reason: str, now: datetime
) -> int:
    """Delete a person and everything about them, leaving only hashed suppressions so that
    no import or API call brings the addresses back by mistake. Returns suppressions written."""
    contact = await get_contact(session, workspace_id, contact_id)
    scope = Scope(session, workspace_id)
    written = 0
    for urn in await urns_of(session, workspace_id, contact.id):
        digest = suppression_hash(urn)
        exists = await session.scalar(
            scope.columns(Suppression, Suppression.id).where(Suppression.address_sha256 == digest)
        )
        if exists is None:
            session.add(
                Suppression(
                    id=new_id("sup"),
                    workspace_id=workspace_id,
                    address_sha256=digest,
                    reason=reason[:200] or "erasure request",
                    created_at=now,
                )
            )
            written += 1
    await session.delete(contact)
    await session.flush()
    return written
