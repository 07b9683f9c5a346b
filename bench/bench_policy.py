"""Policy engine throughput: pure `decide()` calls per second, and `/policy/explain`-style
decisions built from the database (SQLite) per second. Prints its figures."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvloop

from threadline.channels import registry
from threadline.channels.kinds import Channel
from threadline.consent.projection import Action
from threadline.consent.service import ConsentChange, record
from threadline.contacts.schemas import ContactIn
from threadline.contacts.service import create_contact
from threadline.kit.db import make_engine, make_sessionmaker, transaction
from threadline.kit.migrate import upgrade
from threadline.policy.decide import decide
from threadline.policy.schemas import ExplainRequest, TemplateIn
from threadline.policy.service import explain
from threadline.policy.types import (
    ConsentFacts,
    ConsentStatus,
    FrequencyCap,
    Purpose,
    RecentSend,
    Recipient,
    SendContext,
    TemplateCategory,
    TemplateFacts,
)
from threadline.workspaces.service import create_workspace

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def bench_pure(rounds: int = 200_000) -> float:
    ctx = SendContext(
        now=NOW,
        channel=Channel.WHATSAPP,
        purpose=Purpose.MARKETING,
        recipient=Recipient(contact_id="con_x", region="BR", timezones=("America/Sao_Paulo",)),
        rules=registry.rules_for(Channel.WHATSAPP),
        template=TemplateFacts("spring_sale", TemplateCategory.MARKETING, "approved"),
        consent=ConsentFacts(marketing=ConsentStatus.GRANTED),
        recent_marketing=tuple(
            RecentSend(NOW - timedelta(hours=30 * i), Channel.WHATSAPP) for i in range(5)
        ),
        caps=(FrequencyCap(3, timedelta(hours=24)), FrequencyCap(10, timedelta(days=7))),
    )
    variants = [ctx, replace(ctx, purpose=Purpose.UTILITY), replace(ctx, template=None)]
    start = time.perf_counter()
    for i in range(rounds):
        decide(variants[i % 3])
    return rounds / (time.perf_counter() - start)


async def bench_db(contacts: int = 200, rounds: int = 2_000) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        async with transaction(sessions) as session:
            workspace = (await create_workspace(session, "bench", NOW)).workspace
            ids = []
            for n in range(contacts):
                contact = await create_contact(
                    session,
                    workspace.id,
                    ContactIn(urns=[f"whatsapp:+55119{n:08d}"]),
                    now=NOW,
                    default_region="BR",
                )
                ids.append(contact.id)
                change = ConsentChange(
                    action=Action.GRANT,
                    channel="whatsapp",
                    topic="marketing",
                    source="widget",
                    actor="contact",
                    occurred_at=NOW - timedelta(days=1),
                    disclosure_text="Offers from bench on WhatsApp",
                    disclosure_version="1",
                )
                await record(session, workspace.id, contact.id, change, NOW)
        latencies = []
        start = time.perf_counter()
        for i in range(rounds):
            request = ExplainRequest(
                contact_id=ids[i % contacts],
                channel=Channel.WHATSAPP,
                purpose=Purpose.MARKETING,
                template=TemplateIn(name="spring_sale", category=TemplateCategory.MARKETING),
            )
            t0 = time.perf_counter()
            async with sessions() as session:
                decision, _ = await explain(session, workspace, request, NOW)
            latencies.append(time.perf_counter() - t0)
            assert decision.allowed, decision
        rate = rounds / (time.perf_counter() - start)
        await engine.dispose()
        p95 = statistics.quantiles(latencies, n=20)[18] * 1000
        return rate, p95


def main() -> None:
    pure = bench_pure()
    print(f"decide() pure: {pure:,.0f} decisions/s (one core)")
    rate, p95 = uvloop.run(bench_db())
    print(f"decision built from the database (SQLite): {rate:,.0f}/s, p95 {p95:.2f} ms")


if __name__ == "__main__":
    main()
