"""Status webhooks move a message forward only, keep every step in its history, and align
Threadline's model with what the platform reports."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.whatsapp.harness import (
    PHONE_NUMBER_ID,
    Stack,
    messages_value,
    notification,
    post_signed,
    whatsapp_stack,
)
from threadline.kit.db import transaction
from threadline.messages.models import Message

USER = "5511955554444"


async def post_statuses(stack: Stack, statuses: list[dict[str, Any]]) -> None:
    body = notification("messages", messages_value(statuses=statuses))
    r = await post_signed(stack.base_url, body)
    assert r.status_code == 200, r


async def sent_message(stack: Stack) -> tuple[str, str, str]:
    """A reply that reached the (emulated) platform: (contact id, message id, provider id)."""
    await stack.add_user(USER, read=0)
    await stack.user_says(USER, "hello")

    async def known() -> bool:
        found = await stack.api.get("/api/v1/contacts", params={"urn": f"whatsapp:{USER}"})
        return bool(found.json()["items"])

    await stack.until(known)
    contact_id = await stack.contact_for(USER)
    answer = await stack.send(
        contact_id, "service", {"type": "text", "body": "Hi! How can we help?"}
    )
    message_id = answer["id"]

    async def accepted() -> bool:
        m = (await stack.api.get(f"/api/v1/messages/{message_id}")).json()
        return m["provider_id"] is not None and m["status"] in ("sent", "delivered")

    await stack.until(accepted)
    provider_id = (await stack.api.get(f"/api/v1/messages/{message_id}")).json()["provider_id"]
    return contact_id, message_id, provider_id


async def crafted(
    stack: Stack,
    sessions: async_sessionmaker[AsyncSession],
    contact_id: str,
    provider_id: str,
    current: str,
) -> str:
    """An outbound message the platform accepted, whose receipts the test then delivers."""
    now = stack.clock.now()
    message_id = f"msg_{provider_id.split('.')[-1].lower()}"
    async with transaction(sessions) as session:
        session.add(
            Message(
                id=message_id,
                workspace_id=stack.workspace_id,
                contact_id=contact_id,
                channel_id=stack.channel_id,
                direction="out",
                address=f"whatsapp:{USER}",
                kind="text",
                content={"type": "text", "body": "x"},
                status=current,
                provider_id=provider_id,
                attempts=1,
                created_at=now,
                updated_at=now,
            )
        )
    return message_id


def status(provider_id: str, value: str, ts: int, **extra: Any) -> dict[str, Any]:
    return {"id": provider_id, "status": value, "timestamp": str(ts), "recipient_id": USER, **extra}


async def test_a_late_delivered_never_overwrites_read(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        contact_id, _, _ = await sent_message(stack)
        message_id = await crafted(stack, sessions, contact_id, "wamid.LATE", "accepted")
        now = stack.clock.now()
        ts = int(now.timestamp())
        await post_statuses(stack, [status("wamid.LATE", "read", ts + 5)])
        await stack.work()
        await post_statuses(stack, [status("wamid.LATE", "delivered", ts + 3)])
        await stack.work()
        detail = (await stack.api.get(f"/api/v1/messages/{message_id}")).json()
        assert detail["status"] == "read"
        assert [h["status"] for h in detail["history"]] == ["read", "delivered"]


async def test_a_failure_after_sent_is_shown_with_its_error(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        contact_id, _, _ = await sent_message(stack)
        message_id = await crafted(stack, sessions, contact_id, "wamid.FAILS", "sent")
        ts = int(stack.clock.now().timestamp())
        await post_statuses(
            stack,
            [
                status(
                    "wamid.FAILS",
                    "failed",
                    ts + 2,
                    errors=[{"code": 131026, "title": "Message undeliverable"}],
                )
            ],
        )
        await stack.work()
        detail = (await stack.api.get(f"/api/v1/messages/{message_id}")).json()
        assert detail["status"] == "failed"
        assert detail["error_code"] == 131026
        assert detail["error_class"] == "undeliverable"
        assert [h["status"] for h in detail["history"]] == ["failed"]


async def test_131047_from_the_platform_closes_the_window_in_our_model(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        contact_id, _, provider_id = await sent_message(stack)
        ts = int(stack.clock.now().timestamp())
        await post_statuses(
            stack,
            [
                status(
                    provider_id,
                    "failed",
                    ts + 1,
                    errors=[{"code": 131047, "title": "Re-engagement message"}],
                )
            ],
        )
        await stack.work()
        windows = (await stack.api.get(f"/api/v1/contacts/{contact_id}/conversations")).json()
        assert windows[0]["open"] is False
        retry = await stack.send(
            contact_id, "service", {"type": "text", "body": "Are you still there?"}
        )
        assert retry["status"] == "refused"
        assert retry["reason"] == "window_closed"


async def test_131050_from_the_platform_revokes_marketing_consent(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        contact_id, _, provider_id = await sent_message(stack)
        await stack.grant(contact_id)
        ts = int(stack.clock.now().timestamp())
        await post_statuses(
            stack,
            [
                status(
                    provider_id,
                    "failed",
                    ts + 1,
                    errors=[{"code": 131050, "title": "User has stopped marketing messages"}],
                )
            ],
        )
        await stack.work()
        state = (await stack.api.get(f"/api/v1/contacts/{contact_id}/consent")).json()
        marketing = [s for s in state if s["topic"] == "marketing"]
        assert marketing and marketing[0]["status"] == "revoked"
        history = (await stack.api.get(f"/api/v1/contacts/{contact_id}/consent/history")).json()
        assert history[-1]["source"] == "platform"


async def test_marketing_stop_and_resume_preferences_reach_the_ledger(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        contact_id, _, _ = await sent_message(stack)
        await stack.grant(contact_id)

        async def marketing_status() -> str:
            state = (await stack.api.get(f"/api/v1/contacts/{contact_id}/consent")).json()
            return str(next(s["status"] for s in state if s["topic"] == "marketing"))

        await stack.emulator.post(
            f"/_emulator/users/{USER}/marketing",
            json={"phone_number_id": PHONE_NUMBER_ID, "value": "stop"},
        )

        async def revoked() -> bool:
            return await marketing_status() == "revoked"

        await stack.until(revoked)
        await stack.emulator.post(
            f"/_emulator/users/{USER}/marketing",
            json={"phone_number_id": PHONE_NUMBER_ID, "value": "resume"},
        )

        async def granted() -> bool:
            return await marketing_status() == "granted"

        await stack.until(granted)
