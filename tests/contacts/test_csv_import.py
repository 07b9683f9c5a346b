"""CSV import and export of contacts: through the `threadline` command (a real process on a
real SQLite file) and through `csv_io` on the test database (SQLite, or PostgreSQL)."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import T0
from tests.test_cli import migrated_db, query, run_cli, sqlite_url
from threadline.consent.models import ConsentEvent
from threadline.contacts import csv_io, service
from threadline.contacts.models import Contact, FieldDefinition
from threadline.contacts.schemas import ContactIn, ContactOut
from threadline.kit.db import make_engine, make_sessionmaker, transaction
from threadline.kit.ids import new_id
from threadline.workspaces.service import create_workspace

FIELDS = {"city": "text", "vip": "boolean", "score": "number"}
DISCLOSURE = "Yes, send me offers by WhatsApp and SMS. Reply STOP to stop."
CONSENT_HEADER = "consent_topic,consent_channels,consent_text,consent_version,consented_at"
GOOD = (
    f"name,phone,email,language,tags,interests,field:city,field:vip,field:score,{CONSENT_HEADER}\n"
    f"Ana Souza,+55 11 99999-0000,ana@example.com,pt,a;b,shoes; bags,São Paulo,yes,12.5,"
    f'marketing,whatsapp;sms,"{DISCLOSURE}",v3,2026-03-01T10:00:00Z\n'
    "Bob,(415) 555-0123,,,c,,Oakland,no,7,,,,,\n"  # national: read with the default region
    "Chloé,,chloe@example.com,fr,a,,,,,,,,,\n"
)
# Rows 2 and 9 are fine; every other row has exactly one problem (row 6 repeats row 2's phone,
# which gives its tel: and its whatsapp: address).
BAD = (
    f"name,phone,email,timezone,{CONSENT_HEADER}\n"
    "Fine,+14155550100,,,,,,,\n"
    "Bad phone,12,,,,,,,\n"
    "Topic,+14155550101,,,newsletter,sms,text,v1,\n"
    "No disclosure,+14155550102,,,marketing,sms,,,\n"
    "Twice,+1 415 555 0100,,,,,,,\n"
    "Zone,+14155550103,,Mars/Olympus,,,,,\n"
    "Extra,+14155550104,,,,,,,,surplus\n"
    "Also fine,,also@example.com,,,,,,\n"
)
BAD_PROBLEMS = [
    (3, "phone"),
    (4, "consent_topic"),
    (5, "consent_text"),
    (6, "address"),
    (6, "address"),
    (7, "timezone"),
    (8, "row"),
]


def comparable(contacts: Sequence[ContactOut]) -> list[tuple[Any, ...]]:
    """What a person sees of a contact, without ids and timestamps."""
    return sorted(
        (c.name, c.language, c.timezone, sorted(c.urns), c.tags, sorted(c.interests), c.fields)
        for c in contacts
    )


async def define_fields(session: AsyncSession, workspace_id: str) -> None:
    for key, value_type in FIELDS.items():
        session.add(
            FieldDefinition(
                id=new_id("fld"),
                workspace_id=workspace_id,
                key=key,
                label=key.title(),
                value_type=value_type,
                created_at=T0,
            )
        )
    await session.flush()


async def contacts_of(session: AsyncSession, workspace_id: str) -> list[ContactOut]:
    page, _ = await service.search(session, workspace_id, limit=10_000)
    return await service.describe(session, page)


async def count_contacts(session: AsyncSession, workspace_id: str) -> int:
    total = await session.scalar(
        select(func.count()).select_from(Contact).where(Contact.workspace_id == workspace_id)
    )
    return int(total or 0)


async def opt_ins(session: AsyncSession, workspace_id: str) -> list[ConsentEvent]:
    rows = await session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.workspace_id == workspace_id)
        .order_by(ConsentEvent.channel)
    )
    return list(rows)


def assert_recorded_opt_ins(events: Sequence[ConsentEvent], contact_id: str) -> None:
    assert [(e.channel, e.topic, e.action) for e in events] == [
        ("sms", "marketing", "grant"),
        ("whatsapp", "marketing", "grant"),
    ]
    for event in events:
        assert event.contact_id == contact_id
        assert event.source == "import"
        assert event.disclosure_text == DISCLOSURE
        assert event.disclosure_version == "v3"
        assert event.disclosure_sha256 == hashlib.sha256(DISCLOSURE.encode()).hexdigest()
        assert event.occurred_at == datetime.fromisoformat("2026-03-01T10:00:00+00:00")


def assert_good_contacts(contacts: Sequence[ContactOut]) -> None:
    by_name = {c.name: c for c in contacts}
    assert sorted(by_name) == ["Ana Souza", "Bob", "Chloé"]
    ana = by_name["Ana Souza"]
    assert ana.urns == ["tel:+5511999990000", "whatsapp:5511999990000", "mailto:ana@example.com"]
    assert ana.tags == ["a", "b"]
    assert ana.interests == ["bags", "shoes"]
    assert ana.fields == {"city": "São Paulo", "vip": True, "score": 12.5}
    assert (ana.language, ana.timezone) == ("pt", "America/Sao_Paulo")
    assert by_name["Bob"].urns == ["tel:+14155550123", "whatsapp:14155550123"]
    assert by_name["Bob"].fields == {"city": "Oakland", "vip": False, "score": 7}
    assert by_name["Chloé"].urns == ["mailto:chloe@example.com"]


# --- through the command ------------------------------------------------------------------


def prepare(path: Path, *names: str) -> dict[str, str]:
    """A migrated SQLite file with `names` as workspaces, each with the custom FIELDS."""
    ids = migrated_db(path, *names)

    async def fields() -> None:
        engine = make_engine(sqlite_url(path))
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                for workspace_id in ids.values():
                    await define_fields(session, workspace_id)
        finally:
            await engine.dispose()

    asyncio.run(fields())
    return ids


def read_back(path: Path, workspace_id: str) -> tuple[list[ContactOut], list[ConsentEvent]]:
    async def read() -> tuple[list[ContactOut], list[ConsentEvent]]:
        engine = make_engine(sqlite_url(path))
        try:
            async with make_sessionmaker(engine)() as session:
                return await contacts_of(session, workspace_id), await opt_ins(
                    session, workspace_id
                )
        finally:
            await engine.dispose()

    return asyncio.run(read())


def import_in_process(path: Path, workspace_id: str, text: str) -> csv_io.ImportReport:
    async def run() -> csv_io.ImportReport:
        engine = make_engine(sqlite_url(path))
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                return await csv_io.import_contacts(
                    session, workspace_id, text, now=T0, default_region="US"
                )
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_cli_imports_a_good_file_with_bom_and_records_opt_ins(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    ids = prepare(db, "Acme")
    source = tmp_path / "contacts.csv"
    source.write_text(GOOD, encoding="utf-8-sig")  # as Excel saves "CSV UTF-8"
    assert source.read_bytes().startswith(b"\xef\xbb\xbf")

    result = run_cli(
        ["contacts", "import", str(source), "-w", "Acme"], sqlite_url(db), cwd=tmp_path
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported 3 rows: 3 created, 0 updated, 2 opt-ins recorded"
    contacts, events = read_back(db, ids["Acme"])
    assert_good_contacts(contacts)
    ana = next(c for c in contacts if c.name == "Ana Souza")
    assert_recorded_opt_ins(events, ana.id)


def test_cli_lists_every_bad_row_and_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    ids = prepare(db, "Acme")
    import_in_process(db, ids["Acme"], "name,email\nAlready here,here@example.com\n")
    source = tmp_path / "bad.csv"
    source.write_text(BAD, encoding="utf-8")

    result = run_cli(
        ["contacts", "import", str(source), "-w", "Acme"], sqlite_url(db), cwd=tmp_path
    )

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    *problems, summary = result.stderr.strip().splitlines()
    pattern = re.compile(rf"{re.escape(str(source))}: row (\d+), ([^:]+): .+")
    matches = [pattern.fullmatch(line) for line in problems]
    assert all(matches), problems  # one line per problem, none wrapped
    assert [(int(m[1]), m[2]) for m in matches if m] == BAD_PROBLEMS
    assert problems[0].endswith("row 3, phone: '12': not a valid phone number")
    assert "is also on row 2 of this file" in problems[3]
    assert summary.startswith("error: ") and "nothing imported" in summary
    assert result.stdout == ""
    # Nothing written, not even the rows that were fine.
    assert query(db, "SELECT name FROM contacts") == [("Already here",)]
    assert query(db, "SELECT count(*) FROM contact_urns") == [(1,)]


def test_cli_export_then_import_into_a_fresh_workspace_gives_the_same_contacts(
    tmp_path: Path,
) -> None:
    db = tmp_path / "cli.db"
    ids = prepare(db, "Acme", "Fresh")
    assert import_in_process(db, ids["Acme"], GOOD).ok
    exported = tmp_path / "export.csv"

    export = run_cli(
        ["contacts", "export", str(exported), "-w", "Acme"], sqlite_url(db), cwd=tmp_path
    )

    assert export.returncode == 0, export.stderr
    assert f"exported 3 contacts to {exported}" in export.stderr
    original, _ = read_back(db, ids["Acme"])
    with exported.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["id"] for row in rows} == {c.id for c in original}
    ana = next(row for row in rows if row["name"] == "Ana Souza")
    assert ana["urns"].split(";") == [
        "tel:+5511999990000",
        "whatsapp:5511999990000",
        "mailto:ana@example.com",
    ]
    assert (ana["tags"], ana["field:city"], ana["field:vip"]) == ("a;b", "São Paulo", "true")

    reimport = run_cli(
        ["contacts", "import", str(exported), "-w", "Fresh"], sqlite_url(db), cwd=tmp_path
    )

    assert reimport.returncode == 0, reimport.stderr
    assert reimport.stdout.startswith("imported 3 rows: 3 created, 0 updated")
    copied, _ = read_back(db, ids["Fresh"])
    assert comparable(copied) == comparable(original)
    assert not {c.id for c in copied} & {c.id for c in original}


def test_cli_imports_2000_rows_in_one_go(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    ids = prepare(db, "Acme")
    source = tmp_path / "big.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "email", "tags"])
        for i in range(2000):
            writer.writerow([f"Person {i}", f"person{i}@example.com", f"bulk;group-{i % 7}"])

    result = run_cli(
        ["contacts", "import", str(source), "-w", "Acme"], sqlite_url(db), cwd=tmp_path
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("imported 2000 rows: 2000 created, 0 updated")
    assert query(db, "SELECT count(*) FROM contacts WHERE workspace_id = ?", ids["Acme"]) == [
        (2000,)
    ]
    # More addresses than one lookup chunk (500) holds, all checked and all written.
    assert query(db, "SELECT count(DISTINCT urn) FROM contact_urns") == [(2000,)]
    assert query(db, "SELECT count(*) FROM contact_tags WHERE tag = 'bulk'") == [(2000,)]
    assert query(db, "SELECT count(DISTINCT tag) FROM contact_tags") == [(8,)]


# --- through csv_io on the test database (SQLite or PostgreSQL) ----------------------------


@pytest.fixture
async def workspace_id(sessions: async_sessionmaker[AsyncSession]) -> str:
    async with sessions() as session, session.begin():
        created = await create_workspace(session, "Acme", T0)
        await define_fields(session, created.workspace.id)
    return created.workspace.id


async def run_import(
    sessions: async_sessionmaker[AsyncSession], workspace_id: str, text: str
) -> csv_io.ImportReport:
    """Import and commit whatever import_contacts wrote, so a refusal must write nothing."""
    async with sessions() as session, session.begin():
        return await csv_io.import_contacts(
            session, workspace_id, text, now=T0, default_region="US"
        )


async def test_import_creates_contacts_and_records_opt_ins(
    sessions: async_sessionmaker[AsyncSession], workspace_id: str
) -> None:
    report = await run_import(sessions, workspace_id, GOOD)

    assert report.ok, report.errors
    assert (report.rows, report.created, report.updated, report.consents) == (3, 3, 0, 2)
    async with sessions() as session:
        contacts = await contacts_of(session, workspace_id)
        events = await opt_ins(session, workspace_id)
    assert_good_contacts(contacts)
    assert_recorded_opt_ins(events, next(c.id for c in contacts if c.name == "Ana Souza"))


async def test_bad_rows_are_each_reported_and_nothing_is_written(
    sessions: async_sessionmaker[AsyncSession], workspace_id: str
) -> None:
    await run_import(sessions, workspace_id, "name,email\nAlready here,here@example.com\n")
    text = (
        BAD
        # Caught before writing, so the report names the row rather than failing half-way.
        + "Future,+14155550105,,,marketing,sms,text,v1,2026-04-01T00:00:00Z\n"
        + f"{'x' * 201},+14155550106,,,,,,,\n"
    )

    report = await run_import(sessions, workspace_id, text)

    assert not report.ok
    assert report.rows == 10
    assert [(e.row, e.column) for e in report.errors] == [
        *BAD_PROBLEMS,
        (10, "consented_at"),
        (11, "name"),
    ]
    assert str(report.errors[0]) == "row 3, phone: '12': not a valid phone number"
    assert "unknown topic 'newsletter'" in report.errors[1].message
    assert "Mars/Olympus" in report.errors[5].message
    assert (report.created, report.updated, report.consents) == (0, 0, 0)
    async with sessions() as session:
        assert [c.name for c in await contacts_of(session, workspace_id)] == ["Already here"]
        assert await opt_ins(session, workspace_id) == []


async def test_an_undefined_field_column_refuses_the_file(
    sessions: async_sessionmaker[AsyncSession], workspace_id: str
) -> None:
    text = "name,email,field:city,field:shoe_size\nAna,ana@example.com,Lisbon,38\n"

    report = await run_import(sessions, workspace_id, text)

    assert [(e.row, e.column) for e in report.errors] == [(1, "field:shoe_size")]
    assert "define the field first" in report.errors[0].message
    async with sessions() as session:
        assert await count_contacts(session, workspace_id) == 0


async def test_an_existing_address_updates_that_contact_and_merges(
    sessions: async_sessionmaker[AsyncSession], workspace_id: str
) -> None:
    async with sessions() as session, session.begin():
        existing = await service.create_contact(
            session,
            workspace_id,
            ContactIn(
                name="Ana",
                urns=["mailto:ana@example.com"],
                tags=["vip"],
                fields={"city": "Lisbon", "score": 3},
            ),
            now=T0,
            default_region="US",
        )
    text = "name,email,phone,tags,field:score\n,ana@example.com,+351 912 345 678,newsletter,9\n"

    report = await run_import(sessions, workspace_id, text)

    assert report.ok, report.errors
    assert (report.created, report.updated) == (0, 1)
    async with sessions() as session:
        (contact,) = await contacts_of(session, workspace_id)
    assert contact.id == existing.id
    assert contact.name == "Ana"  # an empty cell keeps what is known
    assert contact.urns == ["mailto:ana@example.com", "tel:+351912345678", "whatsapp:351912345678"]
    assert contact.tags == ["newsletter", "vip"]
    assert contact.fields == {"city": "Lisbon", "score": 9}


async def test_an_erased_address_is_refused(
    sessions: async_sessionmaker[AsyncSession], workspace_id: str
) -> None:
    async with sessions() as session, session.begin():
        gone = await service.create_contact(
            session,
            workspace_id,
            ContactIn(name="Gone", urns=["tel:+14155550199"]),
            now=T0,
            default_region="US",
        )
        await service.erase(session, workspace_id, gone.id, "erasure request", T0)
    text = "name,phone\nNew,+14155550150\nBack again,(415) 555-0199\n"

    report = await run_import(sessions, workspace_id, text)

    assert {(e.row, e.column) for e in report.errors} == {(3, "address")}
    assert all("was erased and is suppressed" in e.message for e in report.errors)
    async with sessions() as session:
        assert await count_contacts(session, workspace_id) == 0


async def test_bom_and_semicolon_separated_lists(
    sessions: async_sessionmaker[AsyncSession], workspace_id: str
) -> None:
    text = (
        "\ufeffname,urns,tags,interests\n"
        "Dana, whatsapp:+44 7911 123456 ; mailto:dana@example.com ,a; b ;;a,hiking;chess\n"
    )

    report = await run_import(sessions, workspace_id, text)

    assert report.ok, report.errors
    async with sessions() as session:
        (contact,) = await contacts_of(session, workspace_id)
    assert contact.name == "Dana"
    assert contact.urns == ["whatsapp:447911123456", "mailto:dana@example.com"]
    assert contact.tags == ["a", "b"]
    assert contact.interests == ["chess", "hiking"]


async def test_export_then_import_into_a_fresh_workspace_round_trips(
    sessions: async_sessionmaker[AsyncSession], workspace_id: str
) -> None:
    assert (await run_import(sessions, workspace_id, GOOD)).ok
    async with sessions() as session, session.begin():
        fresh = (await create_workspace(session, "Fresh", T0)).workspace.id
        await define_fields(session, fresh)
    out = io.StringIO()
    async with sessions() as session:
        assert await csv_io.export_contacts(session, workspace_id, out) == 3
        original = await contacts_of(session, workspace_id)

    report = await run_import(sessions, fresh, out.getvalue())

    assert report.ok, report.errors
    assert report.created == 3
    async with sessions() as session:
        assert comparable(await contacts_of(session, fresh)) == comparable(original)


async def test_export_defuses_spreadsheet_formulas_and_import_restores_them(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with transaction(sessions) as session:
        workspace = (await create_workspace(session, "Formulas", T0)).workspace
        await service.create_contact(
            session,
            workspace.id,
            ContactIn(name='=HYPERLINK("http://evil")', urns=["whatsapp:+5511988887777"]),
            now=T0,
            default_region="BR",
        )
    buffer = io.StringIO()
    async with sessions() as session:
        await csv_io.export_contacts(session, workspace.id, buffer)
    exported = buffer.getvalue()
    assert "'=HYPERLINK" in exported
    async with transaction(sessions) as session:
        other = (await create_workspace(session, "Formulas copy", T0)).workspace
        report = await csv_io.import_contacts(
            session, other.id, exported, now=T0, default_region="BR"
        )
    assert report.ok and report.created == 1
    async with sessions() as session:
        (contact,) = (await service.search(session, other.id))[0]
    assert contact.name == '=HYPERLINK("http://evil")'
