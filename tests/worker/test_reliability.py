"""Failures on the way to the platform: retried until delivered, never sent twice."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.whatsapp.harness import Stack, post_signed, whatsapp_stack
from tests.channels.whatsapp.test_end_to_end import inbound_text
from threadline.inbox.models import InboxEvent
from threadline.messages.models import Message
from threadline.worker.dispatcher import DispatchConfig

FAST_RETRIES = DispatchConfig(
    http_timeout=0.5,
    reconcile_grace=timedelta(seconds=1),
    lease=timedelta(seconds=2),
    retry_base=0.05,
    throttle_wait=0.05,
    max_attempts=30,
)


async def open_windows(stack: Stack, users: list[str]) -> dict[str, str]:
    """Each simulated person writes first; returns wa_id → contact id."""
    for wa_id in users:
        await stack.add_user(wa_id, read=0)
        await stack.user_says(wa_id, "hi")

    async def all_known() -> bool:
        async with stack.sessions() as s:
            n = await s.scalar(
                select(func.count()).select_from(Message).where(Message.direction == "in")
            )
        return n == len(users)

    await stack.until(all_known, within=20)
    return {wa_id: await stack.contact_for(wa_id) for wa_id in users}


def accepted_per_message(requests: list[dict[str, Any]]) -> collections.Counter[str]:
    return collections.Counter(
        r["callback_data"] for r in requests if r["result"] == "accepted" and r["callback_data"]
    )


async def reached(count: Callable[[], Awaitable[int]], wanted: int) -> bool:
    return await count() >= wanted


async def kill_when(
    command: list[str], env: dict[str, str], ready: Callable[[], Awaitable[bool]], poll: float
) -> None:
    """Start a worker process and kill -9 it the moment `ready()` holds."""
    worker = await asyncio.create_subprocess_exec(*command, env=env)
    try:
        while not await ready():
            assert worker.returncode is None, "the worker died on its own"
            await asyncio.sleep(poll)
        worker.send_signal(signal.SIGKILL)
        await asyncio.wait_for(worker.wait(), 10)
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()


async def run_until(
    command: list[str],
    env: dict[str, str],
    done: Callable[[], Awaitable[bool]],
    within: float,
    linger: float = 0.0,
) -> None:
    """Start a worker process, let it run until `done()` holds (and `linger` s more), stop it."""
    worker = await asyncio.create_subprocess_exec(*command, env=env)
    try:
        deadline = asyncio.get_running_loop().time() + within
        while not await done():
            assert asyncio.get_running_loop().time() < deadline, "the work was not finished"
            assert worker.returncode is None, "the restarted worker died"
            await asyncio.sleep(0.1)
        await asyncio.sleep(linger)
    finally:
        worker.send_signal(signal.SIGTERM)
        await asyncio.wait_for(worker.wait(), 20)


async def test_5xx_timeouts_and_throttling_are_retried_until_delivered_exactly_once(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions, config=FAST_RETRIES) as stack:
        users = [f"55119{n:08d}" for n in range(20)]
        contacts = await open_windows(stack, users)
        await stack.emulator.post(
            "/_emulator/faults",
            json={"error_rate": 0.3, "timeout_rate": 0.2, "timeout_ms": 1500, "throttle_burst": 3},
        )
        ids = []
        for wa_id, contact_id in contacts.items():
            r = await stack.api.post(
                "/api/v1/messages",
                json={
                    "contact_id": contact_id,
                    "purpose": "service",
                    "content": {"type": "text", "body": f"Reply to {wa_id}"},
                },
            )
            assert r.json()["status"] == "queued"
            ids.append(r.json()["id"])

        async def all_out() -> bool:
            async with sessions() as s:
                pending = await s.scalar(
                    select(func.count())
                    .select_from(Message)
                    .where(Message.direction == "out", Message.status.in_(("queued", "sending")))
                )
            return pending == 0

        await stack.until(all_out, within=60)
        requests = await stack.requests()
        errors = collections.Counter(r["code"] for r in requests if r["result"] == "error")
        assert errors[131000] > 0 and errors[130429] == 3, errors
        per_message = accepted_per_message(requests)
        assert sorted(per_message) == sorted(ids)
        assert set(per_message.values()) == {1}, "a message reached the platform twice"
        for wa_id in users:
            texts = [m["text"]["body"] for m in await stack.inbox(wa_id)]
            assert texts == [f"Reply to {wa_id}"]
        async with sessions() as s:
            statuses = set(
                await s.scalars(select(Message.status).where(Message.direction == "out"))
            )
        assert statuses <= {"accepted", "sent", "delivered"}


async def test_worker_killed_mid_dispatch_then_restarted_delivers_each_message_once(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions, mps=200, real_time=True) as stack:
        users = [f"551197{n:07d}" for n in range(120)]
        contacts = await open_windows(stack, users)
        # Slow answers, so that the kill lands while requests are in flight.
        await stack.emulator.post("/_emulator/faults", json={"latency_ms": 40})
        for contact_id in contacts.values():
            r = await stack.api.post(
                "/api/v1/messages",
                json={
                    "contact_id": contact_id,
                    "purpose": "service",
                    "content": {"type": "text", "body": "Your answer"},
                },
            )
            assert r.json()["status"] == "queued"
        env = {
            **os.environ,
            "THREADLINE_DATABASE_URL": database_url,
            "THREADLINE_SECRET_KEY": stack.settings.secret_key.get_secret_value(),
            # Short enough for a quick test, long enough for status webhooks to arrive first
            # on a loaded machine (production: 30 s and 20 s).
            "THREADLINE_DISPATCH_LEASE_SECONDS": "4",
            "THREADLINE_RECONCILE_GRACE_SECONDS": "4",
            "THREADLINE_DISPATCH_BATCH": "40",
        }
        command = [sys.executable, "-m", "threadline.cli", "worker"]

        async def accepted() -> int:
            return len(accepted_per_message(await stack.requests()))

        await kill_when(command, env, lambda: reached(accepted, 30), poll=0.02)
        assert await accepted() < len(users), "the kill came too late to test anything"
        # The extra second and a half: anything sent twice would show up by then.
        await run_until(command, env, lambda: reached(accepted, len(users)), 60, linger=1.5)
        per_message = accepted_per_message(await stack.requests())
        assert len(per_message) == len(users)
        assert set(per_message.values()) == {1}, "a message reached the platform twice"
        for wa_id in users:
            assert len(await stack.inbox(wa_id)) == 1


async def test_worker_killed_mid_ingest_then_restarted_stores_each_inbound_message_once(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A round is one transaction: a kill -9 in the middle loses the round's work and its
    claims together, so the restarted worker does it again, once."""
    async with whatsapp_stack(database_url, sessions, real_time=True) as stack:
        now = int(stack.clock.now().timestamp())
        bodies = [
            inbound_text(f"551196{n:07d}", f"wamid.kill{n}", "hello", now) for n in range(400)
        ]
        for start in range(0, len(bodies), 50):
            answers = await asyncio.gather(
                *(post_signed(stack.base_url, b) for b in bodies[start : start + 50])
            )
            assert {a.status_code for a in answers} == {200}

        async def stored() -> int:
            async with stack.sessions() as s:
                count = await s.scalar(
                    select(func.count()).select_from(Message).where(Message.direction == "in")
                )
            return int(count or 0)

        env = {
            **os.environ,
            "THREADLINE_DATABASE_URL": database_url,
            "THREADLINE_SECRET_KEY": stack.settings.secret_key.get_secret_value(),
            # rounds small enough that a kill lands between two of them, not after the last
            "THREADLINE_INGEST_BATCH": "40",
        }
        command = [sys.executable, "-m", "threadline.cli", "worker", "--role", "ingest"]
        await kill_when(command, env, lambda: reached(stored, 20), poll=0.01)
        assert await stored() < len(bodies), "the kill came too late to test anything"
        await run_until(command, env, lambda: reached(stored, len(bodies)), 90)
        async with stack.sessions() as s:
            ids = list(
                await s.scalars(select(Message.provider_id).where(Message.direction == "in"))
            )
            pending = await s.scalar(
                select(func.count())
                .select_from(InboxEvent)
                .where(InboxEvent.processed_at.is_(None))
            )
        assert sorted(str(i) for i in ids) == sorted(f"wamid.kill{n}" for n in range(len(bodies)))
        assert pending == 0
