"""`threadline segments count` as a user runs it: the total, reachability and the breakdown
by reason; a bad query exits non-zero with one readable line."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.conftest import T0, contact_row
from tests.test_cli import assert_one_error_line, migrated_db, run_cli, sqlite_url
from threadline.contacts.models import ContactTag, ContactURN
from threadline.kit.db import make_engine, make_sessionmaker, transaction
from threadline.kit.ids import new_id

pytestmark = pytest.mark.db


def seed(db: Path, workspace_id: str, phones: list[str]) -> None:
    async def work() -> None:
        engine = make_engine(sqlite_url(db))
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                for phone in phones:
                    contact = contact_row(workspace_id, name=phone)
                    session.add(contact)
                    await session.flush()
                    session.add_all(
                        [
                            ContactURN(
                                id=new_id("urn"),
                                workspace_id=workspace_id,
                                contact_id=contact.id,
                                scheme="tel",
                                urn=f"tel:{phone}",
                                created_at=T0,
                            ),
                            ContactTag(
                                id=new_id("tag"),
                                workspace_id=workspace_id,
                                contact_id=contact.id,
                                tag="spring",
                            ),
                        ]
                    )
        finally:
            await engine.dispose()

    asyncio.run(work())


def test_count_prints_the_total_and_why_people_would_not_be_sent_to(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    workspace_id = migrated_db(db, "Acme")["Acme"]
    sid = ["--account-sid", "AC" + "ab" * 16, "--auth-token", "t"]
    added = run_cli(
        ["channels", "add", "sms", "-w", "Acme", "--from", "+14155550100", *sid],
        sqlite_url(db),
        cwd=tmp_path,
    )
    assert added.returncode == 0, added.stderr
    seed(db, workspace_id, ["+12125550101", "+12125550102"])
    args = ["segments", "count", 'tag("spring") and has(sms)', "-w", "Acme", "--channel", "sms"]
    result = run_cli([*args, "--json"], sqlite_url(db), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert (found["total"], found["reachable"]["sms"]) == (2, 2)
    assert found["suppressed"] == {"no_consent": 2}  # nobody opted in to texts
    table = run_cli(args, sqlite_url(db), cwd=tmp_path)
    assert "2 contacts match" in table.stdout and "no_consent" in table.stdout

    bad = run_cli(["segments", "count", "tag(spring)", "-w", "Acme"], sqlite_url(db), cwd=tmp_path)
    assert_one_error_line(bad, "column", 'tag("spring")')
