"""Inbound messages: the windows they open (by the platform's clock) and the keywords in them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import T0, Tenant
from threadline.consent.models import ConsentEvent
from threadline.conversations.models import Conversation
from threadline.kit.clock import FrozenClock

BR = "+5511999990000"
DISCLOSURE = {"text": "Yes, send me offers. Reply STOP to opt out.", "version": "v1"}


async def contact(client: httpx.AsyncClient) -> str:
    response = await client.post(
        "/api/v1/contacts",
        json={"name": "Ana", "urns": [f"whatsapp:{BR}", f"tel:{BR}", "mailto:ana@example.com"]},
    )
    assert response.status_code == 201, response.text
    contact_id: str = response.json()["id"]
    return contact_id


async def inbound(
    client: httpx.AsyncClient,
    contact_id: str,
    text: str = "hi",
    *,
    at: datetime = T0,
    channel: str = "whatsapp",
    **extra: Any,
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/contacts/{contact_id}/inbound",
        json={"channel": channel, "text": text, "timestamp": at.isoformat(), **extra},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def grant(client: httpx.AsyncClient, contact_id: str, channel: str, topic: str) -> None:
    response = await client.post(
        f"/api/v1/contacts/{contact_id}/consent",
        json={
            "action": "grant",
            "channel": channel,
            "topic": topic,
            "source": "widget",
            "disclosure": DISCLOSURE,
            "occurred_at": (T0 - timedelta(days=1)).isoformat(),
        },
    )
    assert response.status_code == 201, response.text


async def state(client: httpx.AsyncClient, contact_id: str) -> dict[tuple[str, str], str]:
    response = await client.get(f"/api/v1/contacts/{contact_id}/consent")
    assert response.status_code == 200, response.text
    return {(row["channel"], row["topic"]): row["status"] for row in response.json()}


async def windows(client: httpx.AsyncClient, contact_id: str) -> dict[str, dict[str, Any]]:
    response = await client.get(f"/api/v1/contacts/{contact_id}/conversations")
    assert response.status_code == 200, response.text
    return {w["channel"]: w for w in response.json()}


def at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# --- windows ----------------------------------------------------------------------------------


async def test_window_opens_from_the_platform_timestamp(tenant: Tenant, clock: FrozenClock) -> None:
    cid = await contact(tenant.client)
    assert await windows(tenant.client, cid) == {}
    # Delivered to us 3 hours late: the platform's 24 h started when the person wrote.
    sent = T0 - timedelta(hours=3)
    body = await inbound(tenant.client, cid, "Do you have this in blue?", at=sent)
    assert body["keyword"] == "none"
    assert body["reply"] is None
    assert at(body["window"]["last_inbound_at"]) == sent
    assert at(body["window"]["service_window_open_until"]) == sent + timedelta(hours=24)
    assert body["window"]["entry_point_open_until"] is None
    assert body["window"]["open"] is True

    listed = await windows(tenant.client, cid)
    assert list(listed) == ["whatsapp"]
    assert at(listed["whatsapp"]["service_window_open_until"]) == T0 + timedelta(hours=21)
    assert listed["whatsapp"]["open"] is True

    clock.advance(timedelta(hours=20, minutes=59))
    assert (await windows(tenant.client, cid))["whatsapp"]["open"] is True
    clock.advance(timedelta(minutes=1))  # 24 h after the platform timestamp, 21 h after T0
    assert (await windows(tenant.client, cid))["whatsapp"]["open"] is False


async def test_an_older_message_arriving_late_does_not_shorten_the_window(
    tenant: Tenant,
) -> None:
    cid = await contact(tenant.client)
    await inbound(tenant.client, cid, at=T0 - timedelta(minutes=1))
    late = await inbound(tenant.client, cid, at=T0 - timedelta(hours=5))
    assert at(late["window"]["last_inbound_at"]) == T0 - timedelta(minutes=1)


async def test_referral_opens_the_72_hour_entry_point_window_on_whatsapp(
    tenant: Tenant, clock: FrozenClock
) -> None:
    cid = await contact(tenant.client)
    referral = {"source_type": "ad", "source_id": "120210000000", "ctwa_clid": "abc"}
    body = await inbound(tenant.client, cid, "I saw your ad", referral=referral)
    assert at(body["window"]["service_window_open_until"]) == T0 + timedelta(hours=24)
    assert at(body["window"]["entry_point_open_until"]) == T0 + timedelta(hours=72)

    clock.advance(timedelta(hours=30))
    still = (await windows(tenant.client, cid))["whatsapp"]
    assert still["open"] is True  # the service window is over, the entry point is not
    clock.advance(timedelta(hours=42))
    assert (await windows(tenant.client, cid))["whatsapp"]["open"] is False


async def test_each_channel_has_its_own_window(tenant: Tenant) -> None:
    cid = await contact(tenant.client)
    await inbound(tenant.client, cid, channel="sms", at=T0 - timedelta(hours=1))
    listed = await windows(tenant.client, cid)
    assert list(listed) == ["sms"]
    await inbound(tenant.client, cid, channel="whatsapp")
    assert sorted(await windows(tenant.client, cid)) == ["sms", "whatsapp"]


async def test_a_timestamp_from_the_future_is_refused(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cid = await contact(tenant.client)
    ahead = await tenant.client.post(
        f"/api/v1/contacts/{cid}/inbound",
        json={
            "channel": "whatsapp",
            "text": "STOP",
            "timestamp": (T0 + timedelta(minutes=6)).isoformat(),
        },
    )
    assert ahead.status_code == 422, ahead.text
    assert ahead.json()["where"] == "timestamp"
    assert "future" in ahead.json()["message"]
    # Nothing was written: no window, and the STOP in it was not applied.
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Conversation)) == 0
        assert await session.scalar(select(func.count()).select_from(ConsentEvent)) == 0
    # A little skew is tolerated.
    skewed = await inbound(tenant.client, cid, at=T0 + timedelta(minutes=4))
    assert skewed["window"]["open"] is True


async def test_a_timestamp_without_offset_is_refused(tenant: Tenant) -> None:
    cid = await contact(tenant.client)
    response = await tenant.client.post(
        f"/api/v1/contacts/{cid}/inbound",
        json={"channel": "whatsapp", "text": "hi", "timestamp": "2026-03-10T14:00:00"},
    )
    assert response.status_code == 422
    assert response.json()["where"] == "timestamp"


# --- keywords ---------------------------------------------------------------------------------


async def test_stop_revokes_that_channel_and_replies_with_the_confirmation(
    tenant: Tenant,
) -> None:
    cid = await contact(tenant.client)
    await grant(tenant.client, cid, "whatsapp", "marketing")
    await grant(tenant.client, cid, "sms", "marketing")
    body = await inbound(tenant.client, cid, "Stop", message_id="wamid.1")
    assert body["keyword"] == "opt_out"
    assert body["matched"] == "stop"
    workspace = (await tenant.client.get("/api/v1/workspace")).json()
    assert body["reply"] == workspace["settings"]["opt_out_confirmation"].format(
        business=workspace["name"]
    )
    assert body["reply"].startswith(f"{workspace['name']}: ")  # CTIA: the brand is named
    assert await state(tenant.client, cid) == {
        ("whatsapp", "marketing"): "revoked",
        ("whatsapp", "transactional"): "revoked",
        ("sms", "marketing"): "granted",  # another channel is untouched
    }
    history = (await tenant.client.get(f"/api/v1/contacts/{cid}/consent/history")).json()
    last = history[-1]
    assert (last["action"], last["channel"], last["topic"]) == ("revoke", "whatsapp", "*")
    assert (last["source"], last["actor"]) == ("keyword", "contact")
    assert last["evidence"]["message_id"] == "wamid.1"
    assert last["evidence"]["text"] == "Stop"


async def test_stopall_revokes_every_channel(tenant: Tenant) -> None:
    cid = await contact(tenant.client)
    await grant(tenant.client, cid, "whatsapp", "marketing")
    await grant(tenant.client, cid, "email", "marketing")
    body = await inbound(tenant.client, cid, "STOPALL", channel="sms")
    assert body["keyword"] == "opt_out_all"
    current = await state(tenant.client, cid)
    for channel in ("whatsapp", "sms", "email", "messenger", "instagram", "apple"):
        assert current[(channel, "marketing")] == "revoked", channel
        assert current[(channel, "transactional")] == "revoked", channel


async def test_start_restores_exactly_what_stop_took_away(tenant: Tenant) -> None:
    cid = await contact(tenant.client)
    await tenant.client.post("/api/v1/topics", json={"key": "newsletter", "name": "Newsletter"})
    await grant(tenant.client, cid, "whatsapp", "marketing")
    await inbound(tenant.client, cid, "STOP", at=T0 - timedelta(minutes=1))
    body = await inbound(tenant.client, cid, "start")
    assert body["keyword"] == "opt_in"
    assert body["reply"] is not None
    # Marketing is back; transactional and newsletter were never given, so they stay off.
    assert await state(tenant.client, cid) == {("whatsapp", "marketing"): "granted"}


async def test_start_on_one_channel_does_not_undo_stopall_elsewhere(tenant: Tenant) -> None:
    cid = await contact(tenant.client)
    await grant(tenant.client, cid, "whatsapp", "marketing")
    await grant(tenant.client, cid, "sms", "marketing")
    await inbound(tenant.client, cid, "STOPALL", at=T0 - timedelta(minutes=1))
    await inbound(tenant.client, cid, "START")
    current = await state(tenant.client, cid)
    assert current[("whatsapp", "marketing")] == "granted"
    assert current[("sms", "marketing")] == "revoked"


async def test_start_without_a_previous_opt_in_creates_no_consent(tenant: Tenant) -> None:
    cid = await contact(tenant.client)
    body = await inbound(tenant.client, cid, "START")
    assert body["keyword"] == "opt_in"
    assert body["reply"] is None
    assert await state(tenant.client, cid) == {}
    history = await tenant.client.get(f"/api/v1/contacts/{cid}/consent/history")
    assert history.json() == []


async def test_help_answers_with_the_business_name(tenant: Tenant) -> None:
    cid = await contact(tenant.client)
    body = await inbound(tenant.client, cid, "HELP")
    assert body["keyword"] == "help"
    assert body["reply"].startswith("Workspace A:")
    assert "STOP" in body["reply"]
    renamed = await tenant.client.patch(
        "/api/v1/workspace/settings", json={"business_name": "Loja da Ana"}
    )
    assert renamed.status_code == 200, renamed.text
    again = await inbound(tenant.client, cid, "ayuda")
    assert again["reply"].startswith("Loja da Ana:")
    assert await state(tenant.client, cid) == {}


async def test_alto_opts_out_and_alta_only_restores_after_an_opt_out(tenant: Tenant) -> None:
    cid = await contact(tenant.client)
    await grant(tenant.client, cid, "whatsapp", "marketing")
    early = await inbound(tenant.client, cid, "ALTA", at=T0 - timedelta(minutes=10))
    assert early["keyword"] == "opt_in"
    assert early["reply"] is None  # nothing to restore: ALTA is not a new opt-in
    history = (await tenant.client.get(f"/api/v1/contacts/{cid}/consent/history")).json()
    assert [h["action"] for h in history] == ["grant"]

    alto = await inbound(tenant.client, cid, "¡ALTO!", at=T0 - timedelta(minutes=5))
    assert alto["keyword"] == "opt_out"
    assert alto["matched"] == "alto"
    assert await state(tenant.client, cid) == {
        ("whatsapp", "marketing"): "revoked",
        ("whatsapp", "transactional"): "revoked",
    }
    alta = await inbound(tenant.client, cid, "Alta")
    assert alta["keyword"] == "opt_in"
    assert await state(tenant.client, cid) == {("whatsapp", "marketing"): "granted"}


async def test_inbound_for_an_unknown_contact_is_404(tenant: Tenant) -> None:
    response = await tenant.client.post(
        "/api/v1/contacts/con_missing/inbound",
        json={"channel": "whatsapp", "text": "hi", "timestamp": T0.isoformat()},
    )
    assert response.status_code == 404
    assert (
        await tenant.client.get("/api/v1/contacts/con_missing/conversations")
    ).status_code == 404


async def test_a_stop_stamped_slightly_ahead_of_our_clock_counts_at_once(tenant: Tenant) -> None:
    # The platform's clock may run a little ahead of ours (tolerated up to 5 minutes); the
    # person's STOP must not wait for our clock to catch up before it takes effect.
    cid = await contact(tenant.client)
    await grant(tenant.client, cid, "whatsapp", "marketing")
    await inbound(tenant.client, cid, "STOP", at=T0 + timedelta(minutes=2))
    assert (await state(tenant.client, cid))[("whatsapp", "marketing")] == "revoked"
    history = (await tenant.client.get(f"/api/v1/contacts/{cid}/consent/history")).json()
    assert at(history[-1]["occurred_at"]) == T0
    reported = T0 + timedelta(minutes=2)
    assert at(history[-1]["evidence"]["reported_occurred_at"]) == reported
    await inbound(tenant.client, cid, "START", at=T0 + timedelta(minutes=3))
    assert (await state(tenant.client, cid))[("whatsapp", "marketing")] == "granted"
