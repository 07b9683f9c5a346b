"""A broadcast at 10:00 in each recipient's own time zone: its fan-out starts when the
first zone on Earth reaches 10:00 and each message waits for the person's morning — across
the US DST change of 2026-03-08 (New York is on EDT, UTC-4, by the 11th)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.broadcasts.population import populate, text_broadcast
from tests.conftest import Tenant
from threadline.broadcasts.runner import BroadcastWorker
from threadline.kit.clock import FrozenClock
from threadline.messages.models import Message

pytestmark = pytest.mark.db
LOCAL_10AM = {"kind": "local_time", "date": "2026-03-11", "local_time": "10:00"}


async def test_each_person_gets_it_at_ten_where_they_are(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession], clock: FrozenClock
) -> None:
    ids = await populate(tenant, sessions)
    r = await tenant.client.post("/api/v1/broadcasts", json=text_broadcast(schedule=LOCAL_10AM))
    assert r.status_code == 201, r.text
    broadcast_id = r.json()["id"]
    r = await tenant.client.post(f"/api/v1/broadcasts/{broadcast_id}/send")
    # 10:00 on the 11th at UTC+14 is 20:00 UTC on the 10th.
    assert r.json()["next_run_at"].startswith("2026-03-10T20:00:00")
    worker = BroadcastWorker(sessions, clock)
    await worker.run_once()
    async with sessions() as session:
        assert await session.scalar(select(Message.id)) is None  # not yet: 15:00 UTC

    clock.set(datetime(2026, 3, 10, 20, 0, tzinfo=UTC))
    await worker.run_once()
    async with sessions() as session:
        due = dict(
            (await session.execute(
                select(Message.contact_id, Message.next_attempt_at).where(
                    Message.campaign_id == broadcast_id, Message.status == "deferred"
                )
            )).all()
        )  # fmt: skip
    new_york = datetime(2026, 3, 11, 14, 0, tzinfo=UTC)  # 10:00 EDT
    honolulu = datetime(2026, 3, 11, 20, 0, tzinfo=UTC)  # 10:00 HST, no DST there
    assert due[ids["allowed_1"]] == new_york and due[ids["allowed_2"]] == new_york
    assert due[ids["quiet_hours"]] == honolulu  # decided at 10:00 their time: no quiet hours
    # The capped person's last offer (13:00 UTC on the 10th) is over 24 h old by their 10:00:
    # caps are counted at the moment of sending, not of the fan-out.
    assert due[ids["capped"]] == new_york
    assert len(due) == 5


async def test_a_local_time_already_begun_somewhere_is_refused(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await populate(tenant, sessions)
    today = {**LOCAL_10AM, "date": "2026-03-10"}  # already past 10:00 in Kiritimati
    r = await tenant.client.post("/api/v1/broadcasts", json=text_broadcast(schedule=today))
    r = await tenant.client.post(f"/api/v1/broadcasts/{r.json()['id']}/send")
    assert r.status_code == 422
    assert r.json()["where"] == "schedule.date" and "UTC+14" in r.json()["message"]
