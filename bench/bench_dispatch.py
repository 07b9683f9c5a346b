"""Dispatcher throughput to the emulator with the number's limit at 1,000 msg/s.

Queues N utility-template messages (one per contact, each with a transactional opt-in), runs
the dispatcher until the outbox is empty and reads the emulator's request log: messages per
second, and how many one-second windows carried more than the limit (must be 0)."""

from __future__ import annotations

import asyncio
import collections
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import func, select
from tests.channels.whatsapp.harness import (
    PHONE_NUMBER_ID,
    WABA_ID,
    OffsetClock,
    free_port,
)

from threadline.channels import service as channels
from threadline.consent.models import ConsentEvent
from threadline.contacts.models import Contact, ContactURN
from threadline.kit.crypto import SecretBox
from threadline.kit.db import make_engine, make_sessionmaker, transaction
from threadline.kit.ids import new_id
from threadline.kit.migrate import upgrade
from threadline.messages.models import Message
from threadline.templates.service import upsert
from threadline.worker.dispatcher import DispatchConfig, Dispatcher
from threadline.workspaces.service import create_workspace

LIMIT = 1000
MESSAGES = int(__import__("os").environ.get("BENCH_MESSAGES", "6000"))


async def _wait(control: httpx.AsyncClient) -> None:
    for _ in range(200):
        try:
            await control.get("/_emulator/stats")
            return
        except httpx.HTTPError:
            await asyncio.sleep(0.05)
    raise RuntimeError("emulator did not start")


async def main() -> None:
    box = SecretBox("bench")
    clock = OffsetClock()
    with tempfile.TemporaryDirectory() as folder:
        url = (
            os.environ.get("BENCH_DATABASE_URL")
            or f"sqlite+aiosqlite:///{Path(folder) / 'dispatch.db'}"
        )
        await asyncio.to_thread(upgrade, url)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        port = free_port()
        emulator_url = f"http://127.0.0.1:{port}"
        # The emulator runs in its own process, as in the demo: the dispatcher is measured
        # against a platform that does not share its CPU time.
        child = subprocess.Popen(
            [sys.executable, "-m", "threadline.cli", "emulator", "--port", str(port)]
        )
        control = httpx.AsyncClient(base_url=emulator_url, timeout=60)
        try:
            await _wait(control)
            await control.post(
                "/_emulator/numbers",
                json={
                    "phone_number_id": PHONE_NUMBER_ID,
                    "waba_id": WABA_ID,
                    "display_phone_number": "1555",
                    "access_token": "t",
                    "app_secret": "s",
                    "mps": LIMIT,
                    "tier": None,
                },
            )
            await control.post(
                "/_emulator/templates",
                json={
                    "waba_id": WABA_ID,
                    "name": "order_update",
                    "category": "UTILITY",
                    "body": "Order {{1}} shipped",
                },
            )
            users = [{"wa_id": f"5511{900000000 + n}", "read": 0} for n in range(MESSAGES)]
            await control.post("/_emulator/users/bulk", json={"users": users})
            now = clock.now()
            async with transaction(sessions) as session:
                workspace = (await create_workspace(session, "bench", now)).workspace
                channel = await channels.add(
                    session,
                    workspace.id,
                    channels.whatsapp_number(
                        PHONE_NUMBER_ID,
                        WABA_ID,
                        access_token="t",
                        app_secret="s",
                        verify_token="v",
                        graph_url=emulator_url,
                        throughput_mps=LIMIT,
                        messaging_limit=None,
                    ),
                    box,
                    now,
                )
                await upsert(
                    session,
                    workspace.id,
                    WABA_ID,
                    name="order_update",
                    language="en_US",
                    category="UTILITY",
                    status="APPROVED",
                    provider_id="1",
                    components=[],
                    now=now,
                )
                ids = [new_id("con") for _ in range(MESSAGES)]
                for contact_id in ids:
                    session.add(
                        Contact(
                            id=contact_id,
                            workspace_id=workspace.id,
                            name="",
                            fields={},
                            interests=[],
                            holdout_bucket=9999,
                            timezone="America/Sao_Paulo",
                            created_at=now,
                            updated_at=now,
                        )
                    )
                # No ORM relationships: parents must be written before their children.
                await session.flush()
                for n, contact_id in enumerate(ids):
                    wa_id = f"5511{900000000 + n}"
                    session.add(
                        ContactURN(
                            id=new_id("urn"),
                            workspace_id=workspace.id,
                            contact_id=contact_id,
                            scheme="whatsapp",
                            urn=f"whatsapp:{wa_id}",
                            created_at=now,
                        )
                    )
                    session.add(
                        ConsentEvent(
                            id=new_id("cev"),
                            workspace_id=workspace.id,
                            contact_id=contact_id,
                            action="grant",
                            channel="whatsapp",
                            topic="transactional",
                            source="checkout_checkbox",
                            disclosure_text="updates",
                            disclosure_version="1",
                            disclosure_sha256="x",
                            evidence={},
                            actor="contact",
                            occurred_at=now - timedelta(days=1),
                            recorded_at=now,
                        )
                    )
                    session.add(
                        Message(
                            id=new_id("msg"),
                            workspace_id=workspace.id,
                            contact_id=contact_id,
                            channel_id=channel.id,
                            direction="out",
                            address=f"whatsapp:{wa_id}",
                            kind="template",
                            purpose="utility",
                            content={
                                "type": "template",
                                "name": "order_update",
                                "language": "en_US",
                                "body": [str(n)],
                            },
                            status="queued",
                            attempts=0,
                            next_attempt_at=now,
                            created_at=now,
                            updated_at=now,
                        )
                    )
            dispatcher = Dispatcher(
                sessions,
                box,
                clock,
                holder="bench",
                config=DispatchConfig(batch_size=500, concurrency=64),
            )
            start = time.perf_counter()
            while True:
                await dispatcher.dispatch_all()
                async with sessions() as session:
                    left = await session.scalar(
                        select(func.count())
                        .select_from(Message)
                        .where(Message.status.in_(("queued", "sending")))
                    )
                if not left:
                    break
            elapsed = time.perf_counter() - start
            async with sessions() as session:
                outcome = dict(
                    (
                        await session.execute(
                            select(Message.status, func.count()).group_by(Message.status)
                        )
                    ).all()
                )
                detail = await session.scalar(
                    select(Message.error_detail).where(Message.error_detail.is_not(None)).limit(1)
                )
            print(f"outbox after the run: {outcome} {detail or ''}")
            await dispatcher.aclose()
            requests = (await control.get("/_emulator/requests")).json()
        finally:
            await control.aclose()
            child.terminate()
            child.wait(timeout=10)
        await engine.dispose()
    accepted = [r for r in requests if r["result"] == "accepted"]
    throttled = [r for r in requests if r["code"] == 130429]
    per_second = collections.Counter(r["at"][:19] for r in accepted)
    over = sum(1 for count in per_second.values() if count > LIMIT)
    full = sorted(per_second.values())[1:-1] or sorted(per_second.values())
    print(
        f"dispatched {len(accepted)} messages in {elapsed:.1f} s: "
        f"{len(accepted) / elapsed:,.0f} msg/s "
        f"(limit {LIMIT}/s; busiest second {max(per_second.values())}, "
        f"median full second {full[len(full) // 2]})"
    )
    print(f"one-second windows over the limit: {over}; 130429 answers: {len(throttled)}")
    assert len(accepted) == MESSAGES


if __name__ == "__main__":
    asyncio.run(main())
