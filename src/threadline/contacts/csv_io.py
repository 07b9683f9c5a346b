"""CSV import (all rows or none) and export of contacts.

Columns: name, language, timezone, phone (gives tel: and whatsapp:), whatsapp, email,
urns (";"-separated URNs), tags, interests (";"-separated), field:<key> for custom fields,
and for recorded opt-ins: consent_topic, consent_channels (";"-separated), consent_text,
consent_version, consented_at (ISO 8601 with offset). The id and created_at columns that
export writes are accepted and ignored, so an export can be imported again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.consent import service as consent
from threadline.consent.models import ConsentEvent, Suppression
from threadline.consent.projection import TRANSACTIONAL, Action
from threadline.contacts import service
from threadline.contacts.models import Contact, ContactTag, ContactURN
from threadline.contacts.schemas import ContactIn
from threadline.contacts.urns import URN, phone_to_urns
from threadline.kit.errors import InvalidInput
from threadline.kit.ids import new_id
from threadline.policy.holdout import new_bucket
from threadline.policy.types import Channel

BASE_COLUMNS = (
    "name",
    "language",
    "timezone",
    "phone",
    "whatsapp",
    "email",
    "urns",
    "tags",
    "interests",
    "consent_topic",
    "consent_channels",
    "consent_text",
    "consent_version",
    "consented_at",
)
# Written by export for reference; a new workspace gives new ids, so import ignores them.
EXPORT_ONLY_COLUMNS = ("id", "created_at")
FIELD_PREFIX = "field:"
BULK_CHUNK = 500
# Same tolerance as the consent ledger gives for clocks that run a little ahead.
FUTURE_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class RowError:
    row: int  # line number in the file, header = 1
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.column}: {self.message}"


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    consents: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _Row:
    line: int
    name: str
    language: str | None
    timezone: str | None
    urns: list[URN]
    tags: list[str]
    interests: list[str]
    fields: dict[str, Any]
    consent_topic: str | None
    consent_channels: list[str]
    consent_text: str | None
    consent_version: str | None
    consented_at: datetime | None


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


def _parse_row(
    line: int,
    raw: dict[str, str],
    *,
    default_region: str | None,
    field_types: dict[str, Any],
    topics: set[str],
    now: datetime,
) -> _Row:
    def get(column: str) -> str:
        return _undefuse((raw.get(column) or "").strip())

    urns: list[URN] = []
    if get("phone"):
        # phone_to_urns reads a national number with the default region for both addresses;
        # a "whatsapp:" URN would take its digits as already international.
        try:
            urns += phone_to_urns(get("phone"), default_region)
        except ValueError as exc:
            raise InvalidInput(str(exc), where="phone") from exc
    urn_texts: list[str] = []
    if get("whatsapp"):
        urn_texts.append(f"whatsapp:{get('whatsapp')}")
    if get("email"):
        urn_texts.append(f"mailto:{get('email')}")
    urn_texts += _split(get("urns"))
    if not urns and not urn_texts:
        raise InvalidInput("no address: give phone, whatsapp, email or urns", where="phone")
    try:
        parsed = service.parse_urns(urn_texts, default_region, where="address")
    except InvalidInput as exc:
        raise InvalidInput(exc.message, where="address") from exc
    urns += [urn for urn in parsed if urn not in urns]
    fields = {}
    for column, value in raw.items():
        if column.startswith(FIELD_PREFIX) and value.strip():
            key = column[len(FIELD_PREFIX) :]
            fields[key] = service.coerce_field(
                key, _undefuse(value.strip()), field_types[key], column
            )
    topic = get("consent_topic") or None
    channels = _split(get("consent_channels"))
    consented_at = None
    if topic is not None:
        if topic not in topics and topic != TRANSACTIONAL:
            raise InvalidInput(f"unknown topic '{topic}'", where="consent_topic")
        if not channels:
            raise InvalidInput("consent_topic needs consent_channels", where="consent_channels")
        for channel in channels:
            if channel not in {c.value for c in Channel}:
                raise InvalidInput(f"unknown channel '{channel}'", where="consent_channels")
        if not get("consent_text") or not get("consent_version"):
            raise InvalidInput(
                "an imported opt-in needs consent_text and consent_version", where="consent_text"
            )
        if get("consented_at"):
            try:
                consented_at = datetime.fromisoformat(get("consented_at"))
            except ValueError as exc:
                raise InvalidInput("not an ISO 8601 date-time", where="consented_at") from exc
            if consented_at.tzinfo is None:
                raise InvalidInput("needs a time zone offset (e.g. Z)", where="consented_at")
            # The ledger refuses future opt-ins; say so here, with the row, not while writing.
            if consented_at > now + FUTURE_TOLERANCE:
                raise InvalidInput("is in the future", where="consented_at")
    name = get("name")
    language = get("language") or None
    tags = service.clean_tags(_split(get("tags")))
    interests = _split(get("interests"))
    try:
        # The limits a contact must meet (name and language length, counts), checked now so
        # that writing cannot fail half-way without saying which row was wrong.
        ContactIn(
            name=name,
            urns=[str(u) for u in urns],
            language=language,
            tags=tags,
            interests=interests,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(first["msg"], where=str(first["loc"][0])) from exc
    return _Row(
        line=line,
        name=name,
        language=language,
        timezone=service.check_timezone(get("timezone") or None),
        urns=urns,
        tags=tags,
        interests=interests,
        fields=fields,
        consent_topic=topic,
        consent_channels=channels,
        consent_text=get("consent_text") or None,
        consent_version=get("consent_version") or None,
        consented_at=consented_at,
    )


async def _owners(session: AsyncSession, workspace_id: str, urns: list[str]) -> dict[str, str]:
    owners: dict[str, str] = {}
    for start in range(0, len(urns), 500):
        chunk = urns[start : start + 500]
        rows = await session.execute(
            select(ContactURN.urn, ContactURN.contact_id).where(
                ContactURN.workspace_id == workspace_id, ContactURN.urn.in_(chunk)
            )
        )
        owners.update({urn: contact_id for urn, contact_id in rows.all()})
    return owners


async def _suppressed(session: AsyncSession, workspace_id: str, urns: list[str]) -> set[str]:
    by_hash = {service.suppression_hash(u): u for u in urns}
    found: set[str] = set()
    hashes = list(by_hash)
    for start in range(0, len(hashes), 500):
        rows = await session.scalars(
            select(Suppression.address_sha256).where(
                Suppression.workspace_id == workspace_id,
                Suppression.address_sha256.in_(hashes[start : start + 500]),
            )
        )
        found |= {by_hash[h] for h in rows}
    return found


async def import_contacts(
    session: AsyncSession,
    workspace_id: str,
    text: str,
    *,
    now: datetime,
    default_region: str | None,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Validate every row, then write all of them, or none when any row is wrong. The
    caller's transaction makes the write atomic."""
    # A byte-order mark (Excel writes one) would otherwise stick to the first column name.
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    columns = [c.strip() for c in reader.fieldnames or []]
    reader.fieldnames = columns
    report = ImportReport()
    field_types = await service.field_types(session, workspace_id)
    unknown = [
        c
        for c in columns
        if c not in BASE_COLUMNS
        and c not in EXPORT_ONLY_COLUMNS
        and not (c.startswith(FIELD_PREFIX) and c[len(FIELD_PREFIX) :] in field_types)
    ]
    if not columns:
        report.errors.append(RowError(1, "header", "the file has no header row"))
    for column in unknown:
        hint = "define the field first" if column.startswith(FIELD_PREFIX) else "unknown column"
        report.errors.append(RowError(1, column, f"{hint} (known: {', '.join(BASE_COLUMNS)})"))
    if report.errors:
        return report
    topics = await consent.topic_keys(session, workspace_id)
    rows: list[_Row] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(reader):
        line = index + 2
        report.rows += 1
        if None in raw:
            report.errors.append(RowError(line, "row", "more values than header columns"))
            continue
        try:
            row = _parse_row(
                line,
                raw,
                default_region=default_region,
                field_types=field_types,
                topics=topics,
                now=now,
            )
        except InvalidInput as exc:
            report.errors.append(RowError(line, exc.where or "row", exc.message))
            continue
        for urn in row.urns:
            earlier = seen.setdefault(str(urn), line)
            if earlier != line:
                report.errors.append(
                    RowError(line, "address", f"{urn} is also on row {earlier} of this file")
                )
        rows.append(row)
    all_urns = [str(u) for row in rows for u in row.urns]
    owners = await _owners(session, workspace_id, all_urns)
    suppressed = await _suppressed(session, workspace_id, all_urns)
    targets: list[str | None] = []
    for row in rows:
        texts = [str(u) for u in row.urns]
        for text_urn in texts:
            if text_urn in suppressed:
                report.errors.append(
                    RowError(row.line, "address", f"{text_urn} was erased and is suppressed")
                )
        matched = {owners[t] for t in texts if t in owners}
        if len(matched) > 1:
            report.errors.append(
                RowError(
                    row.line, "address", f"addresses belong to {len(matched)} different contacts"
                )
            )
        targets.append(next(iter(matched)) if len(matched) == 1 else None)
    if report.errors:
        report.errors.sort(key=lambda e: e.row)
        return report
    new_rows = [row for row, target in zip(rows, targets, strict=True) if target is None]
    done = 0
    for row, target in zip(rows, targets, strict=True):
        if target is None:
            continue
        await _write_row(session, workspace_id, row, target, now, default_region)
        report.updated += 1
        report.consents += await _write_consent(session, workspace_id, target, row, now)
        done += 1
        if on_progress is not None:
            on_progress(done)
    for start in range(0, len(new_rows), BULK_CHUNK):
        chunk = new_rows[start : start + BULK_CHUNK]
        report.consents += await _bulk_create(session, workspace_id, chunk, now)
        report.created += len(chunk)
        done += len(chunk)
        if on_progress is not None:
            on_progress(done)
    return report


async def _bulk_create(
    session: AsyncSession, workspace_id: str, rows: list[_Row], now: datetime
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
        contacts.append(
            {
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
        )
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


def _opt_ins(row: _Row, now: datetime) -> list[consent.ConsentChange]:
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


async def _write_row(
    session: AsyncSession,
    workspace_id: str,
    row: _Row,
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
    tags = set(
        await session.scalars(select(ContactTag.tag).where(ContactTag.contact_id == contact.id))
    )
    await service.set_tags(session, contact, sorted(tags | set(row.tags)))
    return contact.id


async def _write_consent(
    session: AsyncSession, workspace_id: str, contact_id: str, row: _Row, now: datetime
) -> int:
    changes = _opt_ins(row, now)
    for change in changes:
        await consent.record(session, workspace_id, contact_id, change, now)
    return len(changes)


async def export_contacts(session: AsyncSession, workspace_id: str, out: io.TextIOBase) -> int:
    field_keys = sorted(await service.field_types(session, workspace_id))
    writer = csv.writer(out)
    writer.writerow(
        ["id", "name", "language", "timezone", "urns", "tags", "interests"]
        + [FIELD_PREFIX + k for k in field_keys]
        + ["created_at"]
    )
    count = 0
    after: str | None = None
    while True:
        page, after = await service.search(session, workspace_id, after=after, limit=500)
        for item in await service.describe(session, page):
            cells = [
                item.id,
                item.name,
                item.language or "",
                item.timezone or "",
                ";".join(item.urns),
                ";".join(item.tags),
                ";".join(item.interests),
                *(_cell(item.fields.get(k)) for k in field_keys),
                item.created_at.isoformat(),
            ]
            writer.writerow([_defuse(cell) for cell in cells])
            count += 1
        if after is None:
            return count


# A cell starting with one of these runs as a formula when the file is opened in a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _defuse(cell: str) -> str:
    """Export: quote a would-be formula with a leading apostrophe (import removes it)."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _undefuse(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def count_rows(text: str) -> int:
    return max(sum(1 for _ in csv.reader(io.StringIO(text))) - 1, 0)
