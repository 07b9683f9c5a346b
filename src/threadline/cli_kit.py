"""What every `threadline` command shares: one readable error line, and running one unit
of work in a transaction. Commands of the domains import this, not `threadline.cli` (which
mounts everything, the emulator included)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from threadline.config import Settings
from threadline.kit.db import make_engine, make_sessionmaker, transaction
from threadline.kit.errors import ThreadlineError
from threadline.kit.logs import redact

# soft_wrap: an error stays one line (no wrapping at the 80 columns assumed without a terminal).
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


def settings() -> Settings:
    return Settings.from_env()


def fail(message: str, code: int = 1) -> typer.Exit:
    # Escaped: a message quotes user input and '[redacted]', which rich would read as markup.
    err.print(f"[bold red]error:[/] {escape(redact(message))}", highlight=False)
    return typer.Exit(code)


def run(work: Callable[[AsyncSession], Awaitable[T]], settings: Settings) -> T:
    """Run one unit of work in a transaction: all of it is written, or none."""

    async def in_transaction(sessions: async_sessionmaker[AsyncSession]) -> T:
        async with transaction(sessions) as session:
            return await work(session)

    return run_sessions(in_transaction, settings)


def run_sessions(
    work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]], settings: Settings
) -> T:
    """Run work that commits as it goes (a fan-out, a batch per transaction)."""

    async def main() -> T:
        engine = make_engine(settings.database_url)
        try:
            return await work(make_sessionmaker(engine))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except ThreadlineError as exc:
        where = f" ({exc.where})" if exc.where else ""
        raise fail(f"{exc.message}{where}") from None
