"""A seeded audience in which every reason a broadcast can pass someone over occurs once
or more, on an SMS number (T0 is a Tuesday, 15:00 UTC: 11:00 in New York, 05:00 in
Honolulu)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import T0, Tenant
from threadline.channels.kinds import Channel
from threadline.contacts.models import Contact
from threadline.policy import pressure
from threadline.policy.models import PressureEvent
from threadline.policy.types import Purpose

GRANT = ["grant"]
PEOPLE: dict[str, dict[str, Any]] = {
    "allowed_1": {"phone": "+12125550101", "consent": GRANT},
    "allowed_2": {"phone": "+12125550102", "consent": GRANT},
    "allowed_3": {"phone": "+12125550103", "consent": GRANT},
    "no_consent": {"phone": "+12125550104", "consent": []},
    "opted_out": {"phone": "+12125550105", "consent": ["grant", "revoke"]},
    "quiet_hours": {"phone": "+18085550106", "consent": GRANT},
    "capped": {"phone": "+12125550107", "consent": GRANT, "sent_today": True},
    "held_out": {"phone": "+12125550108", "consent": GRANT, "control": True},
    "no_address": {"email": "nophone@people.example", "consent": []},
    "": {"phone": "+12125550110", "consent": GRANT},  # no name: the placeholder has no value
    "outsider": {"phone": "+12125550111", "consent": GRANT, "tag": "other"},
}
QUERY = 'tag("spring")'
SMS_PRICE = "0.0083"  # one US segment on the sample rate card


async def populate(tenant: Tenant, sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    """The people, by who they are → contact id; the workspace has a 1-a-day marketing cap
    and a 1 % global control group, and an SMS number."""
    r = await tenant.client.patch(
        "/api/v1/workspace/settings",
        json={
            "frequency_caps": [{"max_messages": 1, "hours": 24}],
            "global_control_percent": 1,
            "business_name": "Bloom",
        },
    )
    assert r.status_code == 200, r.text
    r = await tenant.client.post(
        "/api/v1/channels/sms",
        json={"from": "+14155550100", "account_sid": "AC" + "ab" * 16, "auth_token": "t"},
    )
    assert r.status_code == 201, r.text
    ids = {}
    for who, spec in PEOPLE.items():
        ids[who] = await _person(tenant, who, spec)
        async with sessions() as session, session.begin():
            bucket = 5 if spec.get("control") else 9000  # buckets under 100 are the 1 %
            await session.execute(
                update(Contact).where(Contact.id == ids[who]).values(holdout_bucket=bucket)
            )
            if spec.get("sent_today"):
                await session.execute(insert(PressureEvent), [_sent_today(tenant, ids[who])])
    return ids


async def _person(tenant: Tenant, who: str, spec: dict[str, Any]) -> str:
    urns = [f"tel:{spec['phone']}"] if "phone" in spec else [f"mailto:{spec['email']}"]
    r = await tenant.client.post(
        "/api/v1/contacts", json={"name": who, "urns": urns, "tags": [spec.get("tag", "spring")]}
    )
    assert r.status_code == 201, r.text
    contact_id = str(r.json()["id"])
    for action in spec["consent"]:
        body: dict[str, Any] = {"action": action, "channel": "sms", "topic": "marketing"}
        body["source"] = "widget" if action == "grant" else "agent"
        if action == "grant":
            body["disclosure"] = {"text": "Offers by text", "version": "1"}
        r = await tenant.client.post(f"/api/v1/contacts/{contact_id}/consent", json=body)
        assert r.status_code == 201, r.text
    return contact_id


def _sent_today(tenant: Tenant, contact_id: str) -> dict[str, Any]:
    return pressure.send_row(
        tenant.id,
        contact_id,
        channel=Channel.SMS,
        purpose=Purpose.MARKETING,
        sent_at=T0 - timedelta(hours=2),
        business_initiated=True,
        topic="marketing",
    )


def text_broadcast(**extra: Any) -> dict[str, Any]:
    return {
        "name": "Spring sale",
        "audience": QUERY,
        "channels": ["sms"],
        "content": {"default": {"type": "text", "body": "Hi {{contact.name}}: 20% off today"}},
        **extra,
    }
