"""Fallback over the emulator: a message the contact strategy sent that fails as undeliverable
(or is not delivered in time, where the first channel stops trying by then) goes out once on
the next channel; a delivered one never does; without consent there, the reason is kept."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.sms.harness import Texter, add_sms_number
from tests.channels.whatsapp.harness import Stack, whatsapp_stack

PHONE = "+5511966665555"
WA_ID = PHONE.lstrip("+")
FAST_UPDATE = """
name: order_update_fast
category: UTILITY
language: en_US
message_send_ttl_seconds: 60
components:
  body:
    text: "Order {{1}} is on its way."
    variables: [{field: order_id, example: "1042"}]
"""


async def person(stack: Stack, *, sms_consent: bool = True, **wa: Any) -> tuple[str, Texter]:
    """Someone on WhatsApp (who wrote, so the window is open) and on SMS, one contact."""
    number = await add_sms_number(stack)
    texter = await number.person(PHONE)
    await stack.add_user(WA_ID, **wa)
    await stack.user_says(WA_ID, "hi")

    async def known() -> bool:
        r = await stack.api.get("/api/v1/contacts", params={"urn": f"whatsapp:{WA_ID}"})
        return bool(r.json()["items"])

    await stack.until(known)
    contact_id = await stack.contact_for(WA_ID)
    r = await stack.api.post(f"/api/v1/contacts/{contact_id}/urns", json={"urn": f"tel:{PHONE}"})
    assert r.status_code in (200, 201), r.text
    if sms_consent:
        r = await stack.api.post(
            f"/api/v1/contacts/{contact_id}/consent",
            json={
                "action": "grant",
                "channel": "sms",
                "topic": "transactional",
                "source": "checkout_checkbox",
                "disclosure": {"text": "Order updates by text", "version": "1"},
            },
        )
        assert r.status_code == 201, r.text
    return contact_id, texter


async def send(
    stack: Stack, contact_id: str, content: dict[str, Any], after: int
) -> dict[str, Any]:
    r = await stack.api.post(
        "/api/v1/messages",
        json={
            "contact_id": contact_id,
            "purpose": "utility",
            "content": content,
            "by_strategy": True,
            "fallback_after": after,
        },
    )
    assert r.status_code == 201, r.text
    answer: dict[str, Any] = r.json()
    return answer


async def outbound(stack: Stack, contact_id: str) -> list[dict[str, Any]]:
    r = await stack.api.get(f"/api/v1/contacts/{contact_id}/messages")
    return [m for m in r.json() if m["direction"] == "out"]


async def history(stack: Stack, message_id: str) -> list[str]:
    r = await stack.api.get(f"/api/v1/messages/{message_id}")
    return [h["detail"] or "" for h in r.json()["history"]]


async def test_whatsapp_undeliverable_falls_back_to_one_sms(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        contact_id, texter = await person(stack, unreachable=True)
        first = await send(stack, contact_id, {"type": "text", "body": "Order 1042 shipped"}, 600)
        assert [r["channel"] for r in first["route"] if r["chosen"]] == ["whatsapp"]
        assert await texter.received(1) == ["Order 1042 shipped"]
        for _ in range(5):
            await stack.work()
        assert len(await texter.texts()) == 1  # once, however often the worker runs

        sent = await outbound(stack, contact_id)
        assert len(sent) == 2
        whatsapp = next(m for m in sent if m["id"] == first["id"])
        sms = next(m for m in sent if m["id"] != first["id"])
        assert (whatsapp["status"], whatsapp["error_code"]) == ("failed", 131026)
        assert sms["logical_id"] == whatsapp["logical_id"] == first["id"]
        notes = await history(stack, first["id"])
        assert any(n.startswith("fell back to sms: failed: undeliverable") for n in notes)
        # WhatsApp keeps trying free-form messages for 30 days: only a failure may fall back.
        assert any(
            "timed fallback off: whatsapp may deliver this up to 30 days" in n for n in notes
        )


async def test_without_sms_consent_there_is_no_fallback_and_the_reason_is_kept(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        contact_id, texter = await person(stack, sms_consent=False, unreachable=True)
        first = await send(stack, contact_id, {"type": "text", "body": "Order 1042 shipped"}, 600)

        async def recorded() -> bool:
            return any(n.startswith("no fallback") for n in await history(stack, first["id"]))

        await stack.until(recorded)
        (note,) = [n for n in await history(stack, first["id"]) if n.startswith("no fallback")]
        assert "sms skipped (no_consent" in note
        assert await texter.texts() == []
        assert len(await outbound(stack, contact_id)) == 1


async def test_delivered_on_whatsapp_in_time_means_no_sms(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        r = await stack.api.post(
            f"/api/v1/channels/{stack.channel_id}/templates", json={"source": FAST_UPDATE}
        )
        assert r.status_code == 201, r.text
        template_id = r.json()[0]["id"]
        r = await stack.emulator.post(
            "/_emulator/templates/review", json={"waba_id": "102290129340398"}
        )
        assert r.status_code == 200, r.text

        async def approved() -> bool:
            got = (await stack.api.get(f"/api/v1/templates/{template_id}")).json()
            return bool(got["status"] == "approved")

        await stack.until(approved)
        contact_id, texter = await person(stack)
        content = {"type": "template", "name": "order_update_fast", "body": ["1042"]}
        first = await send(stack, contact_id, content, 120)
        assert first["fallback_at"] is not None  # the template's 60 s TTL is within 120 s

        async def delivered() -> bool:
            r = await stack.api.get(f"/api/v1/messages/{first['id']}")
            return r.json()["status"] in ("delivered", "read")

        await stack.until(delivered)
        await stack.advance(timedelta(seconds=300))
        for _ in range(5):
            await stack.work()
        assert await texter.texts() == []
        assert len(await outbound(stack, contact_id)) == 1


async def test_an_sms_not_delivered_in_time_expires_and_falls_back(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        r = await stack.api.patch(
            "/api/v1/workspace/settings",
            json={"contact_strategy": {"utility": {"order": ["sms", "whatsapp"]}}},
        )
        assert r.status_code == 200, r.text
        contact_id, texter = await person(stack)
        r = await stack.emulator.post(f"/_emulator/sms/people/{PHONE}", json={"behaviour": "never"})
        assert r.status_code == 200, r.text
        first = await send(stack, contact_id, {"type": "text", "body": "Order 1042 shipped"}, 90)
        assert [r["channel"] for r in first["route"] if r["chosen"]] == ["sms"]

        async def on_the_wire() -> bool:
            return len(await texter.number.log()) >= 1

        await stack.until(on_the_wire)
        (sent,) = [e for e in await texter.number.log() if e.get("direction") == "outbound-api"]
        assert dict(sent["form"])["ValidityPeriod"] == "90"  # the provider drops it after

        await stack.advance(timedelta(seconds=91))

        async def on_whatsapp() -> bool:
            return any(
                m.get("text", {}).get("body") == "Order 1042 shipped"
                for m in await stack.inbox(WA_ID)
            )

        await stack.until(on_whatsapp)
        notes = await history(stack, first["id"])
        assert any(n.startswith("fell back to whatsapp: not delivered within 90 s") for n in notes)
