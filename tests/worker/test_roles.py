"""A worker runs one role or both: `ingest` handles platform events (and flow timers) and
never sends; `dispatch` drains the outbox and never processes events."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.whatsapp.harness import Stack, whatsapp_stack
from threadline.inbox.models import InboxEvent
from threadline.kit.clock import SystemClock
from threadline.worker.loop import Role, idle_sleeps, run_worker

USER = "5511944443333"


async def run_for(stack: Stack, role: Role, seconds: float = 1.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_worker(stack.sessions, stack.settings.secret_box(), SystemClock(), stop, role=role)
    )
    await asyncio.sleep(seconds)
    stop.set()
    await task


async def pending_events(stack: Stack) -> int:
    async with stack.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(InboxEvent).where(InboxEvent.processed_at.is_(None))
        )
        return int(count or 0)


async def test_each_role_does_its_part_only(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions, real_time=True) as stack:
        await stack.add_user(USER, read=0)
        await stack.user_says(USER, "hello")
        for _ in range(100):
            if await pending_events(stack):
                break
            await asyncio.sleep(0.02)
        await run_for(stack, Role.DISPATCH)
        assert await pending_events(stack) == 1, "a dispatch worker processes no events"

        await run_for(stack, Role.INGEST)
        assert await pending_events(stack) == 0
        contact_id = await stack.contact_for(USER)
        answer = await stack.send(contact_id, "service", {"type": "text", "body": "Hi!"})
        assert answer["status"] == "queued"
        await run_for(stack, Role.INGEST)
        assert await stack.inbox(USER) == [], "an ingest worker sends nothing"

        await run_for(stack, Role.DISPATCH)
        (received,) = await stack.inbox(USER)
        assert received.get("message", received)["text"]["body"] == "Hi!"


def test_an_idle_worker_looks_again_soon_then_less_often() -> None:
    """Right after work the next look comes within 5 ms (a reply waits no longer than
    that); an idle worker backs off to 50 ms between looks, each look being a query."""
    waits = idle_sleeps()
    assert [next(waits) for _ in range(7)] == [0.005, 0.01, 0.02, 0.04, 0.05, 0.05, 0.05]
