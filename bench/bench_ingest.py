"""Webhook ingest: Threadline's receiver (verify signature, find the channel, parse, store
once, acknowledge) against a bare endpoint that only checks the signature and parses JSON,
in the same run, with the same signed payloads. Both servers run in their own process; the
load comes from this one. Then the worker's processing rate for what was stored."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.channels.whatsapp.harness import OffsetClock, free_port

from bench.common import PHONE_NUMBER_ID, goal, workspace_with_number
from threadline.channels.meta.signature import signature
from threadline.kit.db import make_engine, make_sessionmaker, transaction
from threadline.kit.migrate import upgrade
from threadline.worker.ingest import ingest_once

N = int(os.environ.get("BENCH_WEBHOOKS", "3000"))
CONCURRENCY = 32
OPEN_RATE = float(os.environ.get("BENCH_OPEN_RATE", "2000"))
OPEN_SECONDS = float(os.environ.get("BENCH_OPEN_SECONDS", "5"))
SECRET = "bench-app-secret"


def payload(n: int, now: int) -> bytes:
    wa_id = f"5511{900000000 + n}"
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": PHONE_NUMBER_ID,
                            },
                            "contacts": [{"profile": {"name": f"Person {n}"}, "wa_id": wa_id}],
                            "messages": [
                                {
                                    "from": wa_id,
                                    "id": f"wamid.bench{n}",
                                    "timestamp": str(now),
                                    "type": "text",
                                    "text": {"body": "Hello, is this in stock?"},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    return json.dumps(body).encode()


async def load(url: str, bodies: list[bytes]) -> tuple[float, float]:
    """Post every body with CONCURRENCY connections; (webhooks/s, p99 acknowledgement ms)."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as http:

        async def worker() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                headers = {
                    "X-Hub-Signature-256": signature(SECRET, body),
                    "Content-Type": "application/json",
                }
                sent = time.perf_counter()
                async with http.post(url, data=body, headers=headers) as response:
                    assert response.status == 200, await response.text()
                latencies.append(time.perf_counter() - sent)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        rate = len(bodies) / (time.perf_counter() - start)
    latencies.sort()
    return rate, latencies[int(len(latencies) * 0.99) - 1] * 1000


async def open_loop(url: str, bodies: list[bytes], rate: float) -> tuple[float, float]:
    """Post each body at its scheduled time (`rate` a second) whether or not earlier ones
    were answered, as platforms do; (p99 acknowledgement ms, share posted on time). A
    closed loop would slow down with the server and hide its queueing."""
    latencies: list[float] = []
    late = 0
    connector = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def post(body: bytes) -> None:
            headers = {"X-Hub-Signature-256": signature(SECRET, body)}
            sent = time.perf_counter()
            async with http.post(url, data=body, headers=headers) as response:
                assert response.status == 200, await response.text()
            latencies.append(time.perf_counter() - sent)

        tasks = []
        start = time.perf_counter()
        for n, body in enumerate(bodies):
            wait = start + n / rate - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            elif wait < -0.005:
                late += 1
            tasks.append(asyncio.create_task(post(body)))
        await asyncio.gather(*tasks)
    latencies.sort()
    return latencies[int(len(latencies) * 0.99) - 1] * 1000, 1 - late / len(bodies)


async def wait_up(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(url):
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not start")


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = (
            os.environ.get("BENCH_DATABASE_URL")
            or f"sqlite+aiosqlite:///{Path(folder) / 'ingest.db'}"
        )
        await asyncio.to_thread(upgrade, url)
        clock = OffsetClock()
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        async with transaction(sessions) as session:
            await workspace_with_number(session, clock.now(), app_secret=SECRET)
        now = int(time.time())
        bodies = [payload(n, now) for n in range(N)]
        env = {
            **os.environ,
            "THREADLINE_DATABASE_URL": url,
            "THREADLINE_SECRET_KEY": "bench-secret-key",
            "THREADLINE_LOG_LEVEL": "WARNING",
            "BARE_APP_SECRET": SECRET,
        }
        port_app, port_bare = free_port(), free_port()
        servers = [
            subprocess.Popen(
                [sys.executable, "-m", "threadline.cli", "serve", "--port", str(port_app)], env=env
            ),
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--app-dir",
                    "bench",
                    "bare_webhook:app",
                    "--port",
                    str(port_bare),
                    "--log-level",
                    "warning",
                ],
                env=env,
            ),
        ]
        try:
            await wait_up(f"http://127.0.0.1:{port_app}/healthz")
            await wait_up(f"http://127.0.0.1:{port_bare}/")
            bare, bare_p99 = await load(f"http://127.0.0.1:{port_bare}/webhooks/whatsapp", bodies)
            ours, ours_p99 = await load(f"http://127.0.0.1:{port_app}/webhooks/whatsapp", bodies)
            again, _ = await load(f"http://127.0.0.1:{port_app}/webhooks/whatsapp", bodies[:500])
            steady = [payload(n, now) for n in range(N, N + round(OPEN_RATE * OPEN_SECONDS))]
            steady_p99, on_time = await open_loop(
                f"http://127.0.0.1:{port_app}/webhooks/whatsapp", steady, OPEN_RATE
            )
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=10)
        start = time.perf_counter()
        processed = 0
        while True:
            done = await ingest_once(sessions, clock, limit=200)
            if not done:
                break
            processed += done
        rate = processed / (time.perf_counter() - start)
        await engine.dispose()
    # The same generator drives the bare endpoint faster: it is not what limits Threadline.
    print(f"bare endpoint (signature + JSON parse): {bare:,.0f} webhooks/s, p99 {bare_p99:.1f} ms")
    print(
        f"Threadline receiver (verify, store once, ack): {ours:,.0f} webhooks/s "
        f"({ours / bare:.0%} of bare), p99 acknowledgement {ours_p99:.1f} ms at "
        f"{CONCURRENCY} connections; duplicates re-acknowledged at {again:,.0f}/s"
    )
    print(
        f"Threadline receiver at a steady {OPEN_RATE:,.0f} webhooks/s for {OPEN_SECONDS:.0f} s "
        f"(open loop, {on_time:.0%} posted on schedule): p99 acknowledgement {steady_p99:.1f} ms"
    )
    print(
        f"worker processing (contact, message, window, keywords): {rate:,.0f} events/s "
        f"for {processed} events"
    )
    print(
        goal(
            f"receiver >= 60% of the bare endpoint (measured {ours / bare:.0%})", ours >= 0.6 * bare
        )
    )
    print(
        goal(
            f"p99 acknowledgement < 50 ms at {OPEN_RATE:,.0f} webhooks/s "
            f"(measured {steady_p99:.1f} ms)",
            steady_p99 < 50 and on_time > 0.95,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
