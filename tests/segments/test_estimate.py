"""The estimate says, before anything is sent, what sending to each member would do: its
counts by reason equal what the outbox records when the same send is made to every member."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import T0, Tenant
from threadline.channels.kinds import Channel
from threadline.policy import pressure
from threadline.policy.models import PressureEvent
from threadline.policy.types import Purpose
from threadline.segments.service import minimum_detectable_lift

pytestmark = pytest.mark.db

# T0 is Tuesday 15:00 UTC: 11:00 in New York, 05:00 in Honolulu (before sending hours).
PEOPLE: dict[str, dict[str, Any]] = {
    "allowed": {"phone": "+12125550101", "consent": ["grant"]},
    "no_consent": {"phone": "+12125550102", "consent": []},
    "opted_out": {"phone": "+12125550103", "consent": ["grant", "revoke"]},
    "quiet_hours": {"phone": "+18085550104", "consent": ["grant"]},
    "capped": {"phone": "+12125550105", "consent": ["grant"], "sent_today": True},
    "no_address": {"email": "nophone@people.example", "consent": []},
    "outsider": {"phone": "+12125550107", "consent": ["grant"], "tag": "other"},
}
QUERY = 'tag("spring") and created_at > -1d'


async def populate(tenant: Tenant, sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    r = await tenant.client.patch(
        "/api/v1/workspace/settings", json={"frequency_caps": [{"max_messages": 1, "hours": 24}]}
    )
    assert r.status_code == 200, r.text
    r = await tenant.client.post(
        "/api/v1/channels/sms",
        json={"from": "+14155550100", "account_sid": "AC" + "ab" * 16, "auth_token": "t"},
    )
    assert r.status_code == 201, r.text
    ids = {}
    for who, spec in PEOPLE.items():
        urns = [f"tel:{spec['phone']}"] if "phone" in spec else [f"mailto:{spec['email']}"]
        r = await tenant.client.post(
            "/api/v1/contacts",
            json={"name": who, "urns": urns, "tags": [spec.get("tag", "spring")]},
        )
        assert r.status_code == 201, r.text
        ids[who] = r.json()["id"]
        for action in spec["consent"]:
            body: dict[str, Any] = {"action": action, "channel": "sms", "topic": "marketing"}
            body["source"] = "widget" if action == "grant" else "agent"
            if action == "grant":
                body["disclosure"] = {"text": "Offers by text", "version": "1"}
            r = await tenant.client.post(f"/api/v1/contacts/{ids[who]}/consent", json=body)
            assert r.status_code == 201, r.text
        if spec.get("sent_today"):
            row = pressure.send_row(
                tenant.id,
                ids[who],
                channel=Channel.WHATSAPP,
                purpose=Purpose.MARKETING,
                sent_at=T0 - timedelta(hours=2),
                business_initiated=True,
                topic="marketing",
            )
            async with sessions() as session, session.begin():
                await session.execute(insert(PressureEvent), [row])
    return ids


async def test_the_estimate_counts_what_sending_to_everyone_records(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = await populate(tenant, sessions)
    r = await tenant.client.post(
        "/api/v1/segments/estimate",
        json={"query": QUERY, "channel": "sms", "purpose": "marketing"},
    )
    assert r.status_code == 200, r.text
    estimate = r.json()
    assert estimate["total"] == 6  # the outsider has another tag
    assert estimate["reachable"]["sms"] == 5 and estimate["reachable"]["email"] == 1
    assert estimate["eligible"] == 1 and estimate["deferred"] == 1
    assert estimate["suppressed"] == {
        "no_address": 1,
        "no_consent": 1,
        "opted_out": 1,
        "frequency_cap": 1,
        "deferred:quiet_hours": 1,
    }
    assert Decimal(estimate["estimated_cost"]) == Decimal("0.0083")  # one US segment

    recorded: Counter[str] = Counter()
    for who, contact_id in ids.items():
        if who == "outsider":
            continue
        r = await tenant.client.post(
            "/api/v1/messages",
            json={
                "contact_id": contact_id,
                "purpose": "marketing",
                "content": {"type": "text", "body": "Spring sale: 20% off"},
                "channel_id": (await tenant.client.get("/api/v1/channels")).json()[0]["id"],
            },
        )
        if r.status_code == 422:
            recorded["no_address"] += 1
            continue
        answer = r.json()
        if answer["status"] == "queued":
            recorded["eligible"] += 1
        elif answer["status"] == "deferred":
            recorded[f"deferred:{answer['reason']}"] += 1
        else:
            recorded[answer["reason"]] += 1
    assert recorded == Counter({"eligible": 1, **estimate["suppressed"]})


def test_the_minimum_detectable_lift_of_a_holdout() -> None:
    # 1,000 against 1,000 at a 2 % baseline: (1.96 + 0.84) * sqrt(0.02 * 0.98 * 2 / 1000).
    lift = minimum_detectable_lift(1000, 1000, 0.02)
    assert lift is not None and abs(lift - 0.017541) < 1e-5
    # A tenth held out of 10,000 people detects a smaller lift than of 1,000.
    small = minimum_detectable_lift(900, 100, 0.02)
    large = minimum_detectable_lift(9000, 1000, 0.02)
    assert small is not None and large is not None and large < small
    assert minimum_detectable_lift(1000, 0, 0.02) is None  # no control group, no lift


async def test_a_bad_query_says_where(tenant: Tenant) -> None:
    r = await tenant.client.post("/api/v1/segments/count", json={"query": 'tag("vip") and'})
    assert r.status_code == 422
    assert r.json()["where"] == "query"
    assert "column" in r.json()["message"]
    r = await tenant.client.post("/api/v1/segments/count", json={"query": 'fields.city = "x"'})
    assert r.status_code == 422
    assert "unknown field 'fields.city'" in r.json()["message"]
