"""Shared fixtures: a migrated database (SQLite by default, PostgreSQL when
THREADLINE_TEST_DATABASE_URL points at one), a frozen clock, the app and API clients.

Every test gets an empty database: tables are emptied after each test, never shared."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from threadline.app import create_app
from threadline.channels.models import ChannelAccount
from threadline.config import Settings, normalise_database_url
from threadline.contacts.models import Contact
from threadline.kit.clock import FrozenClock
from threadline.kit.db import make_engine, make_sessionmaker
from threadline.kit.ids import new_id
from threadline.kit.migrate import upgrade
from threadline.models import Base
from threadline.workspaces.models import Workspace
from threadline.workspaces.service import create_workspace

SHARED = Path(__file__).resolve().parents[2] / "shared"
# A Tuesday afternoon in UTC, inside sending hours for Europe and the Americas.
T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


async def _admin(url: str, statement: str) -> None:
    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database migrated to head, for the whole test session."""
    server = os.environ.get("THREADLINE_TEST_DATABASE_URL")
    if not server:
        path = tmp_path_factory.mktemp("db") / "threadline-test.db"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade(url)
        yield url
        return
    server = normalise_database_url(server)
    name = f"threadline_test_{uuid.uuid4().hex[:10]}"
    base, _, _ = server.rpartition("/")
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    url = f"{base}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _empty_tables(engine: AsyncEngine) -> None:
    # Children first. DELETE beats TRUNCATE on PostgreSQL for tables this small (~8 ms vs
    # ~280 ms per test).
    async with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(table.delete())


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        await _empty_tables(engine)
        await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@dataclass
class Tenant:
    workspace: Workspace
    api_key: str
    client: httpx.AsyncClient

    @property
    def id(self) -> str:
        return self.workspace.id


@pytest.fixture
async def app_client(
    settings: Settings, clock: FrozenClock, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the app, without credentials."""
    app = create_app(settings, clock)
    transport = httpx.ASGITransport(app=app)
    # ASGITransport does not run the lifespan, so the app's own engine is closed here.
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://threadline.test") as client,
    ):
        yield client


async def make_tenant(
    sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient, name: str
) -> Tenant:
    async with sessions() as session, session.begin():
        created = await create_workspace(session, name, T0)
    authed = httpx.AsyncClient(
        transport=client._transport,
        base_url=client.base_url,
        headers={"Authorization": f"Bearer {created.api_key}"},
    )
    return Tenant(workspace=created.workspace, api_key=created.api_key, client=authed)


@pytest.fixture
async def tenant(
    sessions: async_sessionmaker[AsyncSession], app_client: httpx.AsyncClient
) -> AsyncIterator[Tenant]:
    """Workspace A with an authenticated client."""
    t = await make_tenant(sessions, app_client, "Workspace A")
    yield t
    await t.client.aclose()


@pytest.fixture
async def other_tenant(
    sessions: async_sessionmaker[AsyncSession], app_client: httpx.AsyncClient
) -> AsyncIterator[Tenant]:
    """Workspace B, to prove A and B never see each other's data."""
    t = await make_tenant(sessions, app_client, "Workspace B")
    yield t
    await t.client.aclose()


def shared_fixtures(channel: str) -> Path:
    """Captured platform payloads in ../shared/fixtures/<channel>, or skip visibly."""
    folder = SHARED / "fixtures" / channel
    if not folder.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"../shared/fixtures/{channel} is missing; CI must run beside ../shared")
        pytest.skip(f"../shared/fixtures/{channel} is not present beside the checkout")
    return folder


def contact_row(workspace_id: str, name: str = "") -> Contact:
    """A bare contact row, for tests that hang rows on one without the API's checks."""
    return Contact(
        id=new_id("con"),
        workspace_id=workspace_id,
        name=name,
        fields={},
        interests=[],
        holdout_bucket=1,
        created_at=T0,
        updated_at=T0,
    )


def channel_row(workspace_id: str) -> ChannelAccount:
    """A bare channel row for tests that need one to hang messages on (never contacted)."""
    return ChannelAccount(
        id=new_id("chn"),
        workspace_id=workspace_id,
        kind="whatsapp",
        name="Main",
        address=new_id("pn"),
        account_id="waba-1",
        base_url="http://graph.test",
        api_version="v21.0",
        secrets="sealed",
        created_at=T0,
        updated_at=T0,
    )
