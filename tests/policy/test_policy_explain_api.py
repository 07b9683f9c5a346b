"""POST /api/v1/policy/explain end to end: "why would this not go out?" answered from the DB."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import T0, Tenant
from threadline.channels.kinds import Channel
from threadline.contacts.models import Contact
from threadline.kit.clock import FrozenClock
from threadline.policy.pressure import record_send
from threadline.policy.types import Purpose

BR = "+5511999990000"
BR_2 = "+5511999990001"
FLORIDA = "+13055550123"
DISCLOSURE = {"text": "Yes, send me offers. Reply STOP to opt out.", "version": "v1"}
TEMPLATE = {"name": "spring_sale", "category": "marketing"}


async def contact(client: httpx.AsyncClient, *urns: str) -> str:
    response = await client.post("/api/v1/contacts", json={"name": "Ana", "urns": list(urns)})
    assert response.status_code == 201, response.text
    contact_id: str = response.json()["id"]
    return contact_id


async def grant(
    client: httpx.AsyncClient, contact_id: str, channel: str = "whatsapp", topic: str = "marketing"
) -> None:
    response = await client.post(
        f"/api/v1/contacts/{contact_id}/consent",
        json={
            "action": "grant",
            "channel": channel,
            "topic": topic,
            "source": "widget",
            "disclosure": DISCLOSURE,
            "occurred_at": (T0 - timedelta(days=7)).isoformat(),
        },
    )
    assert response.status_code == 201, response.text


async def explain(client: httpx.AsyncClient, contact_id: str, **body: Any) -> dict[str, Any]:
    request: dict[str, Any] = {"contact_id": contact_id, "channel": "whatsapp"}
    request.update(body)
    response = await client.post("/api/v1/policy/explain", json=request)
    assert response.status_code == 200, response.text
    decision: dict[str, Any] = response.json()
    return decision


async def marketing_template(client: httpx.AsyncClient, contact_id: str) -> dict[str, Any]:
    return await explain(client, contact_id, purpose="marketing", template=TEMPLATE)


async def inbound(
    client: httpx.AsyncClient, contact_id: str, text: str, channel: str = "whatsapp"
) -> None:
    response = await client.post(
        f"/api/v1/contacts/{contact_id}/inbound",
        json={"channel": channel, "text": text, "timestamp": T0.isoformat()},
    )
    assert response.status_code == 200, response.text


async def record_marketing(
    sessions: async_sessionmaker[AsyncSession],
    tenant: Tenant,
    contact_id: str,
    *sent_at: datetime,
    purpose: Purpose = Purpose.MARKETING,
    cost: Decimal | None = None,
) -> None:
    async with sessions() as session, session.begin():
        for when in sent_at:
            await record_send(
                session,
                tenant.id,
                contact_id,
                channel=Channel.WHATSAPP,
                purpose=purpose,
                sent_at=when,
                business_initiated=True,
                topic="marketing" if purpose is Purpose.MARKETING else None,
                cost=cost,
            )


# --- consent, templates and windows -----------------------------------------------------------


async def test_no_consent_refuses_marketing(tenant: Tenant) -> None:
    cid = await contact(tenant.client, f"whatsapp:{BR}")
    decision = await marketing_template(tenant.client, cid)
    assert decision["outcome"] == "refused"
    assert decision["reason"] == "no_consent"
    assert decision["requires"] == ["consent:marketing"]
    assert decision["facts"]["consent"]["marketing"] == "none"


async def test_a_pending_double_opt_in_is_not_consent_yet(tenant: Tenant) -> None:
    cid = await contact(tenant.client, f"whatsapp:{BR}")
    requested = await tenant.client.post(
        f"/api/v1/contacts/{cid}/consent",
        json={
            "action": "request",
            "channel": "whatsapp",
            "topic": "marketing",
            "source": "widget",
            "disclosure": DISCLOSURE,
        },
    )
    assert requested.status_code == 201
    decision = await marketing_template(tenant.client, cid)
    assert (decision["outcome"], decision["reason"]) == ("refused", "no_consent")
    assert "confirmation" in decision["detail"]
    await inbound(tenant.client, cid, "START")
    assert (await marketing_template(tenant.client, cid))["outcome"] == "allowed"


async def test_granted_marketing_template_outside_the_window_is_allowed(tenant: Tenant) -> None:
    cid = await contact(tenant.client, f"whatsapp:{BR}")
    await grant(tenant.client, cid)
    decision = await marketing_template(tenant.client, cid)
    assert decision["outcome"] == "allowed", decision
    assert decision["reason"] is None
    assert decision["facts"]["service_window_open_until"] is None
    assert decision["facts"]["consent"]["marketing"] == "granted"
    assert decision["facts"]["recipient_region"] == "BR"
    assert decision["facts"]["recipient_timezones"] == ["America/Sao_Paulo"]


async def test_free_form_marketing_outside_the_window_needs_a_template(tenant: Tenant) -> None:
    cid = await contact(tenant.client, f"whatsapp:{BR}")
    await grant(tenant.client, cid)
    decision = await explain(tenant.client, cid, purpose="marketing")
    assert (decision["outcome"], decision["reason"]) == ("refused", "template_required")
    assert decision["requires"] == ["template:marketing"]


async def test_service_reply_needs_an_open_window(tenant: Tenant, clock: FrozenClock) -> None:
    cid = await contact(tenant.client, f"whatsapp:{BR}")
    before = await explain(tenant.client, cid, purpose="service")
    assert (before["outcome"], before["reason"]) == ("refused", "window_closed")
    await inbound(tenant.client, cid, "Is my order on its way?")
    inside = await explain(tenant.client, cid, purpose="service")
    assert inside["outcome"] == "allowed", inside
    assert inside["facts"]["service_window_open_until"] == (T0 + timedelta(hours=24)).isoformat()
    clock.advance(timedelta(hours=24))
    after = await explain(tenant.client, cid, purpose="service")
    assert (after["outcome"], after["reason"]) == ("refused", "window_closed")
    assert after["requires"] == ["template"]


async def test_whatsapp_marketing_to_a_us_number_is_region_blocked(tenant: Tenant) -> None:
    cid = await contact(tenant.client, f"whatsapp:{FLORIDA}")
    await grant(tenant.client, cid)
    decision = await marketing_template(tenant.client, cid)
    assert (decision["outcome"], decision["reason"]) == ("refused", "region_blocked")


# --- timing and pressure ----------------------------------------------------------------------


async def test_florida_quiet_hours_defer_to_8_am_local(tenant: Tenant, clock: FrozenClock) -> None:
    cid = await contact(tenant.client, f"tel:{FLORIDA}")
    await grant(tenant.client, cid, channel="sms")
    # 2026-03-10 is after the US switch to daylight time: Miami is UTC-4.
    clock.set(datetime(2026, 3, 10, 23, 30, tzinfo=UTC))  # 19:30 in Miami
    early = await explain(tenant.client, cid, channel="sms", purpose="marketing")
    assert early["outcome"] == "allowed", early
    clock.set(datetime(2026, 3, 11, 0, 30, tzinfo=UTC))  # 20:30 in Miami
    late = await explain(tenant.client, cid, channel="sms", purpose="marketing")
    assert (late["outcome"], late["reason"]) == ("deferred", "quiet_hours")
    # Florida's 8 p.m. limit applies, not the default 9 p.m.
    assert late["facts"]["recipient_subdivision"] == "US-FL"
    assert late["facts"]["quiet_hours"] == "08:00-20:00"
    until = datetime.fromisoformat(late["defer_until"])
    assert until == datetime(2026, 3, 11, 12, 0, tzinfo=UTC)  # 08:00 EDT the next day
    # Replies to the person's own message are not held back by quiet hours.
    await inbound(tenant.client, cid, "hello?", channel="sms")
    reply = await explain(tenant.client, cid, channel="sms", purpose="service")
    assert reply["outcome"] == "allowed", reply


async def test_three_recent_marketing_sends_hit_the_frequency_cap(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cid = await contact(tenant.client, f"whatsapp:{BR}")
    await grant(tenant.client, cid)
    await record_marketing(sessions, tenant, cid, T0 - timedelta(hours=1), T0 - timedelta(hours=5))
    assert (await marketing_template(tenant.client, cid))["outcome"] == "allowed"
    await record_marketing(sessions, tenant, cid, T0 - timedelta(hours=20))
    decision = await marketing_template(tenant.client, cid)
    assert (decision["outcome"], decision["reason"]) == ("refused", "frequency_cap")
    assert decision["facts"]["marketing_sent_recently"] == 3
    assert "cap is 3" in decision["detail"]


async def test_global_control_group_holds_out_contacts_in_the_slice(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    inside = await contact(tenant.client, f"whatsapp:{BR}")
    outside = await contact(tenant.client, f"whatsapp:{BR_2}")
    for cid, bucket in ((inside, 499), (outside, 500)):
        await grant(tenant.client, cid)
        async with sessions() as session, session.begin():
            await session.execute(
                update(Contact).where(Contact.id == cid).values(holdout_bucket=bucket)
            )
    assert (await marketing_template(tenant.client, inside))["outcome"] == "allowed"
    patched = await tenant.client.patch(
        "/api/v1/workspace/settings", json={"global_control_percent": 5}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["global_control_percent"] == 5
    held = await marketing_template(tenant.client, inside)
    assert (held["outcome"], held["reason"]) == ("refused", "holdout")
    assert (await marketing_template(tenant.client, outside))["outcome"] == "allowed"
    # The control group only holds back marketing.
    await inbound(tenant.client, inside, "hi")
    assert (await explain(tenant.client, inside, purpose="service"))["outcome"] == "allowed"
    too_big = await tenant.client.patch(
        "/api/v1/workspace/settings", json={"global_control_percent": 50}
    )
    assert too_big.status_code == 422
    assert too_big.json()["where"] == "global_control_percent"


async def test_monthly_budget_counts_this_months_costs(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cid = await contact(tenant.client, f"whatsapp:{BR}")
    await grant(tenant.client, cid)
    patched = await tenant.client.patch("/api/v1/workspace/settings", json={"monthly_budget": "10"})
    assert patched.status_code == 200, patched.text
    # Last month's spending does not count; this month's does.
    await record_marketing(
        sessions, tenant, cid, datetime(2026, 2, 27, tzinfo=UTC), cost=Decimal("50")
    )
    await record_marketing(
        sessions,
        tenant,
        cid,
        datetime(2026, 3, 2, tzinfo=UTC),
        datetime(2026, 3, 3, tzinfo=UTC),
        purpose=Purpose.UTILITY,
        cost=Decimal("4.75"),
    )
    cheap = await explain(
        tenant.client, cid, purpose="marketing", template=TEMPLATE, cost_estimate="0.50"
    )
    assert cheap["outcome"] == "allowed", cheap
    assert Decimal(cheap["facts"]["budget_remaining"]) == Decimal("0.50")
    dear = await explain(
        tenant.client, cid, purpose="marketing", template=TEMPLATE, cost_estimate="0.51"
    )
    assert (dear["outcome"], dear["reason"]) == ("refused", "budget_exceeded")
    assert Decimal(dear["cost_estimate"]) == Decimal("0.51")


# --- bad requests -----------------------------------------------------------------------------


async def test_unknown_topic_is_422(tenant: Tenant) -> None:
    cid = await contact(tenant.client, f"whatsapp:{BR}")
    response = await tenant.client.post(
        "/api/v1/policy/explain",
        json={
            "contact_id": cid,
            "channel": "whatsapp",
            "purpose": "marketing",
            "topic": "newsletter",
            "template": TEMPLATE,
        },
    )
    assert response.status_code == 422
    assert response.json()["where"] == "topic"
    assert "newsletter" in response.json()["message"]


async def test_a_channel_the_contact_has_no_address_on_is_422(tenant: Tenant) -> None:
    cid = await contact(tenant.client, f"whatsapp:{BR}")
    for channel, scheme in (("email", "mailto"), ("sms", "tel"), ("messenger", "messenger")):
        response = await tenant.client.post(
            "/api/v1/policy/explain",
            json={"contact_id": cid, "channel": channel, "purpose": "service"},
        )
        assert response.status_code == 422, channel
        assert response.json()["where"] == "channel"
        assert f"{scheme}:" in response.json()["message"]


async def test_unknown_contact_is_404(tenant: Tenant) -> None:
    response = await tenant.client.post(
        "/api/v1/policy/explain",
        json={"contact_id": "con_missing", "channel": "whatsapp", "purpose": "service"},
    )
    assert response.status_code == 404


async def test_reason_codes_are_listed(tenant: Tenant) -> None:
    response = await tenant.client.get("/api/v1/policy/reasons")
    assert response.status_code == 200
    reasons = response.json()
    assert {"opted_out", "no_consent", "quiet_hours", "holdout"} <= set(reasons)
    assert all(isinstance(text, str) and text for text in reasons.values())


# --- acceptance: an opt-out through any source stops a pending marketing send ----------------

OptOut = Callable[[httpx.AsyncClient, str], Awaitable[None]]


async def _revoke(client: httpx.AsyncClient, contact_id: str, **body: Any) -> None:
    payload: dict[str, Any] = {"action": "revoke", "channel": "whatsapp", "topic": "marketing"}
    payload.update(body)
    response = await client.post(f"/api/v1/contacts/{contact_id}/consent", json=payload)
    assert response.status_code == 201, response.text


async def _keyword(
    client: httpx.AsyncClient, contact_id: str, text: str, channel: str = "whatsapp", ahead: int = 0
) -> None:
    response = await client.post(
        f"/api/v1/contacts/{contact_id}/inbound",
        json={
            "channel": channel,
            "text": text,
            "timestamp": (T0 + timedelta(minutes=ahead)).isoformat(),
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["keyword"] in ("opt_out", "opt_out_all"), response.json()


OPT_OUTS: dict[str, OptOut] = {
    "keyword STOP": lambda c, cid: _keyword(c, cid, "STOP"),
    "keyword ALTO (Spanish)": lambda c, cid: _keyword(c, cid, "alto"),
    "keyword phrase": lambda c, cid: _keyword(c, cid, "please stop sending me these offers"),
    "keyword STOPALL on another channel": lambda c, cid: _keyword(c, cid, "STOPALL", "sms"),
    "keyword STOP stamped ahead of our clock": lambda c, cid: _keyword(c, cid, "STOP", ahead=3),
    "API revoke": lambda c, cid: _revoke(c, cid, source="api"),
    "agent revoke": lambda c, cid: _revoke(
        c, cid, source="agent", actor="agent@workspace-a.example"
    ),
    "platform preference": lambda c, cid: _revoke(c, cid, source="platform", topic="marketing:*"),
    "API revoke of everything everywhere": lambda c, cid: _revoke(
        c, cid, source="api", channel="*", topic="*"
    ),
}


@pytest.mark.parametrize("source", list(OPT_OUTS))
async def test_an_opt_out_through_any_source_suppresses_a_pending_marketing_send(
    tenant: Tenant, source: str
) -> None:
    cid = await contact(tenant.client, f"whatsapp:{BR}", f"tel:{BR}")
    await grant(tenant.client, cid)
    await grant(tenant.client, cid, channel="sms")
    send = {"purpose": "marketing", "template": TEMPLATE, "campaign_id": "spring"}
    before = await explain(tenant.client, cid, **send)
    assert before["outcome"] == "allowed", before

    await OPT_OUTS[source](tenant.client, cid)

    after = await explain(tenant.client, cid, **send)
    assert (after["outcome"], after["reason"]) == ("refused", "opted_out"), after
    assert after["facts"]["consent"]["marketing"] == "revoked"


async def test_an_opt_out_on_another_channel_leaves_this_one_alone(tenant: Tenant) -> None:
    cid = await contact(tenant.client, f"whatsapp:{BR}", f"tel:{BR}")
    await grant(tenant.client, cid)
    await grant(tenant.client, cid, channel="sms")
    await _keyword(tenant.client, cid, "STOP", channel="sms")
    assert (await marketing_template(tenant.client, cid))["outcome"] == "allowed"
    sms = await explain(tenant.client, cid, channel="sms", purpose="marketing")
    assert sms["reason"] == "opted_out"
