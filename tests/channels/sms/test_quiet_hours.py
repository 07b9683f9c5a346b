"""Marketing texts wait for sending hours in the recipient's own zone (from the number's area
code), under the stricter hours of states that set them, across a daylight-saving change."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.conftest import Tenant
from threadline.kit.clock import FrozenClock

pytestmark = pytest.mark.db

MIAMI = "+13055550123"  # Florida: 8 a.m. to 8 p.m. (FTSA)
NEW_YORK = "+12125550123"  # the TCPA's 8 a.m. to 9 p.m.
# Saturday 2026-03-07, 20:30 EST. Clocks in both cities go forward at 02:00 on the 8th.
SATURDAY_EVENING = datetime(2026, 3, 8, 1, 30, tzinfo=UTC)


async def texter(tenant: Tenant, phone: str) -> tuple[str, str]:
    """A contact with a number and marketing consent for texts, and an SMS channel."""
    r = await tenant.client.post("/api/v1/contacts", json={"name": "Sam", "urns": [f"tel:{phone}"]})
    assert r.status_code == 201, r.text
    contact_id: str = r.json()["id"]
    r = await tenant.client.post(
        f"/api/v1/contacts/{contact_id}/consent",
        json={
            "action": "grant",
            "channel": "sms",
            "topic": "marketing",
            "source": "widget",
            "disclosure": {"text": "Offers by text", "version": "1"},
        },
    )
    assert r.status_code == 201, r.text
    channels = (await tenant.client.get("/api/v1/channels")).json()
    if not channels:
        r = await tenant.client.post(
            "/api/v1/channels/sms",
            json={
                "from": "+14155550100",
                "account_sid": "AC" + "ab" * 16,
                "auth_token": "token",
            },
        )
        assert r.status_code == 201, r.text
        channels = [r.json()]
    return contact_id, channels[0]["id"]


async def offer(tenant: Tenant, contact_id: str, channel_id: str) -> dict[str, object]:
    r = await tenant.client.post(
        "/api/v1/messages",
        json={
            "contact_id": contact_id,
            "channel_id": channel_id,
            "purpose": "marketing",
            "content": {"type": "text", "body": "Weekend sale: 20% off"},
        },
    )
    assert r.status_code == 201, r.text
    answer: dict[str, object] = r.json()
    return answer


async def test_a_florida_number_waits_until_8am_local_after_the_clocks_change(
    tenant: Tenant, clock: FrozenClock
) -> None:
    clock.set(SATURDAY_EVENING)
    contact_id, channel_id = await texter(tenant, MIAMI)
    answer = await offer(tenant, contact_id, channel_id)
    assert (answer["status"], answer["reason"]) == ("deferred", "quiet_hours")
    # 08:00 EDT (UTC-4) on Sunday: 12:00 UTC, not the 13:00 that EST's offset would give.
    assert answer["next_attempt_at"] == "2026-03-08T12:00:00Z"
    assert "America/New_York" in str(answer["detail"])


async def test_new_york_may_still_be_written_to_at_half_past_eight(
    tenant: Tenant, clock: FrozenClock
) -> None:
    clock.set(SATURDAY_EVENING)
    contact_id, channel_id = await texter(tenant, NEW_YORK)
    answer = await offer(tenant, contact_id, channel_id)
    assert answer["status"] == "queued"


async def test_a_long_text_is_priced_per_segment(tenant: Tenant, clock: FrozenClock) -> None:
    clock.set(datetime(2026, 3, 10, 16, 0, tzinfo=UTC))  # Tuesday, 12:00 in New York
    contact_id, channel_id = await texter(tenant, NEW_YORK)
    r = await tenant.client.post(
        "/api/v1/messages",
        json={
            "contact_id": contact_id,
            "channel_id": channel_id,
            "purpose": "marketing",
            # 200 GSM-7 characters: two segments of 153.
            "content": {"type": "text", "body": "x" * 200},
        },
    )
    two = r.json()
    r = await tenant.client.post(
        "/api/v1/messages",
        json={
            "contact_id": contact_id,
            "channel_id": channel_id,
            "purpose": "service",
            # 71 characters outside GSM-7 (Polish ł): UCS-2, two segments of 67.
            "content": {"type": "text", "body": "ł" * 71},
        },
    )
    unicode_two = r.json()
    assert (
        Decimal(two["cost_estimate"]) == Decimal(unicode_two["cost_estimate"]) == Decimal("0.0166")
    )
