"""End-to-end latency over real HTTP: Threadline (`threadline serve`), its worker and the
WhatsApp emulator each run in their own process; this one only posts webhooks and reads the
emulator's request log.

1. Inbound message -> bot reply handed to the platform. Signed `messages` webhooks, each a
   text "HELP" from a different contact, are posted to /webhooks/whatsapp at a steady
   open-loop rate (200/s for 10 s by default: a message is posted at its scheduled time
   whether or not earlier ones were answered). "HELP" is answered by the consent keyword
   engine with the workspace's help message, a bot reply that goes through the policy and
   the outbox like any other. Latency of one message = the emulator's arrival time of the
   reply send to that contact - the moment the webhook request was started here. Both are
   wall-clock readings of this machine (the emulator stamps each request with
   `datetime.now(UTC)` when it arrives, before parsing it), so they share one clock. A reply
   that has not arrived `BENCH_LATENCY_TIMEOUT` seconds after its webhook counts as missing;
   percentiles are over every message posted, a missing reply ranking above every arrived one.
   Also printed: how long the receiver took to acknowledge, and one message's latency on
   the idle stack just before the load. Goal: p99 < 150 ms at 200 messages/s.

2. STOP during a 1,000 msg/s send. N utility-template messages (6,000 by default), one per
   opted-in contact, are queued on one number whose limit is 1,000 msg/s. Once the first
   send reaches the emulator, signed "STOP" webhooks from 50 of those contacts are posted,
   spread over the first 80 % of the time the send takes at the limit; each comes from a
   contact whose message is still `queued` at that moment (picked at random among the first
   1,000 queued in send order, so about the next second of sending). Latency of one STOP =
   (arrival at the emulator of the last template send to that contact) - (moment the STOP
   webhook was posted), or 0 when none arrived after the STOP was posted. Also counted:
   contacts that received their template more than 1 s after their STOP (must be 0), and
   how long the STOP's confirmation took to reach the emulator. Goal: p99 < 1 s.

Both parts run against the same emulator and `threadline serve`; the workers are started
afresh for each part, and what part 1 left unprocessed is discarded before part 2 starts, so
part 2 measures only its own load. On PostgreSQL the worker is two processes by default,
`threadline worker --role ingest` and `--role dispatch`, as docs/scaling.md lays out
production; on SQLite (one writer) it runs inside `threadline serve`, one process, as SQLite
is deployed. BENCH_LATENCY_WORKERS=split|all|inside chooses (all: one `threadline worker`
with both roles). The emulator has no callback URL here, so no status webhooks come back:
the receiver and the worker carry only the load described above.

SQLite in a temporary file by default; PostgreSQL when BENCH_DATABASE_URL is set (a fresh
database: the run creates its own workspace). Knobs: BENCH_LATENCY_RATE, BENCH_LATENCY_SECONDS,
BENCH_LATENCY_TIMEOUT, BENCH_STOP_MESSAGES, BENCH_STOPS, BENCH_LATENCY_WORKERS."""

from __future__ import annotations

import asyncio
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.channels.whatsapp.harness import OffsetClock, free_port, messages_value, notification

from bench.common import PHONE_NUMBER_ID, SECRET_KEY, WABA_ID, workspace_with_number
from threadline.channels.http import KEEPALIVE
from threadline.channels.meta.signature import signature
from threadline.channels.models import ChannelAccount, ChannelLease
from threadline.consent.models import ConsentEvent
from threadline.contacts.models import Contact, ContactURN
from threadline.inbox.models import InboxEvent
from threadline.kit.db import make_engine, make_sessionmaker, transaction
from threadline.kit.errors import Conflict
from threadline.kit.ids import new_id
from threadline.kit.migrate import upgrade
from threadline.messages.models import Message
from threadline.templates.service import upsert

RATE = float(os.environ.get("BENCH_LATENCY_RATE", "200"))
SECONDS = float(os.environ.get("BENCH_LATENCY_SECONDS", "10"))
REPLY_TIMEOUT = float(os.environ.get("BENCH_LATENCY_TIMEOUT", "5"))
SEND = int(os.environ.get("BENCH_STOP_MESSAGES", "6000"))
STOPS = int(os.environ.get("BENCH_STOPS", "50"))
# SQLite has one writer: its deployment is one process (`serve --with-worker`, docs/scaling.md),
# since several processes would queue on the file lock. PostgreSQL: separate worker processes.
WORKERS = os.environ.get("BENCH_LATENCY_WORKERS") or (
    "split" if os.environ.get("BENCH_DATABASE_URL") else "inside"
)
LIMIT = 1000
APP_SECRET = "bench-app-secret"
ACCESS_TOKEN = "t"
START_TIMEOUT = 30.0
# How long part 2 may take from its first send to an empty outbox before the run gives up
# waiting: several times what 6,000 sends take at the rates docs/benchmarks.md reports.
DRAIN_TIMEOUT = 60.0
# "Still queued" is sampled this far ahead of the send position: about one second of
# sending at the limit, where a STOP races the dispatcher.
STOP_CANDIDATES = 1000
GOAL_REPLY_P99 = 0.150
GOAL_STOP_P99 = 1.0


STARTED = time.monotonic()


def note(what: str) -> None:
    """Progress on stderr (run_all shows it only when a bench fails): where the run is."""
    print(f"bench_latency {time.monotonic() - STARTED:5.1f} s: {what}", file=sys.stderr, flush=True)


class BenchError(Exception):
    """Something the benchmark needs did not start or did not happen; the run stops."""


class Children:
    """The subprocesses of the run, each stopped (and killed if it does not stop) on exit."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self._running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> None:
        # Children write to our stderr: stdout carries only the figures (run_all keeps it).
        self._running[name] = subprocess.Popen(
            [sys.executable, "-m", "threadline.cli", *args], env=self.env, stdout=sys.stderr
        )

    def check(self) -> None:
        for name, proc in self._running.items():
            if proc.poll() is not None:
                raise BenchError(f"{name} exited with code {proc.returncode} (its output is above)")

    def stop(self, names: Sequence[str], grace: float = 2.0) -> None:
        procs = [self._running.pop(name) for name in names if name in self._running]
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + grace
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                # A worker finishes its iteration before it looks at the signal, and with a
                # backlog one iteration is many seconds; kill -9 loses nothing (scaling.md).
                proc.kill()
                proc.wait()

    def stop_all(self) -> None:
        self.stop(list(reversed(self._running)))


@dataclass
class Stack:
    children: Children
    http: aiohttp.ClientSession
    webhook_url: str
    emulator_url: str
    sessions: async_sessionmaker[AsyncSession]
    channel_id: str
    workspace_id: str
    app_port: int


def wa_id_for(part: int, n: int) -> str:
    return f"55{part}{n:010d}"


def inbound(wa_id: str, message_id: str, text: str) -> bytes:
    contact = {"profile": {"name": f"Person {wa_id[-4:]}"}, "wa_id": wa_id}
    message = {
        "from": wa_id,
        "id": message_id,
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": text},
    }
    return notification("messages", messages_value(contacts=[contact], messages=[message]))


async def post_signed(http: aiohttp.ClientSession, url: str, body: bytes) -> int:
    headers = {
        "X-Hub-Signature-256": signature(APP_SECRET, body),
        "Content-Type": "application/json",
    }
    async with http.post(url, data=body, headers=headers) as response:
        await response.read()
        return response.status


async def get_json(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as response:
        response.raise_for_status()
        return await response.json()


async def post_json(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> Any:
    async with http.post(url, json=body) as response:
        if response.status >= 400:
            raise BenchError(f"POST {url}: {response.status} {await response.text()}")
        return await response.json()


async def wait_up(children: Children, http: aiohttp.ClientSession, url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        children.check()
        try:
            async with http.get(url) as response:
                if response.status < 500:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise BenchError(f"{url} did not answer within {START_TIMEOUT:.0f} s")


async def requests_log(stack: Stack) -> list[dict[str, Any]]:
    log: list[dict[str, Any]] = await get_json(
        stack.http, f"{stack.emulator_url}/_emulator/requests"
    )
    return log


def arrivals(log: Sequence[dict[str, Any]], kind: str) -> dict[str, list[float]]:
    """Recipient -> arrival times (epoch seconds) of the accepted sends of one type."""
    found: defaultdict[str, list[float]] = defaultdict(list)
    for record in log:
        if record["result"] == "accepted" and record["type"] == kind and record["to"]:
            at = datetime.fromisoformat(record["at"]).timestamp()
            found[str(record["to"]).lstrip("+")].append(at)
    return found


def percentile(ordered: Sequence[float], share: float) -> float:
    """Nearest rank: the smallest value with at least `share` of the values at or below it."""
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def ms(value: float) -> str:
    return "missing" if math.isinf(value) else f"{value * 1000:,.0f} ms"


def spread(values: Sequence[float]) -> str:
    ordered = sorted(values)
    if not ordered:
        return "no values"
    shares = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))
    parts = [f"{name} {ms(percentile(ordered, share))}" for name, share in shares]
    return ", ".join([*parts, f"max {ms(ordered[-1])}"])


async def until(
    stack: Stack, done: Callable[[], Awaitable[bool]], within: float, what: str
) -> bool:
    """Poll `done` until it holds; False after `within` seconds. A child that died fails."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        stack.children.check()
        if await done():
            return True
        await asyncio.sleep(0.1)
    note(f"{what}: not reached within {within:.0f} s")
    return False


def worker_label() -> str:
    return {
        "inside": "worker inside threadline serve, one process",
        "all": "one worker process",
    }.get(WORKERS, "ingest and dispatch worker processes")


async def start_workers(children: Children, http: aiohttp.ClientSession, port: int) -> list[str]:
    if WORKERS == "inside":
        children.start("threadline serve", "serve", "--port", str(port), "--with-worker")
        await wait_up(children, http, f"http://127.0.0.1:{port}/healthz")
        return ["threadline serve"]
    if WORKERS == "all":
        children.start("worker", "worker")
        return ["worker"]
    children.start("ingest worker", "worker", "--role", "ingest")
    children.start("dispatch worker", "worker", "--role", "dispatch")
    return ["ingest worker", "dispatch worker"]


async def warm_up(stack: Stack, wa_id: str) -> float:
    """One HELP through the whole path before the clock starts: proves the workers are up
    (they print nothing when ready) and returns that single message's latency."""
    posted = time.time()
    status = await post_signed(
        stack.http, stack.webhook_url, inbound(wa_id, f"wamid.{wa_id}", "HELP")
    )
    if status != 200:
        raise BenchError(f"the receiver answered {status} to a signed webhook")
    reply: list[float] = []

    async def replied() -> bool:
        reply[:] = arrivals(await requests_log(stack), "text").get(wa_id, [])
        return bool(reply)

    if not await until(stack, replied, START_TIMEOUT, "warm-up reply"):
        raise BenchError(
            f"no reply to a HELP within {START_TIMEOUT:.0f} s: the worker did not start, or "
            "does not answer"
        )
    return reply[0] - posted


async def stop_workers(stack: Stack, names: list[str]) -> None:
    stack.children.stop(names)
    # Whatever the stopped workers left is dropped, and a lease a killed dispatcher still
    # held is freed, so the next part starts from an idle outbox and inbox.
    now = OffsetClock().now()
    async with transaction(stack.sessions) as session:
        await session.execute(
            update(InboxEvent)
            .where(InboxEvent.processed_at.is_(None))
            .values(processed_at=now, claimed_until=None, error="discarded by bench_latency")
        )
        await session.execute(
            update(Message)
            .where(
                Message.direction == "out", Message.status.in_(("queued", "sending", "deferred"))
            )
            .values(status="failed", error_detail="discarded by bench_latency")
        )
        await session.execute(delete(ChannelLease))


# -- part 1 ----------------------------------------------------------------------------------
async def inbound_to_reply(stack: Stack, workers: list[str]) -> None:
    await warm_up(stack, wa_id_for(9, 1))
    idle = await warm_up(stack, wa_id_for(9, 3))  # the first one includes start-up
    before = await accepted_count(stack)
    total = round(RATE * SECONDS)
    wa_ids = [wa_id_for(2, n) for n in range(total)]
    # Built beforehand, so the schedule is not held up by its own payloads.
    bodies = [inbound(wa_id, f"wamid.help.{n}", "HELP") for n, wa_id in enumerate(wa_ids)]
    posted: dict[str, float] = {}
    refused: list[int] = []
    acks: list[float] = []

    async def one(wa_id: str, body: bytes) -> None:
        posted[wa_id] = time.time()
        status = await post_signed(stack.http, stack.webhook_url, body)
        acks.append(time.time() - posted[wa_id])
        if status != 200:
            refused.append(status)

    note(f"part 1: posting {total} webhooks")
    tasks: list[asyncio.Task[None]] = []
    begin = time.perf_counter()
    for n, (wa_id, body) in enumerate(zip(wa_ids, bodies, strict=True)):
        wait = begin + n / RATE - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        tasks.append(asyncio.create_task(one(wa_id, body)))
    offered = total / (time.perf_counter() - begin)
    last_post = time.time()
    log: list[dict[str, Any]] = []

    async def all_replied() -> bool:
        # The log is large; the emulator's counter says when reading it is worth it.
        over = time.time() > last_post + REPLY_TIMEOUT
        if not over and await accepted_count(stack) < before + total:
            return False
        log[:] = await requests_log(stack)
        got = arrivals(log, "text")
        return over or all(wa_id in got for wa_id in wa_ids)

    note("part 1: waiting for the replies")
    await until(stack, all_replied, REPLY_TIMEOUT + 5, "replies")
    # Webhooks still unanswered by now are given up: waiting for them would only make the
    # run longer, and their replies already count as missing.
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    note("part 1: stopping the workers")
    await stop_workers(stack, workers)
    got = arrivals(log, "text")
    latencies = []
    for wa_id in wa_ids:
        latency = min(got[wa_id]) - posted[wa_id] if wa_id in got else math.inf
        latencies.append(latency if latency <= REPLY_TIMEOUT else math.inf)
    missing = sum(1 for value in latencies if math.isinf(value))
    unanswered = total - len(acks)
    ordered = sorted(latencies)
    print(
        f"inbound HELP -> bot reply handed to the platform ({worker_label()}): "
        f"{total} webhooks posted at {offered:,.0f}/s over {SECONDS:.0f} s; "
        f"{len(refused)} answered other than 200, {unanswered} unanswered at the end; "
        f"acknowledgement {spread([*acks, *[math.inf] * unanswered])}"
    )
    print(
        f"  replies: {total - missing} within {REPLY_TIMEOUT:.0f} s, {missing} never arrived; "
        f"{spread(ordered)} (one message on an idle stack: {ms(idle)})"
    )
    verdict = "met" if percentile(ordered, 0.99) < GOAL_REPLY_P99 else "NOT met"
    print(f"  goal: p99 < {GOAL_REPLY_P99 * 1000:.0f} ms at {RATE:,.0f} messages/s: {verdict}")


# -- part 2 ----------------------------------------------------------------------------------
async def seed_send(stack: Stack, wa_ids: list[str]) -> None:
    """One queued utility template per contact, each with a transactional opt-in; created a
    microsecond apart so the send order is the seeding order."""
    now = OffsetClock().now()
    ids = [new_id("con") for _ in wa_ids]
    workspace_id = stack.workspace_id
    async with transaction(stack.sessions) as session:
        await session.execute(
            insert(Contact),
            [
                {
                    "id": contact_id,
                    "workspace_id": workspace_id,
                    "name": "",
                    "fields": {},
                    "interests": [],
                    "holdout_bucket": 9999,
                    "timezone": "America/Sao_Paulo",
                    "created_at": now,
                    "updated_at": now,
                }
                for contact_id in ids
            ],
        )
        await session.execute(
            insert(ContactURN),
            [
                {
                    "id": new_id("urn"),
                    "workspace_id": workspace_id,
                    "contact_id": contact_id,
                    "scheme": "whatsapp",
                    "urn": f"whatsapp:{wa_id}",
                    "created_at": now,
                }
                for contact_id, wa_id in zip(ids, wa_ids, strict=True)
            ],
        )
        await session.execute(
            insert(ConsentEvent),
            [
                {
                    "id": new_id("cev"),
                    "workspace_id": workspace_id,
                    "contact_id": contact_id,
                    "action": "grant",
                    "channel": "whatsapp",
                    "topic": "transactional",
                    "source": "checkout_checkbox",
                    "disclosure_text": "updates",
                    "disclosure_version": "1",
                    "disclosure_sha256": "x",
                    "evidence": {},
                    "actor": "contact",
                    "occurred_at": now - timedelta(days=1),
                    "recorded_at": now,
                }
                for contact_id in ids
            ],
        )
        await session.execute(
            insert(Message),
            [
                {
                    "id": new_id("msg"),
                    "workspace_id": workspace_id,
                    "contact_id": contact_id,
                    "channel_id": stack.channel_id,
                    "direction": "out",
                    "address": f"whatsapp:{wa_id}",
                    "kind": "template",
                    "purpose": "utility",
                    "content": {
                        "type": "template",
                        "name": "order_update",
                        "language": "en_US",
                        "body": [str(n)],
                    },
                    "status": "queued",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now + timedelta(microseconds=n),
                    "updated_at": now,
                }
                for n, (contact_id, wa_id) in enumerate(zip(ids, wa_ids, strict=True))
            ],
        )


async def still_queued(stack: Stack) -> list[str]:
    """The recipients of the next STOP_CANDIDATES queued templates, in send order."""
    async with stack.sessions() as session:
        addresses = await session.scalars(
            select(Message.address)
            .where(
                Message.channel_id == stack.channel_id,
                Message.direction == "out",
                Message.kind == "template",
                Message.status == "queued",
            )
            .order_by(Message.created_at, Message.id)
            .limit(STOP_CANDIDATES)
        )
        return [address.removeprefix("whatsapp:") for address in addresses]


async def outbox_idle(stack: Stack) -> bool:
    async with stack.sessions() as session:
        waiting = await session.scalar(
            select(func.count())
            .select_from(Message)
            .where(
                Message.direction == "out",
                Message.status.in_(("queued", "sending")),
            )
        )
        pending = await session.scalar(
            select(func.count()).select_from(InboxEvent).where(InboxEvent.processed_at.is_(None))
        )
        return not waiting and not pending


async def accepted_count(stack: Stack) -> int:
    stats = await get_json(stack.http, f"{stack.emulator_url}/_emulator/stats")
    return int(stats["accepted"])


def send_recipients() -> list[str]:
    return [wa_id_for(3, n) for n in range(SEND)]


async def stop_during_send(stack: Stack) -> None:
    wa_ids = send_recipients()
    note("part 2: starting the workers")
    workers = await start_workers(stack.children, stack.http, stack.app_port)
    await warm_up(stack, wa_id_for(9, 2))
    before = await accepted_count(stack)
    note(f"part 2: queueing {SEND} templates")
    await seed_send(stack, wa_ids)

    async def sending() -> bool:
        return await accepted_count(stack) > before

    if not await until(stack, sending, START_TIMEOUT, "first send"):
        raise BenchError(f"the dispatcher sent nothing within {START_TIMEOUT:.0f} s of seeding")
    note("part 2: sending; posting the STOPs")
    started = time.time()
    rng = random.Random(7)
    stopped: dict[str, float] = {}
    refused: list[int] = []

    async def stop(wa_id: str) -> None:
        stopped[wa_id] = time.time()  # again: the moment the request really starts
        body = inbound(wa_id, f"wamid.stop.{wa_id}", "STOP")
        status = await post_signed(stack.http, stack.webhook_url, body)
        if status != 200:
            refused.append(status)

    # Spread over the part of the send that still has a second of queue ahead of it.
    interval = 0.8 * SEND / LIMIT / STOPS
    tasks: list[asyncio.Task[None]] = []
    begin = time.perf_counter()
    for n in range(STOPS):
        wait = begin + n * interval - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        candidates = [wa_id for wa_id in await still_queued(stack) if wa_id not in stopped]
        if not candidates:
            break
        wa_id = rng.choice(candidates)
        stopped[wa_id] = time.time()  # taken before the task runs: the pick is not reused
        tasks.append(asyncio.create_task(stop(wa_id)))
    await asyncio.gather(*tasks)
    stops_over = time.time() - started
    note("part 2: waiting for the outbox to empty")
    await until(stack, lambda: outbox_idle(stack), DRAIN_TIMEOUT, "empty outbox")
    note("part 2: stopping the workers")
    await stop_workers(stack, workers)
    log = await requests_log(stack)
    templates = arrivals(log, "template")
    sent = [at for wa_id in wa_ids for at in templates.get(wa_id, [])]
    after: list[float] = []
    confirmations: list[float] = []
    texts = arrivals(log, "text")
    for wa_id, at in stopped.items():
        later = [t for t in templates.get(wa_id, []) if t > at]
        after.append(max(later) - at if later else 0.0)
        replies = [t - at for t in texts.get(wa_id, []) if t > at]
        confirmations.append(min(replies) if replies else math.inf)
    duration = max(sent) - min(sent) if sent else 0.0
    late = sum(1 for value in after if value > GOAL_STOP_P99)
    reached = sum(1 for value in after if value > 0)
    print(
        f"STOP during a {LIMIT:,} msg/s send ({worker_label()}): {len(sent)} of "
        f"{SEND} templates sent in {duration:.1f} s ({len(sent) / max(duration, 1e-9):,.0f} "
        f"msg/s); {len(stopped)} STOPs posted over {stops_over:.1f} s "
        f"({len(refused)} not acknowledged with 200)"
    )
    print(
        f"  STOP -> last template to that contact: {spread(after)}; {reached} of "
        f"{len(stopped)} contacts still got theirs after the STOP, {late} more than 1 s after "
        "(must be 0)"
    )
    print(f"  STOP -> opt-out confirmation handed to the platform: {spread(confirmations)}")
    verdict = "met" if after and percentile(sorted(after), 0.99) < GOAL_STOP_P99 else "NOT met"
    print(f"  goal: p99 < {GOAL_STOP_P99:.0f} s, none more than 1 s after its STOP: {verdict}")


# -- the run ---------------------------------------------------------------------------------
async def prepare(sessions: async_sessionmaker[AsyncSession], emulator_url: str) -> ChannelAccount:
    now = OffsetClock().now()
    async with transaction(sessions) as session:
        channel: ChannelAccount = await workspace_with_number(
            session,
            now,
            app_secret=APP_SECRET,
            graph_url=emulator_url,
            throughput_mps=LIMIT,
            messaging_limit=None,
        )
        await upsert(
            session,
            channel.workspace_id,
            WABA_ID,
            name="order_update",
            language="en_US",
            category="UTILITY",
            status="APPROVED",
            provider_id="1",
            components=[],
            now=now,
        )
    return channel


async def run(folder: str) -> None:
    if WORKERS not in ("split", "all", "inside"):
        raise BenchError(
            f"BENCH_LATENCY_WORKERS must be 'split', 'all' or 'inside', not {WORKERS!r}"
        )
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{Path(folder) / 'l.db'}"
    port_app, port_emulator = free_port(), free_port()
    emulator_url = f"http://127.0.0.1:{port_emulator}"
    note("migrating the database")
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        channel = await prepare(sessions, emulator_url)
    except Conflict as exc:
        await engine.dispose()
        raise BenchError(f"{exc}: BENCH_DATABASE_URL must name a fresh database") from None
    env = {
        **os.environ,
        "THREADLINE_DATABASE_URL": url,
        "THREADLINE_SECRET_KEY": SECRET_KEY,
        "THREADLINE_LOG_LEVEL": "WARNING",
    }
    children = Children(env)
    # Enough connections that the open-loop load never waits for one here; idle ones are
    # dropped before uvicorn's 5 s idle limit, which once ended a run with "Server
    # disconnected" on a connection reused as the server closed it.
    connector = aiohttp.TCPConnector(limit=256, keepalive_timeout=KEEPALIVE)
    timeout = aiohttp.ClientTimeout(total=60)
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            note("starting the emulator, threadline serve and the workers")
            children.start("emulator", "emulator", "--port", str(port_emulator))
            if WORKERS != "inside":
                children.start("threadline serve", "serve", "--port", str(port_app))
            await wait_up(children, http, f"{emulator_url}/_emulator/stats")
            workers = await start_workers(children, http, port_app)
            await wait_up(children, http, f"http://127.0.0.1:{port_app}/healthz")
            number = {
                "phone_number_id": PHONE_NUMBER_ID,
                "waba_id": WABA_ID,
                "display_phone_number": "15550783881",
                "access_token": ACCESS_TOKEN,
                "app_secret": APP_SECRET,
                "mps": LIMIT,
                "tier": None,  # no messaging-limit tier: thousands of recipients in a day
            }
            await post_json(http, f"{emulator_url}/_emulator/numbers", number)
            template = {
                "waba_id": WABA_ID,
                "name": "order_update",
                "category": "UTILITY",
                "body": "Order {{1}} shipped",
            }
            await post_json(http, f"{emulator_url}/_emulator/templates", template)
            users = [{"wa_id": wa_id, "read": 0} for wa_id in send_recipients()]
            await post_json(http, f"{emulator_url}/_emulator/users/bulk", {"users": users})
            stack = Stack(
                children,
                http,
                f"http://127.0.0.1:{port_app}/webhooks/whatsapp",
                emulator_url,
                sessions,
                channel.id,
                channel.workspace_id,
                port_app,
            )
            await inbound_to_reply(stack, workers)
            await stop_during_send(stack)
    finally:
        children.stop_all()
        await engine.dispose()


def main() -> None:
    try:
        with tempfile.TemporaryDirectory() as folder:
            asyncio.run(run(folder))
    except (BenchError, aiohttp.ClientError, OSError) as exc:
        raise SystemExit(f"bench_latency: {type(exc).__name__}: {exc}") from None


if __name__ == "__main__":
    main()
