"""Status events, the bulk of what a broadcast brings back: N outbound messages, then N
`delivered` and N `read` statuses stored as the receiver stores them, processed by one worker
(batched rounds: a channel's statuses of a round in a few statements)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.channels.whatsapp.harness import OffsetClock

from bench.common import PHONE_NUMBER_ID, goal, workspace_with_number
from threadline.channels import events as ev
from threadline.channels.models import ChannelAccount
from threadline.contacts.models import Contact
from threadline.inbox import service as inbox
from threadline.inbox.models import InboxEvent
from threadline.kit.db import make_engine, make_sessionmaker, transaction
from threadline.kit.ids import new_id
from threadline.kit.migrate import upgrade
from threadline.messages.models import Message
from threadline.worker.ingest import ingest_once

N = int(os.environ.get("BENCH_STATUSES", "3000"))


async def seed(
    sessions: async_sessionmaker[AsyncSession], channel: ChannelAccount, tag: str, now: datetime
) -> None:
    """N contacts with one accepted message each, then `delivered` and `read` for each."""
    async with transaction(sessions) as session:
        contacts = [
            {
                "id": new_id("con"),
                "workspace_id": channel.workspace_id,
                "name": "",
                "fields": {},
                "interests": [],
                "holdout_bucket": 1,
                "created_at": now,
                "updated_at": now,
            }
            for _ in range(N)
        ]
        await session.execute(insert(Contact), contacts)
        rows = [
            {
                "id": new_id("msg"),
                "workspace_id": channel.workspace_id,
                "contact_id": c["id"],
                "channel_id": channel.id,
                "direction": "out",
                "address": f"whatsapp:55{tag}{n:09d}",
                "kind": "text",
                "content": {},
                "status": "accepted",
                "attempts": 1,
                "human_agent": False,
                "provider_id": f"wamid.{tag}.{n}",
                "created_at": now,
                "updated_at": now,
            }
            for n, c in enumerate(contacts)
        ]
        await session.execute(insert(Message), rows)
        for status in ("delivered", "read"):
            updates = [
                ev.StatusUpdate(
                    PHONE_NUMBER_ID,
                    f"wamid.{tag}.{n}",
                    status,
                    now + timedelta(seconds=1),
                    f"55{tag}{n:09d}",
                )
                for n in range(N)
            ]
            await inbox.store(session, channel, updates, now)


async def pending(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(InboxEvent).where(InboxEvent.processed_at.is_(None))
        )
        return int(count or 0)


async def with_processes(
    sessions: async_sessionmaker[AsyncSession], url: str, workers: int
) -> float:
    """Status events/s with `workers` `threadline worker --role ingest` processes, timed
    from the first round's commit to the last: a process's start-up (imports, connecting,
    about a second) is not processing, and would weigh on two processes as on one."""
    env = {**os.environ, "THREADLINE_DATABASE_URL": url, "THREADLINE_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "threadline.cli", "worker", "--role", "ingest"]
    total = await pending(sessions)
    procs = [subprocess.Popen(command, env=env) for _ in range(workers)]
    try:
        while (left := await pending(sessions)) == total:  # noqa: ASYNC110 - others work
            await asyncio.sleep(0.01)
        start = time.perf_counter()
        while await pending(sessions):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        return left / (time.perf_counter() - start)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=20)


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{Path(folder) / 's.db'}"
        await asyncio.to_thread(upgrade, url)
        clock = OffsetClock()
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        now = clock.now()
        async with transaction(sessions) as session:
            channel = await workspace_with_number(session, now)
        await seed(sessions, channel, "11", now)
        start = time.perf_counter()
        processed = 0
        while done := await ingest_once(sessions, clock, limit=500):
            processed += done
        rate = processed / (time.perf_counter() - start)
        print(f"status processing, one worker: {rate:,.0f} status events/s for {processed} events")
        print(goal(f"status events >= 5,000/s, one worker (measured {rate:,.0f}/s)", rate >= 5000))
        if url.startswith("postgresql"):
            await seed(sessions, channel, "21", now)
            one = await with_processes(sessions, url, 1)
            await seed(sessions, channel, "31", now)
            two = await with_processes(sessions, url, 2)
            print(
                f"worker processes on PostgreSQL: one {one:,.0f}/s, two {two:,.0f}/s "
                f"({two / one:.2f}x one), from the first round's commit to the last"
            )
            print(goal(f"two workers >= 1.4x one (measured {two / one:.2f}x)", two >= 1.4 * one))
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
