"""Schema migrations, driven from code (no alembic.ini needed)."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from threadline.config import normalise_database_url
from threadline.kit.db import make_engine


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("threadline") / "migrations"))
    config.set_main_option("sqlalchemy.url", normalise_database_url(database_url))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate to `revision`. Safe to call from inside a running event loop's thread pool."""
    command.upgrade(alembic_config(database_url), revision)


def _current_heads(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


async def is_up_to_date(database_url: str) -> bool:
    config = alembic_config(database_url)
    heads = set(ScriptDirectory.from_config(config).get_heads())
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            current = await connection.run_sync(_current_heads)
    finally:
        await engine.dispose()
    return current == heads
