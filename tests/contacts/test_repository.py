"""The shared contact queries with a batch's hold: what a hold answers is what the
database says, also after the block itself changes tags, addresses or events."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import T0, contact_row
from threadline.contacts import repository
from threadline.contacts.events import ingest
from threadline.contacts.models import ContactEvent
from threadline.contacts.schemas import EventIn, EventKind
from threadline.contacts.service import add_urn
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope
from threadline.workspaces.service import create_workspace


def event_row(workspace_id: str, contact_id: str, n: int) -> ContactEvent:
    return ContactEvent(
        id=new_id("evt"),
        workspace_id=workspace_id,
        contact_id=contact_id,
        kind="custom",
        name=f"visit{n}",
        properties={},
        idempotency_key=f"visit-{contact_id}-{n}",
        occurred_at=T0 - timedelta(hours=n),
        created_at=T0,
    )


async def test_held_tags_addresses_and_events_follow_the_writes_of_the_block(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        ws = (await create_workspace(session, "Shop", T0)).workspace.id
        ana = contact_row(ws, "Ana")
        session.add(ana)
        session.add_all(event_row(ws, ana.id, n) for n in range(3))
        await session.flush()
        since = T0 - timedelta(days=1)
        async with repository.holding(session, ws, [ana.id], tags_and_events_since=since):
            assert await repository.tags_of(session, ana) == []
            await repository.change_tags(session, ana, add=["vip"])
            assert await repository.tags_of(session, ana) == ["vip"]

            await add_urn(
                session, ws, ana.id, "whatsapp:5511900000001", now=T0, default_region=None
            )
            assert await repository.urns_of(session, ws, ana.id) == ["whatsapp:5511900000001"]

            seen = await repository.recent_events_of(session, ws, ana.id, since)
            assert [name for _, name, _ in seen] == ["visit0", "visit1", "visit2"]
            await ingest(
                session,
                ws,
                EventIn(
                    idempotency_key="csat-1",
                    kind=EventKind.CUSTOM,
                    contact_id=ana.id,
                    name="csat",
                    value=5,
                    occurred_at=T0,
                ),
                now=T0,
                default_region=None,
            )
            await session.flush()
            seen = await repository.recent_events_of(session, ws, ana.id, since)
            assert {name for _, name, _ in seen} == {"csat", "visit0", "visit1", "visit2"}


async def test_recent_events_keep_the_newest_fifty_per_contact_within_the_window(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        ws = (await create_workspace(session, "Shop", T0)).workspace.id
        ana, bo = contact_row(ws, "Ana"), contact_row(ws, "Bo")
        session.add_all([ana, bo])
        session.add_all(event_row(ws, ana.id, n) for n in range(60))
        session.add(event_row(ws, bo.id, 1))
        await session.flush()
        scope_events = await repository.recent_events_by_contact(
            Scope(session, ws), [ana.id, bo.id], T0 - timedelta(hours=55)
        )
    assert len(scope_events[ana.id]) == 50
    assert scope_events[ana.id][0][1] == "visit0"  # newest first
    assert scope_events[ana.id][-1][1] == "visit49"
    assert [name for _, name, _ in scope_events[bo.id]] == ["visit1"]
