"""The fan-out records every member of the audience — queued, deferred, refused with the
policy's reason, or unreached — and its counts are the estimate's, reason by reason."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.broadcasts.population import SMS_PRICE, populate, text_broadcast
from tests.conftest import Tenant
from threadline.broadcasts.runner import BroadcastWorker
from threadline.kit.clock import FrozenClock
from threadline.messages.models import Message

pytestmark = pytest.mark.db


async def recorded(sessions: async_sessionmaker[AsyncSession], broadcast_id: str) -> Counter[str]:
    """The outbox's own account of the broadcast: allowed, or the reason of each row."""
    async with sessions() as session:
        rows = await session.execute(
            select(Message.status, Message.reason).where(Message.campaign_id == broadcast_id)
        )
        found: Counter[str] = Counter()
        for status, reason in rows.all():
            if status == "queued":
                found["allowed"] += 1
            elif status == "deferred":
                found[f"deferred:{reason}"] += 1
            else:
                found[reason or status] += 1
        return found


async def test_the_estimate_is_what_the_fan_out_records_reason_by_reason(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession], clock: FrozenClock
) -> None:
    await populate(tenant, sessions)
    r = await tenant.client.post("/api/v1/broadcasts", json=text_broadcast())
    assert r.status_code == 201, r.text
    broadcast_id = r.json()["id"]
    assert r.json()["status"] == "draft"

    r = await tenant.client.post(f"/api/v1/broadcasts/{broadcast_id}/estimate")
    assert r.status_code == 200, r.text
    estimate = r.json()
    assert estimate["total"] == 10  # the outsider has another tag
    assert estimate["eligible"] == 3 and estimate["eligible_by_channel"] == {"sms": 3}
    assert estimate["suppressed"] == {
        "no_consent": 1,
        "opted_out": 1,
        "deferred:quiet_hours": 1,
        "frequency_cap": 1,
        "holdout": 1,
        "no_address": 1,
        "missing_value": 1,
    }
    assert Decimal(estimate["estimated_cost"]) == 3 * Decimal(SMS_PRICE)

    r = await tenant.client.post(f"/api/v1/broadcasts/{broadcast_id}/send")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "scheduled"
    await BroadcastWorker(sessions, clock).run_once()

    unreached = {"no_address": 1, "missing_value": 1}
    expected = Counter({"allowed": 3, **estimate["suppressed"]}) - Counter(unreached)
    assert await recorded(sessions, broadcast_id) == expected
    progress = (await tenant.client.get(f"/api/v1/broadcasts/{broadcast_id}")).json()["progress"]
    assert progress["audience"] == 10 and progress["planned"] == 10
    assert progress["queued"] == 4  # three allowed, one deferred to Honolulu's morning
    assert progress["deferred_by_reason"] == {"quiet_hours": 1}
    refused = {k: v for k, v in estimate["suppressed"].items() if not k.startswith("deferred")}
    assert progress["suppressed_by_reason"] == refused
