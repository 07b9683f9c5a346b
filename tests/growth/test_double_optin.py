"""JOIN by message: the question, then YES in time grants with both messages as evidence;
anything else or a late YES grants nothing. Over the API's inbound route and, end to end,
over the WhatsApp emulator with a wa.me link's ref."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.whatsapp.harness import whatsapp_stack
from tests.conftest import Tenant
from tests.growth.helpers import DISCLOSURE, make_page
from threadline.kit.clock import FrozenClock


async def _contact(tenant: Tenant) -> str:
    r = await tenant.client.post("/api/v1/contacts", json={"urns": ["whatsapp:5511999990000"]})
    assert r.status_code == 201, r.text
    contact_id: str = r.json()["id"]
    return contact_id


async def _says(tenant: Tenant, contact_id: str, text: str, clock: FrozenClock) -> dict[str, Any]:
    r = await tenant.client.post(
        f"/api/v1/contacts/{contact_id}/inbound",
        json={
            "channel": "whatsapp",
            "text": text,
            "timestamp": clock.now().isoformat(),
            "message_id": f"wamid.{text}.{clock.now().timestamp()}",
        },
    )
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


async def _consent(tenant: Tenant, contact_id: str) -> list[dict[str, Any]]:
    r = await tenant.client.get(f"/api/v1/contacts/{contact_id}/consent/history")
    found: list[dict[str, Any]] = r.json()
    return found


async def test_join_asks_and_yes_in_time_grants_with_both_messages(
    tenant: Tenant, clock: FrozenClock
) -> None:
    page = await make_page(tenant)
    contact = await _contact(tenant)
    asked = await _says(tenant, contact, "join", clock)
    assert asked["keyword"] == "opt_in"
    assert DISCLOSURE in asked["reply"] and "Reply YES within 24 hours" in asked["reply"]
    assert await _consent(tenant, contact) == [], "a question is not consent"

    clock.advance(timedelta(hours=2))
    yes = await _says(tenant, contact, "Yes!", clock)
    assert "you're subscribed to Marketing messages" in yes["reply"]
    (line,) = await _consent(tenant, contact)
    assert (line["action"], line["channel"], line["source"]) == ("grant", "whatsapp", "keyword")
    assert line["disclosure_text"] == asked["reply"]
    assert line["disclosure_version"] == f"{page['id']}:v1"
    assert line["evidence"]["request"]["text"] == "join"
    assert line["evidence"]["confirmation"]["text"] == "Yes!"

    again = await _says(tenant, contact, "JOIN", clock)
    assert "you're subscribed" in again["reply"]
    assert len(await _consent(tenant, contact)) == 1


async def test_anything_else_or_a_late_yes_grants_nothing(
    tenant: Tenant, clock: FrozenClock
) -> None:
    await make_page(tenant, confirm_within_hours=1)
    contact = await _contact(tenant)
    await _says(tenant, contact, "JOIN", clock)
    other = await _says(tenant, contact, "what is this about?", clock)
    assert other["keyword"] == "none" and other["reply"] is None
    after_other = await _says(tenant, contact, "yes", clock)
    assert after_other["reply"] is None
    assert await _consent(tenant, contact) == []

    await _says(tenant, contact, "JOIN", clock)
    clock.advance(timedelta(hours=1, minutes=1))
    late = await _says(tenant, contact, "YES", clock)
    assert "expired" in late["reply"] and "Send JOIN" in late["reply"]
    assert await _consent(tenant, contact) == []
    # Only the exact keyword asks: a sentence with the word in it does not.
    chat = await _says(tenant, contact, "can I join the club tomorrow", clock)
    assert chat["reply"] is None


async def test_stop_while_asked_closes_the_question(tenant: Tenant, clock: FrozenClock) -> None:
    await make_page(tenant)
    contact = await _contact(tenant)
    await _says(tenant, contact, "JOIN", clock)
    await _says(tenant, contact, "STOP", clock)
    await _says(tenant, contact, "YES", clock)
    assert [e["action"] for e in await _consent(tenant, contact)] == ["revoke"]


async def test_a_wa_me_link_with_a_ref_over_the_emulator(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        r = await stack.api.post(
            "/api/v1/growth/pages",
            json={"topic": "marketing", "title": "Offers", "disclosure": DISCLOSURE},
        )
        assert r.status_code == 201, r.text
        page = r.json()
        assert page["urls"]["whatsapp"] == "https://wa.me/15550783881?text=JOIN"
        link = await stack.api.post(
            f"/api/v1/growth/pages/{page['id']}/links", json={"ref": "poster2", "source": "qr"}
        )
        assert link.json()["urls"]["whatsapp"] == "https://wa.me/15550783881?text=JOIN%20poster2"
        wa_id = "5511999990042"
        await stack.add_user(wa_id)
        await stack.user_says(wa_id, "JOIN poster2")

        async def asked() -> bool:
            return len(await stack.inbox(wa_id)) >= 1

        await stack.until(asked)
        (question,) = await stack.inbox(wa_id)
        assert "Reply YES" in str(question)
        await stack.user_says(wa_id, "YES")

        async def confirmed() -> bool:
            return len(await stack.inbox(wa_id)) >= 2

        await stack.until(confirmed)
        assert "you're subscribed" in str((await stack.inbox(wa_id))[1])
        contact_id = await stack.contact_for(wa_id)
        history = await stack.api.get(f"/api/v1/contacts/{contact_id}/consent/history")
        (line,) = history.json()
        assert (line["action"], line["source"], line["evidence"]["ref"]) == (
            "grant",
            "qr",
            "poster2",
        )
        report = await stack.api.get("/api/v1/reports/growth")
        rows = report.json()["rows"]
        assert [(r["source"], r["ref"], r["opt_ins"]) for r in rows] == [("qr", "poster2", 1)]
