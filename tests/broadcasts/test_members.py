"""An occurrence's audience is written down once, when it starts (`broadcast_members`): the
fan-out pages through that list, a restarted fan-out reads the same list (someone who joins
the segment afterwards is not added, no one is planned twice), each batch deletes the
members it planned, and a cancel deletes the rest."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.broadcasts.population import populate, text_broadcast
from tests.broadcasts.test_fanout import recorded
from tests.conftest import Tenant
from threadline.broadcasts import fanout
from threadline.broadcasts.models import Broadcast, BroadcastMember
from threadline.broadcasts.runner import BroadcastWorker
from threadline.kit.clock import FrozenClock
from threadline.messages.models import Message

pytestmark = pytest.mark.db


async def listed(sessions: async_sessionmaker[AsyncSession], broadcast_id: str) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(BroadcastMember)
            .where(BroadcastMember.broadcast_id == broadcast_id)
        )
    return int(count or 0)


async def started(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession], clock: FrozenClock
) -> str:
    """A broadcast to the population, sent and begun (its list written), not fanned out."""
    r = await tenant.client.post("/api/v1/broadcasts", json=text_broadcast())
    assert r.status_code == 201, r.text
    broadcast_id = str(r.json()["id"])
    assert (await tenant.client.post(f"/api/v1/broadcasts/{broadcast_id}/send")).is_success
    assert await BroadcastWorker(sessions, clock).start_due() == 1
    return broadcast_id


async def test_a_restarted_fan_out_reads_the_list_written_at_the_start(
    tenant: Tenant,
    sessions: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await populate(tenant, sessions)
    monkeypatch.setattr(fanout, "BATCH", 4)
    broadcast_id = await started(tenant, sessions, clock)
    assert await listed(sessions, broadcast_id) == 10  # the whole audience, once

    assert await BroadcastWorker(sessions, clock).fan_out(broadcast_id, max_batches=1) == 4
    assert await listed(sessions, broadcast_id) == 6  # the planned batch's rows are gone

    # Joins the segment after the start: not in this occurrence's list.
    r = await tenant.client.post(
        "/api/v1/contacts",
        json={"name": "Late", "urns": ["tel:+12125550199"], "tags": ["spring"]},
    )
    assert r.status_code == 201, r.text
    late = r.json()["id"]

    # Another process (fresh planners, nothing in memory) takes over and finishes.
    assert await BroadcastWorker(sessions, clock).fan_out(broadcast_id) == 6
    assert await listed(sessions, broadcast_id) == 0
    async with sessions() as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None and broadcast.fanned_out_at is not None
        assert sum((broadcast.tally or {}).values()) == broadcast.audience_total == 10
        contacts = list(
            await session.scalars(
                select(Message.contact_id).where(Message.campaign_id == broadcast_id)
            )
        )
    assert late not in contacts
    assert len(contacts) == len(set(contacts)) == 8  # two are unreached: no row
    assert await recorded(sessions, broadcast_id) == Counter(
        {"allowed": 3, "no_consent": 1, "opted_out": 1, "deferred:quiet_hours": 1,
         "frequency_cap": 1, "holdout": 1}
    )  # fmt: skip


async def test_a_cancel_deletes_the_rest_of_the_list(
    tenant: Tenant,
    sessions: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await populate(tenant, sessions)
    monkeypatch.setattr(fanout, "BATCH", 4)
    broadcast_id = await started(tenant, sessions, clock)
    assert await BroadcastWorker(sessions, clock).fan_out(broadcast_id, max_batches=1) == 4
    assert await listed(sessions, broadcast_id) == 6

    r = await tenant.client.post(f"/api/v1/broadcasts/{broadcast_id}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert await listed(sessions, broadcast_id) == 0
    assert await BroadcastWorker(sessions, clock).fan_out(broadcast_id) == 0


async def test_the_estimate_writes_no_list(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await populate(tenant, sessions)
    r = await tenant.client.post("/api/v1/broadcasts", json=text_broadcast())
    broadcast_id = r.json()["id"]
    r = await tenant.client.post(f"/api/v1/broadcasts/{broadcast_id}/estimate")
    assert r.status_code == 200 and r.json()["total"] == 10
    assert await listed(sessions, broadcast_id) == 0
