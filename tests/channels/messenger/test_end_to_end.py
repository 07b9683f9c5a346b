"""Messenger over the emulator, end to end: an agent's reply after the 24-hour window goes
tagged HUMAN_AGENT until day 7 while a bot's is refused before it is sent, and marketing
outside the window goes on the person's Marketing Messages token until they stop it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.meta.harness import person_on, send_text
from tests.channels.whatsapp.harness import whatsapp_stack

PSID = "5678000000000031"


async def test_an_agent_reply_on_day_3_goes_as_human_agent_and_a_bot_message_is_refused(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        person = await person_on(stack, "messenger", PSID)
        await person.says("My order never arrived")
        contact_id = await person.known_contact()
        await stack.advance(timedelta(days=3))

        bot = await send_text(stack, contact_id, "Can I help with anything else?")
        assert (bot["status"], bot["reason"]) == ("refused", "channel_cannot_initiate")
        agent = await send_text(
            stack, contact_id, "Sorry! A new one ships today.", human_agent=True
        )
        assert agent["status"] == "queued", agent
        (message,) = await person.received(1)
        assert message["text"] == "Sorry! A new one ships today."
        (body,) = await person.sent_bodies()
        assert (body["messaging_type"], body["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
        assert body["recipient"] == {"id": PSID}

        await stack.advance(timedelta(days=4, hours=1))  # day 7 and an hour
        late = await send_text(stack, contact_id, "Did it arrive?", human_agent=True)
        assert (late["status"], late["reason"]) == ("refused", "channel_cannot_initiate")
        for _ in range(3):
            await stack.work()
        assert len(await person.sent_bodies()) == 1, "nothing refused reached the platform"


async def test_marketing_outside_the_window_goes_on_the_subscription_token_until_stopped(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        person = await person_on(stack, "messenger", PSID)
        assert person.account is not None
        await person.says("hi")
        contact_id = await person.known_contact()
        await stack.advance(timedelta(days=2))
        promo = {"purpose": "marketing", "topic": "marketing"}

        before = await send_text(stack, contact_id, "20% off this weekend", **promo)
        # The window is the first rule to say no: outside it, marketing needs the token.
        assert (before["status"], before["reason"]) == ("refused", "subscription_required")
        optin = await person.account.control(
            f"/people/{PSID}/optin", {"title": "Weekly deals", "frequency": "WEEKLY"}
        )
        token = optin["entry"][0]["messaging"][0]["optin"]["notification_messages_token"]

        async def subscribed() -> bool:
            r = await stack.api.get(f"/api/v1/contacts/{contact_id}/consent")
            return "granted" in r.text

        await stack.until(subscribed)
        sale = await send_text(stack, contact_id, "20% off this weekend", **promo)
        assert sale["status"] == "queued", sale
        (message,) = await person.received(1)
        assert message["text"] == "20% off this weekend"
        (body,) = await person.sent_bodies()
        assert body["recipient"] == {"notification_messages_token": token}
        assert "messaging_type" not in body

        await person.account.control(f"/people/{PSID}/optout", {})

        async def stopped() -> bool:
            r = await stack.api.get(f"/api/v1/contacts/{contact_id}/consent")
            return "revoked" in r.text

        await stack.until(stopped)
        after = await send_text(stack, contact_id, "Last chance!", **promo)
        # Stopping the notifications revokes the consent the token was evidence of.
        assert (after["status"], after["reason"]) == ("refused", "opted_out")


@pytest.mark.parametrize("channel", ["messenger", "instagram"])
async def test_stop_is_confirmed_and_marketing_is_refused_after_it(
    channel: str, database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        person = await person_on(stack, channel, PSID)
        await person.says("STOP")
        contact_id = await person.known_contact()
        (confirmation,) = await person.received(1)
        assert confirmation["text"], "the opt-out is confirmed in the thread"

        async def revoked() -> bool:
            r = await stack.api.get(f"/api/v1/contacts/{contact_id}/consent")
            return "revoked" in r.text

        await stack.until(revoked)
        promo = await send_text(stack, contact_id, "New arrivals!", purpose="marketing")
        assert (promo["status"], promo["reason"]) == ("refused", "opted_out")


async def test_explain_names_the_basis_and_the_cost_report_counts_the_channel(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """What an agent sees before writing on day 3, and where the message is counted after."""
    async with whatsapp_stack(database_url, sessions) as stack:
        person = await person_on(stack, "messenger", PSID)
        await person.says("hello?")
        contact_id = await person.known_contact()
        await stack.advance(timedelta(days=3))

        async def explain(**question: Any) -> dict[str, Any]:
            body = {"contact_id": contact_id, "channel": "messenger", "purpose": "service"}
            r = await stack.api.post("/api/v1/policy/explain", json={**body, **question})
            assert r.status_code == 200, r.text
            found: dict[str, Any] = r.json()
            return found

        bot, agent = await explain(), await explain(human_agent=True)
        assert (bot["outcome"], bot["reason"], bot["basis"]) == (
            "refused",
            "channel_cannot_initiate",
            None,
        )
        assert "a human agent may reply for 7 days" in bot["detail"]
        assert (agent["outcome"], agent["basis"]) == ("allowed", "human_agent")

        await send_text(stack, contact_id, "Here now, sorry for the wait!", human_agent=True)
        await person.received(1)
        r = await stack.api.get("/api/v1/reports/cost", params={"group_by": "channel"})
        assert r.status_code == 200, r.text
        (line,) = r.json()["lines"]
        assert (line["key"], line["messages"], line["estimated"]) == ("messenger", 1, "0")
