"""A broadcast's life as a marketer drives it: paused (by a person or a guardrail) its
unsent messages are held and the dispatcher leaves them; resumed they go again; cancelled
they are withdrawn, kept in the history; moves that make no sense are refused with 409."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.broadcasts.population import populate, text_broadcast
from tests.conftest import Tenant
from threadline.broadcasts.runner import BroadcastWorker
from threadline.kit.clock import FrozenClock
from threadline.messages.models import Message

pytestmark = pytest.mark.db


async def sent_out(
    tenant: Tenant,
    sessions: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
    **extra: Any,
) -> tuple[str, BroadcastWorker]:
    """A broadcast to the population, sent and fanned out."""
    r = await tenant.client.post("/api/v1/broadcasts", json=text_broadcast(**extra))
    assert r.status_code == 201, r.text
    broadcast_id = str(r.json()["id"])
    assert (await tenant.client.post(f"/api/v1/broadcasts/{broadcast_id}/send")).is_success
    worker = BroadcastWorker(sessions, clock)
    await worker.run_once()
    return broadcast_id, worker


async def states(sessions: async_sessionmaker[AsyncSession], broadcast_id: str) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Message.status).where(Message.campaign_id == broadcast_id)
        )
        return sorted(rows)


async def test_pause_holds_resume_releases_and_cancel_withdraws(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession], clock: FrozenClock
) -> None:
    await populate(tenant, sessions)
    broadcast_id, _worker = await sent_out(tenant, sessions, clock)
    base = f"/api/v1/broadcasts/{broadcast_id}"
    assert (await states(sessions, broadcast_id)).count("queued") == 3

    r = await tenant.client.post(f"{base}/pause", json={"reason": "checking the price"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["pause_reason"]) == ("paused", "checking the price")
    held = await states(sessions, broadcast_id)
    assert held.count("held") == 4 and "queued" not in held  # three queued, one deferred
    assert (await tenant.client.post(f"{base}/pause")).status_code == 409

    r = await tenant.client.post(f"{base}/resume")
    assert r.status_code == 200 and r.json()["status"] == "sending"
    assert r.json()["pause_reason"] is None
    assert (await states(sessions, broadcast_id)).count("deferred") == 4

    r = await tenant.client.post(f"{base}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    after = await states(sessions, broadcast_id)
    assert after.count("failed") == 4 and "deferred" not in after
    async with sessions() as session:
        details = set(
            await session.scalars(
                select(Message.error_detail).where(
                    Message.campaign_id == broadcast_id, Message.status == "failed"
                )
            )
        )
    assert details == {"withdrawn: the broadcast was cancelled"}
    r = await tenant.client.post(f"{base}/cancel")
    assert r.status_code == 409 and "cancelled" in r.json()["message"]


async def test_a_draft_can_be_edited_and_deleted_a_sent_one_cannot(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession], clock: FrozenClock
) -> None:
    await populate(tenant, sessions)
    r = await tenant.client.post("/api/v1/broadcasts", json=text_broadcast())
    draft = f"/api/v1/broadcasts/{r.json()['id']}"
    r = await tenant.client.put(draft, json=text_broadcast(name="Spring sale, take two"))
    assert r.status_code == 200 and r.json()["name"] == "Spring sale, take two"
    assert (await tenant.client.post(f"{draft}/pause")).status_code == 409
    assert (await tenant.client.delete(draft)).status_code == 204
    assert (await tenant.client.get(draft)).status_code == 404

    broadcast_id, _worker = await sent_out(tenant, sessions, clock)
    sent = f"/api/v1/broadcasts/{broadcast_id}"
    r = await tenant.client.put(sent, json=text_broadcast())
    assert r.status_code == 422 and "unschedule" in r.json()["message"]
    assert (await tenant.client.delete(sent)).status_code == 422


async def test_a_guardrail_pauses_the_broadcast_and_says_why(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession], clock: FrozenClock
) -> None:
    rails = {"min_sample": 3, "max_failure_rate": 0.2}
    await populate(tenant, sessions)
    broadcast_id, worker = await sent_out(tenant, sessions, clock, guardrails=rails)
    async with sessions() as session, session.begin():
        queued = list(
            await session.scalars(
                select(Message.id).where(
                    Message.campaign_id == broadcast_id, Message.status == "queued"
                )
            )
        )
        # What the platform reported for the three sent: two delivered, one bounced.
        for message_id, status in zip(queued, ("delivered", "delivered", "failed"), strict=True):
            await session.execute(
                update(Message)
                .where(Message.id == message_id)
                .values(status=status, error_class="undeliverable" if status == "failed" else None)
            )
    clock.advance(timedelta(seconds=10))  # past the guardrails' reading interval
    await worker.run_once()
    shown = (await tenant.client.get(f"/api/v1/broadcasts/{broadcast_id}")).json()
    assert shown["status"] == "paused"
    assert shown["pause_reason"].startswith("guardrail: failure rate 33.3%")
    assert "1 of 3 sent" in shown["pause_reason"] and "20.0%" in shown["pause_reason"]
    assert shown["progress"]["by_state"]["held"] == 1  # Honolulu's, waiting for morning


async def test_within_its_guardrails_a_broadcast_completes_once_everyone_is_settled(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession], clock: FrozenClock
) -> None:
    await populate(tenant, sessions)
    broadcast_id, worker = await sent_out(tenant, sessions, clock)
    async with sessions() as session, session.begin():
        await session.execute(
            update(Message)
            .where(Message.campaign_id == broadcast_id, Message.status.in_(("queued", "deferred")))
            .values(status="delivered")
        )
    clock.advance(timedelta(seconds=10))
    await worker.run_once()
    shown = (await tenant.client.get(f"/api/v1/broadcasts/{broadcast_id}")).json()
    assert shown["status"] == "completed"
    assert shown["progress"]["delivered"] == 4 and shown["progress"]["queued"] == 0
