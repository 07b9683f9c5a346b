"""Signed webhook deliveries from the emulated platform, retried with backoff like Meta's."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import httpx

from threadline.channels.meta.signature import signature
from threadline.emulator.state import Number

log = logging.getLogger("threadline.emulator.hooks")
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
# Deliveries on the wire at once. Unbounded, a broadcast's thousands of status webhooks all
# waited inside the HTTP client's connection pool, whose bookkeeping is quadratic in its
# queue: the emulator spent its time there and answered nothing (measured with 2,000 sends).
MAX_IN_FLIGHT = 32


class HookTarget(Protocol):
    """Where a webhook goes and what signs it: a WhatsApp number, a Page, an IG account."""

    @property
    def callback_url(self) -> str | None: ...

    @property
    def app_secret(self) -> str: ...


def envelope(
    number: Number, field_name: str, value: dict[str, Any], at: datetime
) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": number.waba_id,
                "time": int(at.timestamp()),
                "changes": [{"field": field_name, "value": value}],
            }
        ],
    }


def messages_value(number: Number, **items: Any) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": number.display_phone_number,
            "phone_number_id": number.phone_number_id,
        },
        **items,
    }


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    number: HookTarget = field(compare=False)
    payload: dict[str, Any] = field(compare=False)
    attempt: int = field(default=0, compare=False)


class WebhookSender:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self._queue: asyncio.PriorityQueue[_Delivery] = asyncio.PriorityQueue()
        self._seq = 0
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self.delivered = 0
        self.failed_attempts = 0
        self.dropped = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._inflight):
            task.cancel()

    def schedule(self, number: HookTarget, payload: dict[str, Any], delay: float = 0.0) -> None:
        if not number.callback_url:
            return
        self._seq += 1
        self._queue.put_nowait(_Delivery(time.monotonic() + delay, self._seq, number, payload))

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def _run(self) -> None:
        while True:
            delivery = await self._queue.get()
            wait = delivery.due - time.monotonic()
            if wait > 0:
                # Not due yet: put it back and sleep a little (new, earlier items may arrive).
                self._queue.put_nowait(delivery)
                await asyncio.sleep(min(wait, 0.05))
                continue
            await self._slots.acquire()
            task = asyncio.create_task(self._deliver(delivery))
            task.add_done_callback(lambda _done: self._slots.release())
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _deliver(self, delivery: _Delivery) -> None:
        number = delivery.number
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature(number.app_secret, body),
        }
        ok = False
        try:
            response = await self._http.post(
                str(number.callback_url), content=body, headers=headers
            )
            ok = response.status_code == 200
        except httpx.HTTPError as exc:
            log.debug("webhook to %s failed: %s", number.callback_url, exc)
        if ok:
            self.delivered += 1
            return
        self.failed_attempts += 1
        if delivery.attempt >= len(RETRY_DELAYS):
            self.dropped += 1
            return
        self._seq += 1
        self._queue.put_nowait(
            _Delivery(
                time.monotonic() + RETRY_DELAYS[delivery.attempt],
                self._seq,
                number,
                delivery.payload,
                delivery.attempt + 1,
            )
        )
