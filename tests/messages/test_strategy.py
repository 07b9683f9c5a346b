"""The contact strategy: "send to a contact" takes the first channel of the purpose's order
that may carry the message now, and says why each one before it was skipped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import Tenant
from threadline.kit.clock import FrozenClock

pytestmark = pytest.mark.db

NEW_YORK = "+12125550123"
TUESDAY_NOON_NY = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)


async def setup(tenant: Tenant, clock: FrozenClock, *, sms_consent: bool = True) -> str:
    """A workspace with a WhatsApp number and an SMS number, and a New York contact on both
    who has never written (no WhatsApp window)."""
    clock.set(TUESDAY_NOON_NY)
    r = await tenant.client.post(
        "/api/v1/channels/whatsapp",
        json={
            "phone_number_id": "106540352242922",
            "waba_id": "102290129340398",
            "access_token": "t",
            "app_secret": "s",
            "verify_token": "v",
        },
    )
    assert r.status_code == 201, r.text
    r = await tenant.client.post(
        "/api/v1/channels/sms",
        json={"from": "+14155550100", "account_sid": "AC" + "ab" * 16, "auth_token": "t"},
    )
    assert r.status_code == 201, r.text
    r = await tenant.client.post(
        "/api/v1/contacts",
        json={"name": "Sam", "urns": [f"whatsapp:{NEW_YORK[1:]}", f"tel:{NEW_YORK}"]},
    )
    assert r.status_code == 201, r.text
    contact_id: str = r.json()["id"]
    granted = [("whatsapp", "marketing")]
    if sms_consent:  # order updates by text need consent too (TCPA), not only offers
        granted += [("sms", "marketing"), ("sms", "transactional")]
    for channel, topic in granted:
        r = await tenant.client.post(
            f"/api/v1/contacts/{contact_id}/consent",
            json={
                "action": "grant",
                "channel": channel,
                "topic": topic,
                "source": "widget",
                "disclosure": {"text": f"Offers on {channel}", "version": "1"},
            },
        )
        assert r.status_code == 201, r.text
    return contact_id


async def send(tenant: Tenant, contact_id: str, purpose: str, body: str) -> dict[str, Any]:
    r = await tenant.client.post(
        "/api/v1/messages",
        json={
            "contact_id": contact_id,
            "purpose": purpose,
            "content": {"type": "text", "body": body},
            "by_strategy": True,
        },
    )
    assert r.status_code == 201, r.text
    answer: dict[str, Any] = r.json()
    return answer


def ladder(answer: dict[str, Any]) -> list[tuple[str, bool, str | None]]:
    return [(r["channel"], r["chosen"], r["reason"]) for r in answer["route"]]


async def test_a_text_goes_by_sms_when_whatsapp_would_need_a_template(
    tenant: Tenant, clock: FrozenClock
) -> None:
    contact_id = await setup(tenant, clock)
    answer = await send(tenant, contact_id, "utility", "Your order shipped")
    assert answer["status"] == "queued", answer["route"]
    assert ladder(answer)[:2] == [
        ("whatsapp", False, "template_required"),
        ("sms", True, None),
    ]
    # The workspace has no email or Messenger account; the contact no address there.
    assert ("email", False, "no_channel_account") in ladder(answer)
    channels = {c["id"]: c["kind"] for c in (await tenant.client.get("/api/v1/channels")).json()}
    assert channels[answer["channel_id"]] == "sms"
    r = await tenant.client.get(f"/api/v1/messages/{answer['id']}")
    (first,) = r.json()["history"]
    assert "contact strategy: whatsapp skipped (template_required" in first["detail"]
    assert "sms chosen" in first["detail"]


async def test_without_consent_anywhere_the_message_is_refused_with_the_whole_ladder(
    tenant: Tenant, clock: FrozenClock
) -> None:
    contact_id = await setup(tenant, clock, sms_consent=False)
    r = await tenant.client.post(
        f"/api/v1/contacts/{contact_id}/consent",
        json={
            "action": "revoke",
            "channel": "whatsapp",
            "topic": "marketing",
            "source": "agent",
        },
    )
    assert r.status_code == 201, r.text
    answer = await send(tenant, contact_id, "marketing", "Spring sale")
    assert (answer["status"], answer["reason"]) == ("refused", "opted_out")
    assert ladder(answer)[:2] == [("whatsapp", False, "opted_out"), ("sms", False, "no_consent")]
    r = await tenant.client.get(f"/api/v1/messages/{answer['id']}")
    assert "sms skipped (no_consent" in r.json()["history"][0]["detail"]


async def test_a_cost_ceiling_skips_a_dear_channel(tenant: Tenant, clock: FrozenClock) -> None:
    contact_id = await setup(tenant, clock)
    r = await tenant.client.patch(
        "/api/v1/workspace/settings",
        json={"contact_strategy": {"utility": {"order": ["sms"], "max_cost": "0.01"}}},
    )
    assert r.status_code == 200, r.text
    # 200 characters are two segments: 0.0166 at the sample US rate, over the ceiling.
    r = await tenant.client.post(
        "/api/v1/messages",
        json={
            "contact_id": contact_id,
            "purpose": "utility",
            "content": {"type": "text", "body": "x" * 200},
            "by_strategy": True,
        },
    )
    assert r.status_code == 422
    assert "over_cost_ceiling" in r.json()["message"]
    short = await send(tenant, contact_id, "utility", "Shipped")
    assert ladder(short) == [("sms", True, None)]


async def test_the_route_is_explained_without_sending(tenant: Tenant, clock: FrozenClock) -> None:
    contact_id = await setup(tenant, clock)
    r = await tenant.client.post(
        "/api/v1/messages/route",
        json={
            "contact_id": contact_id,
            "purpose": "marketing",
            "content": {"type": "template", "name": "spring_sale"},
        },
    )
    assert r.status_code == 200, r.text
    rungs = {rung["channel"]: rung for rung in r.json()}
    assert rungs["whatsapp"]["reason"] == "cannot_carry"  # not a template of this number
    assert "unknown template 'spring_sale'" in rungs["whatsapp"]["detail"]
    assert rungs["sms"]["reason"] == "cannot_carry"  # SMS has no platform templates
    assert not any(rung["chosen"] for rung in rungs.values())
    r = await tenant.client.get(f"/api/v1/contacts/{contact_id}/messages")
    assert r.json() == []


async def test_a_strategy_names_each_channel_once(tenant: Tenant) -> None:
    r = await tenant.client.patch(
        "/api/v1/workspace/settings",
        json={"contact_strategy": {"marketing": {"order": ["sms", "sms"]}}},
    )
    assert r.status_code == 422
    assert "once" in r.text


async def test_each_purpose_goes_from_its_sender_pool(tenant: Tenant, clock: FrozenClock) -> None:
    clock.set(TUESDAY_NOON_NY)
    numbers = {}
    for pool, number in (("transactional", "+14155550101"), ("marketing", "+14155550102")):
        r = await tenant.client.post(
            "/api/v1/channels/sms",
            json={"from": number, "account_sid": "AC" + "ab" * 16, "auth_token": "t", "pool": pool},
        )
        assert r.status_code == 201, r.text
        numbers[r.json()["id"]] = pool
    r = await tenant.client.post(
        "/api/v1/contacts", json={"name": "Sam", "urns": [f"tel:{NEW_YORK}"]}
    )
    contact_id = r.json()["id"]
    for topic in ("marketing", "transactional"):
        r = await tenant.client.post(
            f"/api/v1/contacts/{contact_id}/consent",
            json={
                "action": "grant",
                "channel": "sms",
                "topic": topic,
                "source": "widget",
                "disclosure": {"text": f"{topic} texts", "version": "1"},
            },
        )
        assert r.status_code == 201, r.text
    update = await send(tenant, contact_id, "utility", "Your order shipped")
    offer = await send(tenant, contact_id, "marketing", "Spring sale")
    assert numbers[update["channel_id"]] == "transactional"
    assert numbers[offer["channel_id"]] == "marketing"
