"""A broadcast to a large audience: N contacts with a US `tel:` number each, most tagged
"spring", 80 % with an SMS marketing opt-in, seeded with bulk Core inserts; then the
estimate of a `tag("spring")` SMS text broadcast (the planner over every member, nothing
written) and its fan-out (the audience written to broadcast_members, then policy and an
outbox row for every member, a batch per transaction): time, members/s and peak memory of
each (RSS sampled; with --tracemalloc also the peak of Python allocations), to show that
both stream. --profile N prints cProfile's top N of each phase to stderr.

SQLite in a temporary file by default; PostgreSQL when BENCH_DATABASE_URL is set (a fresh
database, as bench/run_all.py makes), or with --postgres (a database created on
BENCH_POSTGRES_DSN for the run and dropped after it). The clock is frozen on a Tuesday at
15:00 UTC, inside sending hours in every zone of the numbers (08:00 to 11:00 local)."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import pstats
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import SECRET_KEY, goal
from bench.run_all import ADMIN_DSN, fresh_database
from threadline.broadcasts import service
from threadline.broadcasts.models import BroadcastMember
from threadline.broadcasts.runner import BroadcastWorker, begin
from threadline.broadcasts.spec import BroadcastSpec
from threadline.channels import service as channels
from threadline.consent import service as consent
from threadline.consent.models import ConsentEvent
from threadline.consent.projection import Action
from threadline.contacts.models import Contact, ContactTag, ContactURN
from threadline.contacts.urns import timezone_for_phone, us_state_for_phone
from threadline.kit.clock import FrozenClock
from threadline.kit.crypto import SecretBox
from threadline.kit.db import make_engine, make_sessionmaker, transaction
from threadline.kit.ids import new_id
from threadline.kit.migrate import upgrade
from threadline.messages.models import Message
from threadline.policy.holdout import new_bucket
from threadline.workspaces.models import Workspace
from threadline.workspaces.service import create_workspace

# 100,000 by default, so that `make bench` (SQLite, then PostgreSQL) stays within minutes;
# `--contacts 1000000` is the size (figures in docs/broadcasts.md, Performance).
CONTACTS = int(os.environ.get("BENCH_BROADCAST_CONTACTS", "100000"))
CHUNK = 5_000  # contacts per seeding transaction (four multi-row inserts)
# Streaming means a batch in memory, not the audience: a million ids alone would be ~100 MiB.
FLAT_MIB = 64
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # a Tuesday: 11:00 in New York, 08:00 in LA
# Zones where 15:00 UTC is inside the 08:00-21:00 sending hours (not Alaska, not Hawaii).
DAYTIME_ZONES = frozenset(
    {
        "America/New_York",
        "America/Detroit",
        "America/Chicago",
        "America/Denver",
        "America/Boise",
        "America/Phoenix",
        "America/Los_Angeles",
    }
)
QUERY = 'tag("spring")'
BODY = "Hi {{contact.name}}: 20% off everything in spring colours today"


def area_codes() -> dict[str, str]:
    """US area codes with their zone, where 15:00 UTC is daytime (each gives 10,000
    numbers: +1 <area> 555 0000..9999)."""
    found: dict[str, str] = {}
    for code in range(200, 1000):
        sample = f"+1{code}5550100"
        zone = timezone_for_phone(sample)
        if us_state_for_phone(sample) and zone in DAYTIME_ZONES:
            found[str(code)] = zone
    return found


def phones(n: int) -> Iterator[tuple[str, str]]:
    """n distinct valid US numbers, spread over the area codes, with their zone."""
    codes = sorted(area_codes().items())
    if n > len(codes) * 10_000:
        raise SystemExit(f"at most {len(codes) * 10_000:,} contacts (10,000 per area code)")
    for i in range(n):
        code, zone = codes[i % len(codes)]
        yield f"+1{code}555{i // len(codes):04d}", zone


async def seed(engine: AsyncEngine, workspace_id: str, n: int) -> None:
    """n contacts, one tel: address each; "spring" on 90 % (the others "autumn"), an SMS
    marketing opt-in on 80 % (i % 5 != 4): the audience is 90 %, the eligible 80 %."""
    grant = consent.ConsentChange(
        action=Action.GRANT,
        channel="sms",
        topic="marketing",
        source="import",
        actor="import",
        occurred_at=NOW - timedelta(days=30),
        disclosure_text="Offers from Bench by text; reply STOP to opt out",
        disclosure_version="1",
    )
    numbers = phones(n)
    for start in range(0, n, CHUNK):
        contacts: list[dict[str, Any]] = []
        addresses: list[dict[str, Any]] = []
        tags: list[dict[str, Any]] = []
        ledger: list[dict[str, Any]] = []
        for i in range(start, min(start + CHUNK, n)):
            phone, zone = next(numbers)
            contact_id = new_id("con")
            contacts.append(
                {
                    "id": contact_id,
                    "workspace_id": workspace_id,
                    "name": f"Person {i}",
                    "language": None,
                    "timezone": zone,
                    "fields": {},
                    "interests": [],
                    "holdout_bucket": new_bucket(),
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
            addresses.append(
                {
                    "id": new_id("urn"),
                    "workspace_id": workspace_id,
                    "contact_id": contact_id,
                    "scheme": "tel",
                    "urn": f"tel:{phone}",
                    "created_at": NOW,
                }
            )
            tags.append(
                {
                    "id": new_id("tag"),
                    "workspace_id": workspace_id,
                    "contact_id": contact_id,
                    "tag": "autumn" if i % 10 == 9 else "spring",
                }
            )
            if i % 5 != 4:
                ledger.append(consent.event_row(workspace_id, contact_id, grant, NOW))
        async with engine.begin() as connection:
            for model, rows in (
                (Contact, contacts),
                (ContactURN, addresses),
                (ContactTag, tags),
                (ConsentEvent, ledger),
            ):
                if rows:
                    await connection.execute(insert(model), rows)


@dataclass
class Memory:
    """The process's resident set during one phase: read after every batch of the fan-out,
    and every 50 ms by a sampler task (the estimate is one call; its queries yield to the
    event loop, which lets the sampler run)."""

    start: float = field(default_factory=lambda: rss_mib())
    samples: list[tuple[int, float]] = field(default_factory=list)  # (members done, MiB)
    peak: float = 0.0
    done: int = 0

    def after_batch(self, count: int) -> None:
        self.done += count
        mib = rss_mib()
        self.samples.append((self.done, mib))
        self.peak = max(self.peak, mib)

    def at(self, share: float) -> float:
        """RSS once `share` of the members were done."""
        goal = share * self.done
        return next(mib for done, mib in self.samples if done >= goal)

    async def sample(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mib())
            await asyncio.sleep(0.05)


def rss_mib() -> float:
    """The current resident set size (Linux /proc; else the peak so far, from getrusage)."""
    try:
        resident = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return max_rss_mib()
    return resident * os.sysconf("SC_PAGE_SIZE") / 2**20


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@dataclass
class Phase:
    """One measured phase: its time, its memory (RSS sampled; tracemalloc's peak of Python
    allocations when asked) and, when asked, its profile."""

    trace: bool
    profile: int
    memory: Memory = field(default_factory=Memory)
    seconds: float = 0.0
    traced_peak: float = 0.0
    profiler: cProfile.Profile | None = None
    _sampler: asyncio.Task[None] | None = None
    _t0: float = 0.0

    def __enter__(self) -> Phase:
        gc.collect()
        self.memory = Memory()
        self._sampler = asyncio.get_running_loop().create_task(self.memory.sample())
        if self.trace:
            tracemalloc.start()
        if self.profile:
            self.profiler = cProfile.Profile()
            self.profiler.enable()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0
        if self.profiler is not None:
            self.profiler.disable()
        if self.trace:
            self.traced_peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        if self._sampler is not None:
            self._sampler.cancel()
        self.memory.peak = max(self.memory.peak, rss_mib())

    def note(self) -> str:
        notes = " (under tracemalloc, which slows it)" if self.trace else ""
        return notes + (" (under cProfile, which slows it)" if self.profile else "")

    def memory_line(self, what: str) -> str:
        m = self.memory
        line = (
            f"{what} memory: peak RSS {m.peak:.0f} MiB, {m.start:.0f} MiB before "
            f"(+{m.peak - m.start:.0f} MiB)"
        )
        if self.trace:
            line += f"; tracemalloc peak of Python allocations {self.traced_peak:.1f} MiB"
        return line

    def print_profile(self, what: str) -> None:
        if self.profiler is None:
            return
        print(f"== profile of the {what}", file=sys.stderr)
        stats = pstats.Stats(self.profiler, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(self.profile)
        stats.sort_stats("cumulative").print_stats(self.profile)


async def run(url: str, n: int, *, trace: bool, profile: int) -> None:
    database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    clock = FrozenClock(NOW)
    async with transaction(sessions) as session:
        workspace = (await create_workspace(session, "bench", NOW)).workspace
        spec = channels.sms_number("+14155550100", "AC" + "ab" * 16, auth_token="t")
        await channels.add(session, workspace.id, spec, SecretBox(SECRET_KEY), NOW)
    print(f"{database}, {n:,} contacts; one run")

    t0 = time.perf_counter()
    await seed(engine, workspace.id, n)
    seeded = time.perf_counter() - t0
    analyzed = 0.0
    if database == "PostgreSQL":  # what autovacuum does after a bulk load, done now
        t0 = time.perf_counter()
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
        analyzed = time.perf_counter() - t0
    rows = n * 3 + sum(1 for i in range(n) if i % 5 != 4)
    print(
        f"seed (not a goal figure): {n:,} contacts, {rows:,} rows in {seeded:.1f} s "
        f"({n / seeded:,.0f} contacts/s, bulk Core inserts of {CHUNK:,} contacts a "
        f"transaction)" + (f", then ANALYZE {analyzed:.1f} s" if analyzed else "")
    )

    async with transaction(sessions) as session:
        broadcast = await service.create(session, workspace, broadcast_spec(), NOW)
    async with sessions() as session:
        found = await session.get(Workspace, workspace.id)
        assert found is not None
        with Phase(trace, profile) as estimating:
            estimate = await service.estimate(session, found, broadcast, clock.now())
    total = estimate["total"]
    print(
        f"estimate of {QUERY} on SMS: {total:,} members in {estimating.seconds:.1f} s "
        f"({total / estimating.seconds:,.0f} members/s){estimating.note()}: "
        f"{estimate['eligible']:,} eligible, suppressed {estimate['suppressed']}, "
        f"cost {estimate['estimated_cost']}"
    )
    print(estimating.memory_line("estimate"))

    with Phase(trace, profile) as fanning:
        async with transaction(sessions) as session:
            sending = await service.get(session, workspace.id, broadcast.id)
            await service.send(session, sending, clock.now())
            await begin(session, sending, clock.now())
            audience = sending.audience_total or 0
        began = time.perf_counter() - fanning._t0
        worker = BroadcastWorker(sessions, clock)
        decided = await worker.fan_out(broadcast.id, on_batch=fanning.memory.after_batch)
    async with sessions() as session:
        written = await session.scalar(
            select(func.count()).select_from(Message).where(Message.campaign_id == broadcast.id)
        )
        done = await service.get(session, workspace.id, broadcast.id)
        tally = dict(sorted((done.tally or {}).items()))
        left = await session.scalar(select(func.count()).select_from(BroadcastMember))
    seconds = fanning.seconds
    print(
        f"fan-out: {decided:,} members in {seconds:.1f} s ({decided / seconds:,.0f} members/s)"
        f"{fanning.note()}, of which {began:.1f} s to start it (audience of {audience:,} "
        f"written to broadcast_members); {written:,} outbox rows written, {left or 0:,} "
        f"broadcast_members rows left after it"
    )
    print(f"fan-out tally: {tally}; estimate eligible {estimate['eligible']:,}")
    m = fanning.memory
    print(
        fanning.memory_line("fan-out")
        + f"; RSS after every batch: {m.at(0.1):.0f} MiB at 10 %, {m.at(0.5):.0f} MiB at "
        f"50 %, {m.at(1.0):.0f} MiB at the end"
    )
    growth = max(estimating.memory.peak - estimating.memory.start, m.peak - m.start)
    print(goal(f"memory flat: peak RSS growth < {FLAT_MIB} MiB (measured {growth:.0f})",
               growth < FLAT_MIB))  # fmt: skip
    estimating.print_profile("estimate")
    fanning.print_profile("fan-out")
    await engine.dispose()


def broadcast_spec() -> BroadcastSpec:
    return BroadcastSpec.model_validate(
        {
            "name": "Spring sale",
            "audience": QUERY,
            "channels": ["sms"],
            "content": {"default": {"type": "text", "body": BODY}},
        }
    )


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(ADMIN_DSN, timeout=3)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--contacts", type=int, default=CONTACTS, help=f"contacts to seed (default {CONTACTS:,})"
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help=f"run on a fresh PostgreSQL database on {ADMIN_DSN}, dropped afterwards",
    )
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also trace the fan-out's Python allocations"
    )
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="cProfile the fan-out; top N to stderr"
    )
    args = parser.parse_args()
    options: dict[str, Any] = {"trace": args.tracemalloc, "profile": args.profile}
    if args.postgres:
        name = "threadline_bench_broadcast_run"
        url = await fresh_database(name)
        if url is None:
            raise SystemExit(f"PostgreSQL not reachable at {ADMIN_DSN}")
        try:
            await run(url, args.contacts, **options)
        finally:
            await drop_database(name)
        return
    with tempfile.TemporaryDirectory() as folder:
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{folder}/b.db"
        await run(url, args.contacts, **options)


if __name__ == "__main__":
    asyncio.run(main())
