"""The worker: ingest and dispatch until told to stop. Runs standalone (`threadline
worker`) or inside `threadline serve --with-worker`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from threadline.flows.tick import tick_once
from threadline.kit.clock import Clock
from threadline.kit.crypto import SecretBox
from threadline.worker.dispatcher import DispatchConfig, Dispatcher
from threadline.worker.ingest import ingest_once

log = logging.getLogger("threadline.worker")
IDLE_SLEEP = 0.05


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def run_worker(
    sessions: async_sessionmaker[AsyncSession],
    box: SecretBox,
    clock: Clock,
    stop: asyncio.Event,
    config: DispatchConfig | None = None,
) -> None:
    dispatcher = Dispatcher(sessions, box, clock, holder=holder_name(), config=config)
    http = httpx.AsyncClient(follow_redirects=False)  # flows' webhook calls
    log.info("worker %s started", dispatcher.holder)
    try:
        while not stop.is_set():
            try:
                worked = await ingest_once(sessions, clock)
                worked += await tick_once(sessions, clock, http, box)
                worked += await dispatcher.dispatch_all()
            except Exception:
                log.exception("worker iteration failed; continuing")
                worked = 0
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), IDLE_SLEEP)
    finally:
        await dispatcher.aclose()
        await http.aclose()
