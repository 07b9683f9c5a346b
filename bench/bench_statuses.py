"""Status events, the bulk of what a broadcast brings back: N outbound messages, then N
`delivered` and N `read` statuses stored as the receiver stores them, processed by one worker
(batched rounds: a channel's statuses of a round in a few statements)."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.channels.whatsapp.harness import OffsetClock

from threadline.channels import events as ev
from threadline.channels import service as channels
from threadline.contacts.models import Contact
from threadline.inbox import service as inbox
from threadline.kit.crypto import SecretBox
from threadline.kit.db import make_engine, make_sessionmaker, transaction
from threadline.kit.ids import new_id
from threadline.kit.migrate import upgrade
from threadline.messages.models import Message
from threadline.worker.ingest import ingest_once
from threadline.workspaces.service import create_workspace

N = int(os.environ.get("BENCH_STATUSES", "3000"))
PHONE_NUMBER_ID = "106540352242922"


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{Path(folder) / 's.db'}"
        await asyncio.to_thread(upgrade, url)
        clock = OffsetClock()
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        now = clock.now()
        async with transaction(sessions) as session:
            workspace = (await create_workspace(session, "bench", now)).workspace
            channel = await channels.add(
                session,
                workspace.id,
                channels.whatsapp_number(
                    PHONE_NUMBER_ID,
                    "102290129340398",
                    access_token="t",
                    app_secret="s",
                    verify_token="v",
                ),
                SecretBox("bench-secret-key"),
                now,
            )
            contacts = [
                {
                    "id": new_id("con"),
                    "workspace_id": workspace.id,
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
                    "workspace_id": workspace.id,
                    "contact_id": c["id"],
                    "channel_id": channel.id,
                    "direction": "out",
                    "address": f"whatsapp:5511{n:09d}",
                    "kind": "text",
                    "content": {},
                    "status": "accepted",
                    "attempts": 1,
                    "human_agent": False,
                    "provider_id": f"wamid.s{n}",
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
                        f"wamid.s{n}",
                        status,
                        now + timedelta(seconds=1),
                        f"5511{n:09d}",
                    )
                    for n in range(N)
                ]
                await inbox.store(session, channel, updates, now)
        start = time.perf_counter()
        processed = 0
        while done := await ingest_once(sessions, clock, limit=500):
            processed += done
        rate = processed / (time.perf_counter() - start)
        await engine.dispose()
    print(f"status processing, one worker: {rate:,.0f} status events/s for {processed} events")


if __name__ == "__main__":
    asyncio.run(main())
