"""Email over real SMTP and real HTTP: Threadline sends through the emulator's relay, the
emulator posts people's replies, bounces (DSN) and complaints (ARF) to /webhooks/email, and
people click the one-click unsubscribe (RFC 8058) that Threadline serves."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.email.harness import POSTAL, SHOP, add_email_sender
from tests.channels.meta.harness import send_text
from tests.channels.whatsapp.harness import Stack, whatsapp_stack

ANA = "ana@people.example"


async def email_contact(stack: Stack, address: str, *, marketing: bool = True) -> str:
    r = await stack.api.post(
        "/api/v1/contacts", json={"name": "Ana", "urns": [f"mailto:{address}"]}
    )
    assert r.status_code == 201, r.text
    contact_id: str = r.json()["id"]
    for topic in ("marketing", "transactional") if marketing else ("transactional",):
        r = await stack.api.post(
            f"/api/v1/contacts/{contact_id}/consent",
            json={
                "action": "grant",
                "channel": "email",
                "topic": topic,
                "source": "widget",
                "disclosure": {"text": f"{topic} email from Integration Shop", "version": "1"},
            },
        )
        assert r.status_code == 201, r.text
    return contact_id


async def consent_of(stack: Stack, contact_id: str) -> dict[tuple[str, str], str]:
    r = await stack.api.get(f"/api/v1/contacts/{contact_id}/consent")
    return {(s["channel"], s["topic"]): s["status"] for s in r.json()}


async def test_a_reply_threads_into_the_conversation_both_ways(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        sender = await add_email_sender(stack)
        ana = sender.person(ANA)
        first = await ana.writes("Where is my order #1042?", "Hello, it has been a week.")
        contact_id = await ana.contact_id()

        await send_text(stack, contact_id, "It ships tomorrow morning.")
        (answer,) = await ana.received(1)
        headers = answer["headers"]
        assert answer["subject"] == "Re: Where is my order #1042?"
        assert headers["In-Reply-To"] == f"<{first}>"
        assert headers["From"] == f"Integration Shop <{SHOP}>"
        assert "List-Unsubscribe" not in headers  # a service answer is not bulk mail
        assert answer["text"].startswith("It ships tomorrow morning.")

        await ana.replies("Thanks! Can you send it to my office instead?")

        async def two_inbound() -> bool:
            r = await stack.api.get(f"/api/v1/contacts/{contact_id}/messages")
            return len([m for m in r.json() if m["direction"] == "in"]) == 2

        await stack.until(two_inbound)
        r = await stack.api.get(f"/api/v1/contacts/{contact_id}/messages")
        texts = [m["text"] for m in r.json() if m["direction"] == "in"]
        # The quoted history is not part of what she said.
        assert "Thanks! Can you send it to my office instead?" in texts
        assert not any("wrote:" in (t or "") for t in texts)
        r = await stack.api.get(f"/api/v1/contacts/{contact_id}/conversations")
        assert [c["channel"] for c in r.json()] == ["email"]


async def test_one_click_unsubscribe_through_real_http_writes_the_opt_out(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        sender = await add_email_sender(stack)
        ana = sender.person(ANA)
        contact_id = await email_contact(stack, ANA)
        offer = await send_text(stack, contact_id, "Spring sale: 20% off", purpose="marketing")
        assert offer["status"] == "queued", offer
        (mail,) = await ana.received(1)
        assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert f"<{stack.base_url}/email/unsubscribe/" in mail["headers"]["List-Unsubscribe"]
        assert POSTAL in mail["text"] and POSTAL in mail["html"]

        assert await ana.clicks_unsubscribe() == 200

        async def unsubscribed() -> bool:
            return (await consent_of(stack, contact_id)).get(("email", "marketing")) == "revoked"

        await stack.until(unsubscribed)
        assert (await consent_of(stack, contact_id))[("email", "transactional")] == "granted"
        again = await send_text(stack, contact_id, "Last chance", purpose="marketing")
        assert (again["status"], again["reason"]) == ("refused", "opted_out")


async def test_a_hard_bounce_suppresses_the_address_and_fails_the_message(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        sender = await add_email_sender(stack)
        ghost = sender.person("nobody@people.example")
        await ghost.behaves("bounce")
        contact_id = await email_contact(stack, ghost.address)
        sent = await send_text(stack, contact_id, "Your receipt", purpose="utility")

        async def bounced() -> bool:
            r = await stack.api.get(f"/api/v1/messages/{sent['id']}")
            return bool(r.json()["status"] == "failed")

        await stack.until(bounced)
        states = await consent_of(stack, contact_id)
        assert states[("email", "transactional")] == states[("email", "marketing")] == "revoked"
        history = (await stack.api.get(f"/api/v1/contacts/{contact_id}/consent/history")).json()
        assert history[-1]["evidence"]["reason"] == "hard_bounce"
        again = await send_text(stack, contact_id, "Your invoice", purpose="utility")
        assert (again["status"], again["reason"]) == ("refused", "opted_out")


async def test_a_spam_complaint_suppresses_the_address(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        sender = await add_email_sender(stack)
        ben = sender.person("ben@people.example")
        await ben.behaves("complain")
        contact_id = await email_contact(stack, ben.address)
        await send_text(stack, contact_id, "Spring sale", purpose="marketing")

        async def complained() -> bool:
            return (await consent_of(stack, contact_id)).get(("email", "marketing")) == "revoked"

        await stack.until(complained)
        history = (await stack.api.get(f"/api/v1/contacts/{contact_id}/consent/history")).json()
        assert history[-1]["evidence"]["reason"] == "complaint"
