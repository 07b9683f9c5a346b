"""Threadline and the emulator, each on its own real HTTP port, for integration tests."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from threadline.app import create_app
from threadline.channels import service as channels
from threadline.channels.meta.signature import signature
from threadline.config import Settings
from threadline.emulator.app import create_emulator
from threadline.flows.tick import tick_once
from threadline.kit.crypto import SecretBox
from threadline.kit.db import transaction
from threadline.messages import fallback
from threadline.templates.sync import sync_templates
from threadline.worker.dispatcher import DispatchConfig, Dispatcher
from threadline.worker.ingest import ingest_once
from threadline.workspaces.service import create_workspace

PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
TOKEN = "emulator-token"
APP_SECRET = "emulator-app-secret"
VERIFY_TOKEN = "verify-me"


def to_sending_hours(now: datetime) -> timedelta:
    """How far to move real time so the stack runs on the next Tuesday at 15:00 UTC.

    Wall-clock tests otherwise depend on when they run: at 07:30 in São Paulo a marketing
    send is rightly deferred by quiet hours."""
    days = (1 - now.weekday()) % 7 or 7
    target = (now + timedelta(days=days)).replace(hour=15, minute=0, second=0, microsecond=0)
    return target - now


class OffsetClock:
    """Real time plus an offset that tests move forward (the emulator keeps its own)."""

    def __init__(self, offset: timedelta | None = None) -> None:
        self.offset = offset or timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass
class Stack:
    api: httpx.AsyncClient  # Threadline API, authenticated
    emulator: httpx.AsyncClient  # emulator control + graph
    base_url: str
    emulator_url: str
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    clock: OffsetClock
    workspace_id: str
    channel_id: str
    dispatcher: Dispatcher
    http: httpx.AsyncClient  # flows' webhook calls

    async def add_user(self, wa_id: str, **behaviour: Any) -> None:
        r = await self.emulator.post("/_emulator/users", json={"wa_id": wa_id, **behaviour})
        r.raise_for_status()

    async def add_template(
        self,
        name: str,
        category: str,
        body: str = "Hello {{1}}",
        status: str = "APPROVED",
        language: str = "en_US",
    ) -> None:
        r = await self.emulator.post(
            "/_emulator/templates",
            json={
                "waba_id": WABA_ID,
                "name": name,
                "language": language,
                "category": category,
                "status": status,
                "body": body,
            },
        )
        r.raise_for_status()

    async def sync_templates(self) -> int:
        async with transaction(self.sessions) as session:
            channel = await channels.get(session, self.workspace_id, self.channel_id)
            async with httpx.AsyncClient() as http:
                return await sync_templates(
                    session,
                    channel,
                    SecretBox(self.settings.secret_key.get_secret_value()),
                    http,
                    self.clock.now(),
                )

    async def user_says(self, wa_id: str, text: str = "", **spec: Any) -> str:
        r = await self.emulator.post(
            f"/_emulator/users/{wa_id}/send",
            json={"phone_number_id": PHONE_NUMBER_ID, "text": text, **spec},
        )
        r.raise_for_status()
        message_id: str = r.json()["id"]
        return message_id

    async def inbox(self, wa_id: str) -> list[dict[str, Any]]:
        r = await self.emulator.get(f"/_emulator/users/{wa_id}/inbox")
        r.raise_for_status()
        items: list[dict[str, Any]] = r.json()
        return items

    async def requests(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (await self.emulator.get("/_emulator/requests")).json()
        return items

    async def advance(self, delta: timedelta) -> None:
        """Move Threadline's clock and the emulator's together (windows are on both sides)."""
        self.clock.advance(delta)
        r = await self.emulator.post(
            "/_emulator/clock/advance", json={"seconds": delta.total_seconds()}
        )
        r.raise_for_status()

    async def work(self) -> int:
        """One round of the worker: ingest stored events, then dispatch."""
        done = await ingest_once(self.sessions, self.clock)
        done += await fallback.run_due(self.sessions, self.clock)
        done += await tick_once(
            self.sessions,
            self.clock,
            self.http,
            SecretBox(self.settings.secret_key.get_secret_value()),
        )
        done += await self.dispatcher.dispatch_all()
        return done

    async def until(self, check: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
        """Run the worker until `check()` holds (webhooks arrive asynchronously). The limit is
        generous: the pair limiter spaces messages to one person by seconds, and a loaded CI
        machine running the suite on two cores stretches that further."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            await self.work()
            if await check():
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("condition not reached in time")
            await asyncio.sleep(0.03)

    async def send(self, contact_id: str, purpose: str, content: dict[str, Any]) -> dict[str, Any]:
        """POST /api/v1/messages; returns the answer (status queued, deferred or refused)."""
        r = await self.api.post(
            "/api/v1/messages",
            json={"contact_id": contact_id, "purpose": purpose, "content": content},
        )
        assert r.status_code == 201, r.text
        answer: dict[str, Any] = r.json()
        return answer

    async def grant(self, contact_id: str, topic: str = "marketing") -> None:
        r = await self.api.post(
            f"/api/v1/contacts/{contact_id}/consent",
            json={
                "action": "grant",
                "channel": "whatsapp",
                "topic": topic,
                "source": "widget",
                "disclosure": {"text": f"{topic} messages on WhatsApp", "version": "1"},
            },
        )
        assert r.status_code == 201, r.text

    async def contact_by_urn(self, urn: str) -> str:
        """The contact with this address, once the worker has taken in what they wrote."""

        async def known() -> bool:
            r = await self.api.get("/api/v1/contacts", params={"urn": urn})
            return bool(r.json()["items"])

        await self.until(known)
        r = await self.api.get("/api/v1/contacts", params={"urn": urn})
        found: str = r.json()["items"][0]["id"]
        return found

    async def contact_for(self, wa_id: str) -> str:
        r = await self.api.get("/api/v1/contacts", params={"urn": f"whatsapp:{wa_id}"})
        r.raise_for_status()
        items = r.json()["items"]
        assert items, f"no contact for {wa_id}"
        contact_id: str = items[0]["id"]
        return contact_id


@asynccontextmanager
async def whatsapp_stack(
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
    *,
    mps: int = 80,
    seed: int = 7,
    config: DispatchConfig | None = None,
    real_time: bool = False,
) -> AsyncIterator[Stack]:
    """The app and the emulator over real HTTP. Both run on a clock moved to sending hours,
    unless `real_time` (a test that starts `threadline worker` processes, which read the
    machine's clock)."""
    settings = Settings(database_url=database_url, secret_key="integration-secret")
    start = timedelta() if real_time else to_sending_hours(datetime.now(UTC))
    clock = OffsetClock(start)
    app = create_app(settings, clock)
    emulator_app = create_emulator(seed)
    async with serving(app) as base_url, serving(emulator_app) as emulator_url:
        async with transaction(sessions) as session:
            created = await create_workspace(session, "Integration Shop", clock.now())
            channel = await channels.add(
                session,
                created.workspace.id,
                channels.whatsapp_number(
                    PHONE_NUMBER_ID,
                    WABA_ID,
                    access_token=TOKEN,
                    app_secret=APP_SECRET,
                    verify_token=VERIFY_TOKEN,
                    display_number="15550783881",
                    graph_url=emulator_url,
                    throughput_mps=mps,
                ),
                SecretBox(settings.secret_key.get_secret_value()),
                clock.now(),
            )
        emulator = httpx.AsyncClient(base_url=emulator_url, timeout=10)
        if start:
            moved = await emulator.post(
                "/_emulator/clock/advance", json={"seconds": start.total_seconds()}
            )
            moved.raise_for_status()
        api = httpx.AsyncClient(
            base_url=base_url, timeout=10, headers={"Authorization": f"Bearer {created.api_key}"}
        )
        r = await emulator.post(
            "/_emulator/numbers",
            json={
                "phone_number_id": PHONE_NUMBER_ID,
                "waba_id": WABA_ID,
                "display_phone_number": "15550783881",
                "access_token": TOKEN,
                "app_secret": APP_SECRET,
                "callback_url": f"{base_url}/webhooks/whatsapp",
                "verify_token": VERIFY_TOKEN,
                "mps": mps,
            },
        )
        r.raise_for_status()
        dispatcher = Dispatcher(
            sessions,
            SecretBox(settings.secret_key.get_secret_value()),
            clock,
            holder="test-dispatcher",
            config=config,
        )
        http = httpx.AsyncClient(timeout=10)
        try:
            yield Stack(
                api,
                emulator,
                base_url,
                emulator_url,
                sessions,
                settings,
                clock,
                created.workspace.id,
                channel.id,
                dispatcher,
                http,
            )
        finally:
            await http.aclose()
            await dispatcher.aclose()
            await api.aclose()
            await emulator.aclose()


def notification(field: str, value: dict[str, Any]) -> bytes:
    """A WhatsApp Business Account notification body, as the platform would post it."""
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": WABA_ID, "time": 1, "changes": [{"field": field, "value": value}]}],
        }
    ).encode()


def messages_value(**items: Any) -> dict[str, Any]:
    """The `value` of a `messages` notification for the test number."""
    return {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
        **items,
    }


async def post_signed(base_url: str, body: bytes, secret: str = APP_SECRET) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url) as http:
        return await http.post(
            "/webhooks/whatsapp",
            content=body,
            headers={
                "X-Hub-Signature-256": signature(secret, body),
                "Content-Type": "application/json",
            },
        )
