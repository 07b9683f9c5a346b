"""CSV import (all rows or none) and export of contacts.

The columns are described in `csv_rows`, which reads each row; `csv_write` writes them. The
id and created_at columns that export writes are accepted and ignored, so an export can be
imported again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.consent import service as consent
from threadline.consent.models import Suppression
from threadline.contacts import service
from threadline.contacts.csv_rows import (
    BASE_COLUMNS,
    EXPORT_ONLY_COLUMNS,
    FIELD_PREFIX,
    ContactRow,
    defuse,
    parse_row,
)
from threadline.contacts.csv_write import BULK_CHUNK, bulk_create, write_consent, write_row
from threadline.contacts.models import ContactURN
from threadline.kit.errors import InvalidInput
from threadline.kit.scoped import Scope


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


async def _owners(session: AsyncSession, workspace_id: str, urns: list[str]) -> dict[str, str]:
    owners: dict[str, str] = {}
    for start in range(0, len(urns), 500):
        chunk = urns[start : start + 500]
        rows = await session.execute(
            Scope(session, workspace_id)
            .columns(ContactURN, ContactURN.urn, ContactURN.contact_id)
            .where(ContactURN.urn.in_(chunk))
        )
        owners.update({urn: contact_id for urn, contact_id in rows.all()})
    return owners


async def _suppressed(session: AsyncSession, workspace_id: str, urns: list[str]) -> set[str]:
    by_hash = {service.suppression_hash(u): u for u in urns}
    found: set[str] = set()
    hashes = list(by_hash)
    for start in range(0, len(hashes), 500):
        rows = await session.scalars(
            Scope(session, workspace_id)
            .columns(Suppression, Suppression.address_sha256)
            .where(Suppression.address_sha256.in_(hashes[start : start + 500]))
        )
        found |= {by_hash[h] for h in rows}
    return found


def _header_errors(columns: list[str], field_types: dict[str, Any]) -> list[RowError]:
    """No header, or columns that are neither known nor a defined custom field."""
    unknown = [
        c
        for c in columns
        if c not in BASE_COLUMNS
        and c not in EXPORT_ONLY_COLUMNS
        and not (c.startswith(FIELD_PREFIX) and c[len(FIELD_PREFIX) :] in field_types)
    ]
    errors: list[RowError] = []
    if not columns:
        errors.append(RowError(1, "header", "the file has no header row"))
    for column in unknown:
        hint = "define the field first" if column.startswith(FIELD_PREFIX) else "unknown column"
        errors.append(RowError(1, column, f"{hint} (known: {', '.join(BASE_COLUMNS)})"))
    return errors


def _read_rows(
    reader: Iterable[dict[str, Any]],
    report: ImportReport,
    *,
    default_region: str | None,
    field_types: dict[str, Any],
    topics: set[str],
    now: datetime,
) -> list[ContactRow]:
    """Every row that reads as a contact; the others, and addresses given on two rows of
    the file, are errors in the report."""
    rows: list[ContactRow] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(reader):
        line = index + 2
        report.rows += 1
        if None in raw:
            report.errors.append(RowError(line, "row", "more values than header columns"))
            continue
        try:
            row = parse_row(
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
    return rows


async def _targets(
    session: AsyncSession, workspace_id: str, rows: list[ContactRow], report: ImportReport
) -> list[str | None]:
    """Per row, the existing contact its addresses belong to (None: a new contact). Erased
    addresses and rows whose addresses belong to several contacts are errors."""
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
    return targets


async def _write(
    session: AsyncSession,
    workspace_id: str,
    rows: list[ContactRow],
    targets: list[str | None],
    report: ImportReport,
    *,
    now: datetime,
    default_region: str | None,
    on_progress: Callable[[int], None] | None,
) -> None:
    """Existing contacts updated one by one, then new ones in bulk, counted in the report."""
    new_rows = [row for row, target in zip(rows, targets, strict=True) if target is None]
    done = 0
    for row, target in zip(rows, targets, strict=True):
        if target is None:
            continue
        await write_row(session, workspace_id, row, target, now, default_region)
        report.updated += 1
        report.consents += await write_consent(session, workspace_id, target, row, now)
        done += 1
        if on_progress is not None:
            on_progress(done)
    for start in range(0, len(new_rows), BULK_CHUNK):
        chunk = new_rows[start : start + BULK_CHUNK]
        report.consents += await bulk_create(session, workspace_id, chunk, now)
        report.created += len(chunk)
        done += len(chunk)
        if on_progress is not None:
            on_progress(done)


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
    report.errors += _header_errors(columns, field_types)
    if report.errors:
        return report
    topics = await consent.topic_keys(session, workspace_id)
    rows = _read_rows(
        reader,
        report,
        default_region=default_region,
        field_types=field_types,
        topics=topics,
        now=now,
    )
    targets = await _targets(session, workspace_id, rows, report)
    if report.errors:
        report.errors.sort(key=lambda e: e.row)
        return report
    await _write(
        session,
        workspace_id,
        rows,
        targets,
        report,
        now=now,
        default_region=default_region,
        on_progress=on_progress,
    )
    return report


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
            writer.writerow([defuse(cell) for cell in cells])
            count += 1
        if after is None:
            return count


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def count_rows(text: str) -> int:
    return max(sum(1 for _ in csv.reader(io.StringIO(text))) - 1, 0)
