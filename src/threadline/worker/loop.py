"""The worker: ingest and dispatch until told to stop. Runs standalone (`threadline
worker`) or inside `threadline serve --with-worker`."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Iterator
from enum import StrEnum

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from threadline.broadcasts.runner import BroadcastWorker
from threadline.flows.tick import tick_once
from threadline.kit.clock import Clock
from threadline.kit.crypto import SecretBox
from threadline.messages import fallback
from threadline.worker.dispatcher import DispatchConfig, Dispatcher
from threadline.worker.ingest import ingest_once

log = logging.getLogger("threadline.worker")
# How long an idle worker waits before looking again: briefly right after work (more is
# likely on its way, and each wait adds to a reply's latency), longer the longer it is idle
# (each look is a query).
IDLE_SLEEP_MIN, IDLE_SLEEP_MAX = 0.005, 0.05


def idle_sleeps() -> Iterator[float]:
    """The waits of one idle spell: 5, 10, 20, 40, then 50 ms for as long as it lasts."""
    wait = IDLE_SLEEP_MIN
    while True:
        yield wait
        wait = min(IDLE_SLEEP_MAX, wait * 2)


class Role(StrEnum):
    """What one worker process does. Several processes share the work on PostgreSQL (claims
    skip locked rows, channels are leased), so ingest and dispatch can scale apart."""

    ALL = "all"
    INGEST = "ingest"  # platform events, flow timers and broadcast fan-outs
    DISPATCH = "dispatch"  # the outbox


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def run_worker(
    sessions: async_sessionmaker[AsyncSession],
    box: SecretBox,
    clock: Clock,
    stop: asyncio.Event,
    config: DispatchConfig | None = None,
    role: Role = Role.ALL,
    ingest_batch: int = 500,
) -> None:
    """Ingest and dispatch run as two loops side by side (with both roles, in one process):
    a STOP or a reply must not wait for a dispatch pass of a broadcast to end, nor a send
    for a round of ingest."""
    dispatcher = Dispatcher(sessions, box, clock, holder=holder_name(), config=config)
    http = httpx.AsyncClient(follow_redirects=False)  # flows' webhook calls
    log.info("worker %s started (%s)", dispatcher.holder, role.value)
    # Start-up's modules, mappers and compiled statements live as long as the process: frozen,
    # the collector stops walking them on every full pass (GC was ~13 % of the dispatcher's
    # CPU; freezing after start-up measured +9-12 % msg/s).
    gc.freeze()

    async def ingest_pass() -> int:
        handled = await ingest_once(sessions, clock, limit=ingest_batch)
        handled += await fallback.run_due(sessions, clock)
        return handled + await tick_once(sessions, clock, http, box)

    passes: list[Callable[[], Awaitable[int]]] = []
    if role in (Role.ALL, Role.INGEST):
        # Fan-outs in a loop of their own: a STOP does not wait for a batch of a broadcast.
        passes += [ingest_pass, BroadcastWorker(sessions, clock).run_once]
    if role in (Role.ALL, Role.DISPATCH):
        passes.append(dispatcher.dispatch_all)
    try:
        await asyncio.gather(*(_until_stopped(work, stop) for work in passes))
    finally:
        await dispatcher.aclose()
        await http.aclose()


async def _until_stopped(work: Callable[[], Awaitable[int]], stop: asyncio.Event) -> None:
    waits = idle_sleeps()
    while not stop.is_set():
        try:
            worked = await work()
        except Exception:
            log.exception("worker iteration failed; continuing")
            worked = 0
        if worked:
            waits = idle_sleeps()
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), next(waits))
