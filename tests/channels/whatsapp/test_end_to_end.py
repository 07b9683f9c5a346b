"""Threadline and the emulator over real HTTP: inbound, windows, templates, opt-out."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.whatsapp.harness import (
    Stack,
    messages_value,
    notification,
    post_signed,
    whatsapp_stack,
)
from threadline.inbox.models import InboxEvent
from threadline.messages.models import Message

USER = "5511988887777"


def inbound_text(wa_id: str, message_id: str, text: str, timestamp: int) -> bytes:
    return notification(
        "messages",
        messages_value(
            contacts=[{"profile": {"name": "Ana"}, "wa_id": wa_id}],
            messages=[
                {
                    "from": wa_id,
                    "id": message_id,
                    "timestamp": str(timestamp),
                    "type": "text",
                    "text": {"body": text},
                }
            ],
        ),
    )


async def count(sessions: async_sessionmaker[AsyncSession], **where: Any) -> int:
    async with sessions() as s:
        stmt = select(func.count()).select_from(Message)
        for key, value in where.items():
            stmt = stmt.where(getattr(Message, key) == value)
        return int(await s.scalar(stmt) or 0)


async def test_inbound_delivered_three_times_is_stored_once(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        body = inbound_text(USER, "wamid.TRIPLE", "Hello", int(stack.clock.now().timestamp()))
        answers = [await post_signed(stack.base_url, body) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert [a.json()["stored"] for a in answers] == [1, 0, 0]
        await stack.work()
        await stack.work()
        assert await count(sessions, direction="in") == 1
        contact_id = await stack.contact_for(USER)
        thread = (await stack.api.get(f"/api/v1/contacts/{contact_id}/messages")).json()
        assert [m["text"] for m in thread] == ["Hello"]


async def test_webhook_with_a_bad_signature_is_rejected_and_not_stored(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        body = inbound_text(USER, "wamid.FORGED", "hi", 1_700_000_000)
        forged = await post_signed(stack.base_url, body, secret="wrong")
        async with httpx.AsyncClient(base_url=stack.base_url) as http:
            missing = await http.post("/webhooks/whatsapp", content=body)
        assert forged.status_code == 401 and missing.status_code == 401
        assert "X-Hub-Signature-256" in forged.json()["message"]
        await stack.work()
        assert await count(sessions) == 0


async def test_free_form_after_the_window_closed_is_refused_and_never_sent(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await stack.add_user(USER, read=0)
        await stack.user_says(USER, "Do you have this in blue?")
        await stack.until(lambda: _has_contact(stack))
        contact_id = await stack.contact_for(USER)
        inside = await stack.send(contact_id, "service", {"type": "text", "body": "Yes, we do!"})
        assert inside["status"] == "queued"
        await stack.until(lambda: _inbox_size(stack, USER, 1))

        stack.clock.advance(timedelta(hours=25))
        await stack.emulator.post("/_emulator/clock/advance", json={"seconds": 25 * 3600})
        late = await stack.send(contact_id, "service", {"type": "text", "body": "Anything else?"})
        assert late["status"] == "refused"
        assert late["reason"] == "window_closed"
        for _ in range(5):
            await stack.work()
        sent = [r for r in await stack.requests() if r["result"] == "accepted"]
        assert len(sent) == 1, "only the in-window reply reached the platform"


async def _has_contact(stack: Stack) -> bool:
    r = await stack.api.get("/api/v1/contacts", params={"urn": f"whatsapp:{USER}"})
    return bool(r.json()["items"])


async def _inbox_size(stack: Stack, wa_id: str, size: int) -> bool:
    return len(await stack.inbox(wa_id)) >= size


async def test_template_outside_the_window_goes_out_and_is_delivered(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await stack.add_user("5511977776666", read=1.0)
        await stack.add_template("order_update", "UTILITY", "Your order {{1}} has shipped")
        assert await stack.sync_templates() == 1
        created = await stack.api.post(
            "/api/v1/contacts", json={"urns": ["whatsapp:+5511977776666"]}
        )
        contact_id = created.json()["id"]
        await stack.grant(contact_id, "transactional")
        sent = await stack.send(
            contact_id, "utility", {"type": "template", "name": "order_update", "body": ["A-1001"]}
        )
        assert sent["status"] == "queued", sent
        message_id = sent["id"]

        async def read() -> bool:
            r = await stack.api.get(f"/api/v1/messages/{message_id}")
            return bool(r.json()["status"] == "read")

        await stack.until(read)
        detail = (await stack.api.get(f"/api/v1/messages/{message_id}")).json()
        statuses = [h["status"] for h in detail["history"]]
        assert statuses[0] == "queued" and "accepted" in statuses
        assert {"sent", "delivered", "read"} <= set(statuses)
        assert detail["pricing"]["category"] == "utility"
        assert detail["pricing"]["type"] == "regular"
        inbox = await stack.inbox("5511977776666")
        assert inbox[0]["template"]["name"] == "order_update"


async def test_stop_means_no_further_marketing(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await stack.add_user(USER, read=0)
        await stack.add_template("spring_sale", "MARKETING", "Spring sale: {{1}} off")
        await stack.sync_templates()
        await stack.user_says(USER, "hello")
        await stack.until(lambda: _has_contact(stack))
        contact_id = await stack.contact_for(USER)
        await stack.grant(contact_id)
        await stack.user_says(USER, "STOP")

        async def confirmed() -> bool:
            return any(
                m.get("text", {})
                .get("body", "")
                .startswith("Integration Shop: you're unsubscribed")
                for m in await stack.inbox(USER)
            )

        await stack.until(confirmed)
        promo = await stack.send(
            contact_id, "marketing", {"type": "template", "name": "spring_sale", "body": ["20%"]}
        )
        assert promo["status"] == "refused"
        assert promo["reason"] == "opted_out"
        for _ in range(3):
            await stack.work()
        assert not any(m.get("type") == "template" for m in await stack.inbox(USER))


async def test_inbound_media_is_fetched_through_the_media_id_lookup(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await stack.add_user(USER, read=0)
        await stack.user_says(USER, "receipt-scan-bytes", type="image")

        async def stored() -> bool:
            return await count(sessions, direction="in") == 1

        await stack.until(stored)
        contact_id = await stack.contact_for(USER)
        (message,) = (await stack.api.get(f"/api/v1/contacts/{contact_id}/messages")).json()
        assert message["kind"] == "image"
        media = await stack.api.get(f"/api/v1/messages/{message['id']}/media")
        assert media.status_code == 200
        assert media.content == b"receipt-scan-bytes"
        assert media.headers["content-type"].startswith("image/jpeg")
        text_only = await stack.send(contact_id, "service", {"type": "text", "body": "Got it"})
        none = await stack.api.get(f"/api/v1/messages/{text_only['id']}/media")
        assert none.status_code == 404


async def test_double_opt_in_prompt_goes_out_in_the_window_and_start_confirms(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await stack.add_user(USER, read=0)
        await stack.user_says(USER, "I'd like your offers")
        await stack.until(lambda: _has_contact(stack))
        contact_id = await stack.contact_for(USER)
        request = await stack.api.post(
            f"/api/v1/contacts/{contact_id}/consent",
            json={
                "action": "request",
                "channel": "whatsapp",
                "topic": "marketing",
                "source": "widget",
                "disclosure": {
                    "text": "Offers on WhatsApp, reply START to confirm",
                    "version": "1",
                },
            },
        )
        assert request.status_code == 201, request.text
        assert request.json()["prompt"]["status"] == "queued"

        async def prompted() -> bool:
            return any(
                "reply START" in m.get("text", {}).get("body", "") for m in await stack.inbox(USER)
            )

        await stack.until(prompted)
        await stack.user_says(USER, "START")

        async def confirmed() -> bool:
            state = (await stack.api.get(f"/api/v1/contacts/{contact_id}/consent")).json()
            return {"channel": "whatsapp", "topic": "marketing", "status": "granted"} in state

        await stack.until(confirmed)


async def test_double_opt_in_prompt_outside_the_window_is_reported_not_sent(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await stack.add_user("5511933332222", read=0)
        created = await stack.api.post(
            "/api/v1/contacts", json={"urns": ["whatsapp:+5511933332222"]}
        )
        contact_id = created.json()["id"]
        request = await stack.api.post(
            f"/api/v1/contacts/{contact_id}/consent",
            json={
                "action": "request",
                "channel": "whatsapp",
                "topic": "marketing",
                "source": "widget",
                "disclosure": {"text": "Offers on WhatsApp", "version": "1"},
            },
        )
        prompt = request.json()["prompt"]
        assert (prompt["status"], prompt["reason"]) == ("refused", "window_closed")
        await stack.work()
        assert await stack.inbox("5511933332222") == []


async def test_an_opt_out_while_queued_stops_the_send_at_dispatch(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await stack.add_user(USER, read=0)
        await stack.add_template("spring_sale", "MARKETING", "Spring sale: {{1}} off")
        await stack.sync_templates()
        await stack.user_says(USER, "hello")
        await stack.until(lambda: _has_contact(stack))
        contact_id = await stack.contact_for(USER)
        await stack.grant(contact_id)
        promo = await stack.send(
            contact_id,
            "marketing",
            {"type": "template", "name": "spring_sale", "body": ["20%"]},
        )
        assert promo["status"] == "queued"
        # STOP arrives while the promotion waits in the outbox; the worker ingests before it
        # dispatches, and the dispatcher asks the policy again.
        await stack.user_says(USER, "STOP")

        async def stop_stored() -> bool:
            async with sessions() as s:
                n = await s.scalar(
                    select(func.count()).select_from(InboxEvent).where(InboxEvent.kind == "message")
                )
            return n == 2

        deadline = asyncio.get_running_loop().time() + 10
        while not await stop_stored():
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.02)
        await stack.work()
        detail = (await stack.api.get(f"/api/v1/messages/{promo['id']}")).json()
        assert detail["status"] == "refused"
        assert detail["reason"] == "opted_out"
        assert [h["status"] for h in detail["history"]] == ["queued", "refused"]
        await stack.work()
        assert not any(m.get("type") == "template" for m in await stack.inbox(USER))
        assert not any(r["type"] == "template" for r in await stack.requests())
