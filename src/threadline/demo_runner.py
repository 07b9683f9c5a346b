"""`make demo`: the emulator (child process), Threadline with its worker, and a crowd of
simulated people who write in, read and reply on all six channels. Ctrl-C stops
everything."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from threadline.app import create_app
from threadline.config import Settings
from threadline.demo import (
    DEMO_APP_SECRET,
    DEMO_APPLE_BUSINESS_ID,
    DEMO_APPLE_MSP_ID,
    DEMO_APPLE_SECRET,
    DEMO_DISPLAY_NUMBER,
    DEMO_EMAIL,
    DEMO_IG_ID,
    DEMO_IG_USERNAME,
    DEMO_META_APP_SECRET,
    DEMO_META_VERIFY_TOKEN,
    DEMO_PAGE_ID,
    DEMO_PAGE_TOKEN,
    DEMO_PHONE_NUMBER_ID,
    DEMO_SMS_ACCOUNT_SID,
    DEMO_SMS_AUTH_TOKEN,
    DEMO_SMS_NUMBER,
    DEMO_TEMPLATES,
    DEMO_TOKEN,
    DEMO_VERIFY_TOKEN,
    DEMO_WABA_ID,
    DemoInfo,
    seed_demo,
)
from threadline.demo_people import Person, conversations, people_of, say
from threadline.kit.db import make_engine, make_sessionmaker, transaction

log = logging.getLogger("threadline.demo")
LINES = (
    "Hi!",
    "What are your opening hours?",
    "Do you ship to Rio?",
    "I want to order",
    "HELP",
    "Is the blue one in stock?",
    "Thanks!",
    "STOP",
    "START",
    "Where is my order?",
)
# What the people on SMS, email and Apple say first, as the demo starts.
FIRST_WORDS = (
    "Hi!",
    "What are your opening hours?",
    "Do you ship to Rio?",
    "Is the blue one in stock?",
)


def _start_emulator(port: int) -> subprocess.Popen[bytes]:
    # A new seed each run: the emulator's message ids come from it, and a re-run on the same
    # database must not hand out ids the last run's messages already carry.
    seed = str(time.time_ns() % 1_000_000_007)
    return subprocess.Popen(
        [sys.executable, "-m", "threadline.cli", "emulator", "--port", str(port), "--seed", seed]
    )


async def _wait_up(url: str, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient() as http:
        while True:
            try:
                if (await http.get(url)).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up")
            await asyncio.sleep(0.1)


async def _seed(
    settings: Settings, graph_url: str, smtp_url: str, app_url: str, contacts: int
) -> DemoInfo:
    engine = make_engine(settings.database_url)
    try:
        async with transaction(make_sessionmaker(engine)) as session:
            return await seed_demo(
                session,
                datetime.now(UTC),
                contacts,
                graph_url=graph_url,
                smtp_url=smtp_url,
                app_url=app_url,
                box=settings.secret_box(),
            )
    finally:
        await engine.dispose()


async def _control(emulator: httpx.AsyncClient, path: str, json: dict[str, Any]) -> None:
    """A call to the emulator's control API that must succeed for the demo to make sense."""
    (await emulator.post(path, json=json)).raise_for_status()


async def _prepare_emulator(emulator: httpx.AsyncClient, app_url: str, info: DemoInfo) -> None:
    await _control(
        emulator,
        "/_emulator/numbers",
        json={
            "phone_number_id": DEMO_PHONE_NUMBER_ID,
            "waba_id": DEMO_WABA_ID,
            "display_phone_number": DEMO_DISPLAY_NUMBER,
            "access_token": DEMO_TOKEN,
            "app_secret": DEMO_APP_SECRET,
            "callback_url": f"{app_url}/webhooks/whatsapp",
            "verify_token": DEMO_VERIFY_TOKEN,
            "tier": 1000,
        },
    )
    for name, category, body in DEMO_TEMPLATES:
        await _control(
            emulator,
            "/_emulator/templates",
            json={
                "waba_id": DEMO_WABA_ID,
                "name": name,
                "category": category,
                "body": body,
            },
        )
    rng = random.Random(11)
    for wa_id in info.wa_ids:
        await _control(
            emulator,
            "/_emulator/users",
            json={
                "wa_id": wa_id,
                "read": round(rng.uniform(0.5, 0.95), 2),
                "reply": round(rng.uniform(0.0, 0.3), 2),
                "block": 0.01,
            },
        )
    await _prepare_meta(emulator, app_url, info)
    await _prepare_sms(emulator, app_url)
    await _prepare_email(emulator, app_url, info)
    await _prepare_apple(emulator, app_url)


async def _prepare_meta(emulator: httpx.AsyncClient, app_url: str, info: DemoInfo) -> None:
    """The Page and the Instagram account, verified against Threadline's webhooks, and the
    people who write to them."""
    accounts = (
        ("messenger", DEMO_PAGE_ID, info.psids),
        ("instagram", DEMO_IG_ID, info.igsids),
    )
    for kind, account_id, people in accounts:
        await _control(
            emulator,
            "/_emulator/pages",
            json={
                "kind": kind,
                "id": account_id,
                "page_id": DEMO_PAGE_ID if kind == "instagram" else None,
                "access_token": DEMO_PAGE_TOKEN,
                "app_secret": DEMO_META_APP_SECRET,
                "callback_url": f"{app_url}/webhooks/{kind}",
                "verify_token": DEMO_META_VERIFY_TOKEN,
            },
        )
        for person_id in people:
            await _control(
                emulator, f"/_emulator/pages/{account_id}/people", json={"id": person_id}
            )


async def _prepare_sms(emulator: httpx.AsyncClient, app_url: str) -> None:
    """The SMS account and its number, which posts inbound texts to Threadline."""
    await _control(
        emulator,
        "/_emulator/sms/accounts",
        json={"account_sid": DEMO_SMS_ACCOUNT_SID, "auth_token": DEMO_SMS_AUTH_TOKEN},
    )
    await _control(
        emulator,
        "/_emulator/sms/numbers",
        json={
            "account_sid": DEMO_SMS_ACCOUNT_SID,
            "number": DEMO_SMS_NUMBER,
            "sms_url": f"{app_url}/webhooks/sms",
        },
    )


async def _prepare_email(emulator: httpx.AsyncClient, app_url: str, info: DemoInfo) -> None:
    """Mail for the shop's address goes to Threadline's inbound webhook, signed with the
    channel's secret."""
    await _control(
        emulator,
        "/_emulator/mail/domains",
        json={
            "address": DEMO_EMAIL,
            "inbound_url": f"{app_url}/webhooks/email",
            "secret": info.email_secret,
        },
    )


async def _prepare_apple(emulator: httpx.AsyncClient, app_url: str) -> None:
    """The MSP, which posts people's messages to Threadline, and the business behind it."""
    await _control(
        emulator,
        "/_emulator/apple/msps",
        json={
            "msp_id": DEMO_APPLE_MSP_ID,
            "secret_b64": DEMO_APPLE_SECRET,
            "message_url": f"{app_url}/webhooks/apple/message",
        },
    )
    await _control(
        emulator,
        "/_emulator/apple/businesses",
        json={"business_id": DEMO_APPLE_BUSINESS_ID, "msp_id": DEMO_APPLE_MSP_ID},
    )


async def _first_words(emulator: httpx.AsyncClient, info: DemoInfo) -> None:
    """Everyone on SMS, email and Apple writes once (a text, an email, a message), so the
    inbox has conversations on those channels from the start."""
    rng = random.Random(7)
    for person in people_of([], [], [], info.phones, info.mailboxes, info.apple_ids):
        try:
            await say(emulator, person, rng.choice(FIRST_WORDS))
        except httpx.HTTPError as exc:
            log.warning("%s on %s could not write: %s", person.id, person.channel, exc)


async def _crowd(emulator: httpx.AsyncClient, api: httpx.AsyncClient, info: DemoInfo) -> None:
    """People write in every second or so (on WhatsApp mostly, on the other five channels
    every third line); now and then the shop sends an order update."""
    rng = random.Random(5)
    others = people_of([], info.psids, info.igsids, info.phones, info.mailboxes, info.apple_ids)
    tick = 0
    while True:
        tick += 1
        if others and tick % 3 == 0:
            person = rng.choice(others)
        else:
            person = Person("whatsapp", rng.choice(info.wa_ids))
        try:
            await say(emulator, person, rng.choice(LINES))
            if tick % 5 == 0:
                await _order_update(api, rng, info)
        except httpx.HTTPError as exc:
            log.warning("crowd step failed: %s", exc)
        await asyncio.sleep(rng.uniform(0.5, 1.5))


async def _order_update(api: httpx.AsyncClient, rng: random.Random, info: DemoInfo) -> None:
    wa_id = rng.choice(info.wa_ids)
    found = (await api.get("/api/v1/contacts", params={"urn": f"whatsapp:{wa_id}"})).json()
    if not found.get("items"):
        return
    contact = found["items"][0]
    await api.post(
        "/api/v1/messages",
        json={
            "contact_id": contact["id"],
            "purpose": "utility",
            "content": {
                "type": "template",
                "name": "order_update",
                "language": "en_US",
                "body": [contact["name"].split()[0] or "there", f"#{rng.randint(1000, 9999)}"],
            },
        },
    )


def run_demo(
    settings: Settings, *, host: str, port: int, emulator_port: int, contacts: int
) -> None:
    emulator_url = f"http://127.0.0.1:{emulator_port}"
    app_url = f"http://{host}:{port}"
    child = _start_emulator(emulator_port)
    try:
        info, smtp_url = asyncio.run(_boot(settings, emulator_url, app_url, contacts))
        app = create_app(settings, with_worker=True)
        _attach_crowd(app, emulator_url, app_url, info)
        print(_banner(info, app_url, emulator_url, smtp_url), flush=True)
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        child.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=10)
        if child.poll() is None:
            child.kill()
        print("demo stopped", flush=True)


def _banner(info: DemoInfo, app_url: str, emulator_url: str, smtp_url: str) -> str:
    """What runs where, the channels and their ids, and the API key."""
    return (
        f"\nThreadline demo\n"
        f"  API + webhooks   {app_url}   (OpenAPI docs: {app_url}/docs)\n"
        f"  emulator         {emulator_url}  (requests: {emulator_url}/_emulator/requests)\n"
        f"  SMTP relay       {smtp_url}  "
        f"(a mailbox: {emulator_url}/_emulator/mail/mailboxes/{{address}})\n"
        f"  channels         WhatsApp +{DEMO_DISPLAY_NUMBER} ({DEMO_PHONE_NUMBER_ID}), "
        f"Messenger page {DEMO_PAGE_ID}, Instagram @{DEMO_IG_USERNAME} ({DEMO_IG_ID}),\n"
        f"                   SMS {DEMO_SMS_NUMBER} ({DEMO_SMS_ACCOUNT_SID}), "
        f"email {DEMO_EMAIL}, Apple business {DEMO_APPLE_BUSINESS_ID} "
        f"(MSP {DEMO_APPLE_MSP_ID})\n"
        f"  channel ids      whatsapp {info.channel_id}, messenger {info.messenger_channel_id}, "
        f"instagram {info.instagram_channel_id},\n"
        f"                   sms {info.sms_channel_id}, email {info.email_channel_id}, "
        f"apple {info.apple_channel_id}\n"
        f"  people           {len(info.wa_ids)} on WhatsApp, {len(info.psids)} on "
        f"Messenger, {len(info.igsids)} on Instagram, {len(info.phones)} on SMS, "
        f"{len(info.mailboxes)} on email, {len(info.apple_ids)} on Apple\n"
        f"  worker           in-process (ingest, flows, dispatch)\n"
        f"  flows            {', '.join(info.flows) or 'none'}\n"
        f"  workspace        {info.workspace_name} ({info.workspace_id}), "
        f"{info.contacts} contacts\n"
        f"  API key          {info.api_key}\n"
        f"  try              curl -H 'Authorization: Bearer {info.api_key}' "
        f"'{app_url}/api/v1/contacts?limit=3'\n"
        f"Ctrl-C stops everything.\n"
    )


async def _boot(
    settings: Settings, emulator_url: str, app_url: str, contacts: int
) -> tuple[DemoInfo, str]:
    """Seed once the emulator is up; the email channel sends to its SMTP relay, whose port is
    new each run."""
    await _wait_up(f"{emulator_url}/_emulator/stats")
    async with httpx.AsyncClient(base_url=emulator_url, timeout=10) as emulator:
        relay = await emulator.get("/_emulator/mail")
        relay.raise_for_status()
    smtp_url = str(relay.json()["url"])
    return await _seed(settings, emulator_url, smtp_url, app_url, contacts), smtp_url


def _attach_crowd(app: FastAPI, emulator_url: str, app_url: str, info: DemoInfo) -> None:
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[None]:
        async with inner(a):
            emulator = httpx.AsyncClient(base_url=emulator_url, timeout=10)
            api = httpx.AsyncClient(
                base_url=app_url, timeout=10, headers={"Authorization": f"Bearer {info.api_key}"}
            )
            crowd: asyncio.Task[None] | None = None
            talkers: asyncio.Task[None] | None = None

            async def start() -> None:
                nonlocal crowd, talkers
                await _wait_up(f"{app_url}/healthz")
                await _prepare_emulator(emulator, app_url, info)
                await api.post(f"/api/v1/channels/{info.channel_id}/templates/sync")
                await _first_words(emulator, info)
                crowd = asyncio.create_task(_crowd(emulator, api, info))
                people = people_of(
                    info.wa_ids,
                    info.psids,
                    info.igsids,
                    info.phones,
                    info.mailboxes,
                    info.apple_ids,
                )
                talkers = asyncio.create_task(conversations(emulator, people))

            starter = asyncio.create_task(start())
            try:
                yield
            finally:
                for task in (starter, crowd, talkers):
                    if task is not None:
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await task
                await emulator.aclose()
                await api.aclose()

    app.router.lifespan_context = lifespan
