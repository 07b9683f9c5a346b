"""Flows: the pure engine's speed on the example product finder, and the worker's processing
rate for inbound messages that start a flow and get its reply queued (policy + outbox), next
to the same messages with no flow to start — in the same run, on the same database kind."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.channels.whatsapp.harness import OffsetClock

from bench.common import PHONE_NUMBER_ID, goal, workspace_with_number
from threadline.channels import events as ev
from threadline.channels import messages as m
from threadline.channels.kinds import Channel
from threadline.contacts.models import FieldDefinition
from threadline.demo import FLOW_FIELDS
from threadline.flows import service as flow_service
from threadline.flows.engine import new_state, step
from threadline.flows.loader import bundle_from_path, compile_bundle
from threadline.flows.state import ContactView, Reply, Send, Start
from threadline.inbox import service as inbox
from threadline.kit.clock import FrozenClock
from threadline.kit.db import make_engine, make_sessionmaker, transaction
from threadline.kit.ids import new_id
from threadline.kit.migrate import upgrade
from threadline.worker.ingest import ingest_once

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "flows" / "product_finder.yaml"
CONVERSATIONS = int(os.environ.get("BENCH_CONVERSATIONS", "3000"))
INBOUND = int(os.environ.get("BENCH_FLOW_INBOUND", "2000"))
FLOW_STARTS = int(os.environ.get("BENCH_FLOW_STARTS", "400"))


def answer(actions: Sequence[object]) -> Reply:
    """Tap the first option shown, or answer a typed question."""
    sends = [a for a in actions if isinstance(a, Send)]
    content = sends[-1].content if sends else None
    if isinstance(content, m.Buttons):
        return Reply(text=content.buttons[0].title, payload=content.buttons[0].id)
    if isinstance(content, m.ListMessage):
        row = content.sections[0].rows[0]
        return Reply(text=row.title, payload=row.id)
    return Reply(text="150")


def engine_speed() -> tuple[float, float, int]:
    flow = compile_bundle(bundle_from_path(EXAMPLE))
    clock = FrozenClock(datetime(2026, 3, 10, 15, tzinfo=UTC))
    steps = 0
    start = time.perf_counter()
    for n in range(CONVERSATIONS):
        state = new_state(flow, ContactView(name=f"P{n}"), Channel.WHATSAPP, clock.now())
        state, actions = step(flow, state, Start("keyword"), clock)
        steps += 1
        while state.status == "waiting" and steps < 40 * (n + 1):
            state, actions = step(flow, state, answer(actions), clock)
            steps += 1
    elapsed = time.perf_counter() - start
    return steps / elapsed, CONVERSATIONS / elapsed, steps


def inbound(n: int, text: str, when: datetime) -> ev.InboundMessage:
    wa_id = f"5511{900000000 + n}"
    return ev.InboundMessage(
        account=PHONE_NUMBER_ID,
        external_id=f"wamid.flowbench{text}{n}",
        sender=ev.Sender(address=wa_id, phone_id=wa_id, name=f"Person {n}"),
        timestamp=when,
        kind="text",
        text=text,
    )


async def processing_rate(url: str, with_flow: bool, count: int) -> float:
    await asyncio.to_thread(upgrade, url)
    clock = OffsetClock()
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        async with transaction(sessions) as session:
            channel = await workspace_with_number(
                session,
                clock.now(),
                workspace=f"flows {with_flow}",
                phone_number_id=f"{PHONE_NUMBER_ID}{int(with_flow)}",
            )
            workspace_id = channel.workspace_id
            if with_flow:
                for key, kind in FLOW_FIELDS:
                    session.add(
                        FieldDefinition(
                            id=new_id("fld"),
                            workspace_id=workspace_id,
                            key=key,
                            label=key,
                            value_type=kind,
                            created_at=clock.now(),
                        )
                    )
                await flow_service.upload(
                    session, workspace_id, bundle_from_path(EXAMPLE), clock.now()
                )
            text = "shop" if with_flow else "hello there"
            await inbox.store(
                session,
                channel,
                [inbound(n, text, clock.now()) for n in range(count)],
                clock.now(),
            )
        start = time.perf_counter()
        processed = 0
        while done := await ingest_once(sessions, clock, limit=200):
            processed += done
        return processed / (time.perf_counter() - start)
    finally:
        await engine.dispose()


async def main() -> None:
    per_step, per_conversation, steps = engine_speed()
    print(
        f"engine (pure step, product finder): {per_step:,.0f} steps/s, "
        f"{per_conversation:,.0f} whole conversations/s ({steps} steps)"
    )
    with tempfile.TemporaryDirectory() as folder:
        base = os.environ.get("BENCH_DATABASE_URL")
        urls = (
            (base, base)
            if base
            else (
                f"sqlite+aiosqlite:///{Path(folder) / 'plain.db'}",
                f"sqlite+aiosqlite:///{Path(folder) / 'flows.db'}",
            )
        )
        plain = await processing_rate(urls[0], with_flow=False, count=INBOUND)
        flows = await processing_rate(urls[1], with_flow=True, count=FLOW_STARTS)
    print(
        f"worker processing, inbound with no flow: {plain:,.0f} events/s; "
        f"inbound starting a flow (trigger, session, reply through policy + outbox): "
        f"{flows:,.0f} events/s ({INBOUND} and {FLOW_STARTS})"
    )
    print(goal(f"inbound with no flow >= 1,000/s (measured {plain:,.0f}/s)", plain >= 1000))
    print(goal(f"inbound starting a flow >= 300/s (measured {flows:,.0f}/s)", flows >= 300))


if __name__ == "__main__":
    asyncio.run(main())
