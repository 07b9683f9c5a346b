"""Migrations and models agree; the schema can be built, rebuilt and checked."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, String
from sqlalchemy.engine import Connection

from threadline.kit.db import make_engine
from threadline.kit.migrate import alembic_config, is_up_to_date, upgrade
from threadline.models import Base

VERSIONS = resources.files("threadline") / "migrations" / "versions"


def _diff(connection: Connection, metadata: MetaData) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def schema_diff(database_url: str, metadata: MetaData) -> list[Any]:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_diff, metadata)
    finally:
        await engine.dispose()


def sqlite_tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows}


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    diff = await schema_diff(database_url, Base.metadata)

    assert diff == [], "models and migrations differ; write a migration:\n" + "\n".join(
        map(str, diff)
    )


async def test_the_schema_comparison_notices_drift(database_url: str) -> None:
    drifted = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["contacts"].append_column(Column("nickname", String(50), nullable=True))

    diff = await schema_diff(database_url, drifted)

    assert [(op[0], op[2], op[3].name) for op in diff] == [("add_column", "contacts", "nickname")]


async def test_is_up_to_date_after_upgrade_and_not_on_an_empty_file(
    database_url: str, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()

    assert await is_up_to_date(database_url) is True
    assert await is_up_to_date(f"sqlite:///{empty}") is False


def test_every_table_is_scoped_to_a_workspace() -> None:
    tables = Base.metadata.sorted_tables
    assert len(tables) >= 10
    unscoped = [t.name for t in tables if "workspace_id" not in t.c]
    assert unscoped == []
    nullable = [t.name for t in tables if t.c.workspace_id.nullable]
    assert nullable == []


def test_migration_files_are_named_by_date_and_form_one_line() -> None:
    names = sorted(
        entry.name
        for entry in VERSIONS.iterdir()
        if entry.name.endswith(".py") and entry.name != "__init__.py"
    )
    assert names, "no migration files found"
    for name in names:
        match = re.match(r"(\d{8})_", name)
        assert match, f"{name} must start with YYYYMMDD_"
        datetime.strptime(match[1], "%Y%m%d")  # a real date, not just eight digits
    script = ScriptDirectory.from_config(alembic_config("sqlite:///unused.db"))
    assert len(script.get_heads()) == 1, "migrations branch: merge them into one head"


def test_downgrade_to_base_then_upgrade_to_head(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    url = f"sqlite:///{db}"
    expected = set(Base.metadata.tables) | {"alembic_version"}

    upgrade(url)
    assert sqlite_tables(db) == expected
    command.downgrade(alembic_config(url), "base")
    assert sqlite_tables(db) == {"alembic_version"}
    assert asyncio.run(is_up_to_date(url)) is False
    upgrade(url)

    assert sqlite_tables(db) == expected
    assert asyncio.run(is_up_to_date(url)) is True
