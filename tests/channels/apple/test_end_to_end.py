"""Apple Messages for Business over real HTTP: the emulator's MSP gateway posts JWT-signed
messages to /webhooks/apple/message, Threadline answers through the gateway's /v1/message."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.apple.harness import add_apple_account
from tests.channels.meta.harness import send_text
from tests.channels.whatsapp.harness import whatsapp_stack

OPAQUE = "urn:mbid:AQAAY2FmZWNhZmVjYWZlY2FmZQ"


async def test_a_customer_writes_and_the_answer_reaches_messages(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        account = await add_apple_account(stack)
        person = account.person(OPAQUE)
        await person.says("Do you have the blue sneakers in 42?")
        contact_id = await person.contact_id()
        answer = await send_text(stack, contact_id, "We do: shall I reserve a pair?")
        assert answer["status"] == "queued"
        (received,) = await person.received(1)
        assert (received["type"], received["body"]) == ("text", "We do: shall I reserve a pair?")
        assert received["destinationId"] == OPAQUE


async def test_outreach_the_customer_did_not_start_is_refused_before_apple_sees_it(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        account = await add_apple_account(stack)
        r = await stack.api.post(
            "/api/v1/contacts", json={"name": "Lee", "urns": [f"apple:{OPAQUE}"]}
        )
        assert r.status_code == 201, r.text
        answer = await send_text(
            stack, r.json()["id"], "Hi from the shop!", channel_id=account.channel_id
        )
        assert (answer["status"], answer["reason"]) == ("refused", "channel_cannot_initiate")
        assert "customer" in answer["detail"]
        r = await stack.emulator.get("/_emulator/apple/requests")
        assert r.json() == []  # nothing reached the gateway


async def test_closing_the_chat_opts_out(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        account = await add_apple_account(stack)
        person = account.person(OPAQUE)
        await person.says("hi")
        contact_id = await person.contact_id()
        await person.send(close=True)

        async def revoked() -> bool:
            r = await stack.api.get(f"/api/v1/contacts/{contact_id}/consent")
            return any(s["channel"] == "apple" and s["status"] == "revoked" for s in r.json())

        await stack.until(revoked)
        # Closed is over: not even a service answer goes, until the person writes again.
        answer = await send_text(stack, contact_id, "Anything else?")
        assert answer["status"] == "refused"
        assert answer["reason"] in ("channel_cannot_initiate", "window_closed")
        r = await stack.api.get(f"/api/v1/contacts/{contact_id}/consent/history")
        last = r.json()[-1]
        assert (last["action"], last["source"]) == ("revoke", "platform")
        assert last["evidence"]["reason"] == "closed"
