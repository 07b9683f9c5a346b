"""The workspace scope: what a Scope builds sees only its own workspace's rows, and no module
but kit/scoped.py writes the workspace filter by hand, so no query can forget it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import T0, contact_row
from threadline.contacts import repository
from threadline.contacts.models import Contact, ContactTag
from threadline.kit.errors import NotFound
from threadline.kit.scoped import Scope, workspace_column
from threadline.models import Base
from threadline.workspaces.service import create_workspace

SRC = Path(__file__).resolve().parents[2] / "src" / "threadline"
HAND_FILTER = re.compile(r"workspace_id\s*[!=]=")


def test_no_module_writes_the_workspace_filter_by_hand() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{number}: {line.strip()}"
        for path in sorted(SRC.rglob("*.py"))
        if path.name != "scoped.py" and "migrations" not in path.parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if HAND_FILTER.search(line)
    ]
    assert offenders == [], "query through threadline.kit.scoped.Scope instead"


async def two_workspaces_with_ana(session: AsyncSession) -> tuple[str, str, Contact, Contact]:
    a = (await create_workspace(session, "A", T0)).workspace.id
    b = (await create_workspace(session, "B", T0)).workspace.id
    ana = {}
    for ws in (a, b):
        contact = contact_row(ws, "Ana")
        session.add(contact)
        await session.flush()
        await repository.set_tags(session, contact, ["vip", f"only-{ws}"])
        ana[ws] = contact
    return a, b, ana[a], ana[b]


async def test_a_scope_selects_counts_and_deletes_only_in_its_workspace(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        a, b, ana_a, ana_b = await two_workspaces_with_ana(session)
        scope = Scope(session, a)
        named = scope.select(Contact).where(Contact.name == "Ana")
        assert [c.id for c in await session.scalars(named)] == [ana_a.id]
        counted = scope.columns(ContactTag, func.count()).where(ContactTag.tag == "vip")
        assert await session.scalar(counted) == 1
        await session.execute(scope.delete(ContactTag).where(ContactTag.tag == "vip"))
        assert await repository.tags_of(session, ana_a) == [f"only-{a}"]
        assert await repository.tags_of(session, ana_b) == [f"only-{b}", "vip"]


async def test_another_workspaces_row_does_not_exist_here(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        a, _, ana_a, ana_b = await two_workspaces_with_ana(session)
        scope = Scope(session, a)
        assert await scope.get(Contact, ana_a.id) is ana_a
        assert await scope.get(Contact, ana_b.id) is None
        with pytest.raises(NotFound, match=f"no contact {ana_b.id} in this workspace"):
            await scope.one(Contact, ana_b.id, "contact")


async def test_keyed_finds_many_rows_by_a_column_only_in_its_workspace(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        a, _, ana_a, ana_b = await two_workspaces_with_ana(session)
        found = await Scope(session, a).keyed(Contact, Contact.id, [ana_a.id, ana_b.id, "con_x"])
        assert found == {ana_a.id: ana_a}
        assert await Scope(session, a).keyed(Contact, Contact.id, []) == {}


def test_every_table_can_be_scoped() -> None:
    """Every mapped table carries workspace_id (the workspace row too), so every query has a
    scope to start from."""
    unscoped = [m.class_.__name__ for m in Base.registry.mappers if "workspace_id" not in m.columns]
    assert unscoped == []


def test_a_class_without_a_workspace_cannot_be_scoped() -> None:
    class Loose(Base):
        __abstract__ = True

    with pytest.raises(TypeError, match="Loose has no workspace_id"):
        workspace_column(Loose)


async def test_change_tags_adds_and_removes_and_keeps_the_rest(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        a, _, ana_a, _ = await two_workspaces_with_ana(session)
        now = await repository.change_tags(session, ana_a, add=["new", "vip"], remove=["gone"])
        assert now == sorted(["new", "vip", f"only-{a}"])
        assert await repository.tags_of(session, ana_a) == now
