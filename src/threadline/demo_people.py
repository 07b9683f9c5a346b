"""Simulated people for `make demo` who talk with the example flows: they open with a
keyword, tap buttons and list rows, type answers, sometimes ask for a human and sometimes
just stop answering — so flow analytics have something real to show."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import httpx

from threadline.demo import DEMO_PHONE_NUMBER_ID

log = logging.getLogger("threadline.demo")
OPENERS = (
    "shop",
    "I need support",
    "quote",
    "where is my order",
    "book an appointment",
    "products",
)
MAX_TURNS = 8


def _typed_answer(body: str, rng: random.Random) -> str:
    """What a person would type to a question they read (a crude but useful reading)."""
    said = body.lower()
    if "email" in said:
        return rng.choice(["ana.silva@example.com", "bruno@example.org", "not sure"])
    if "order" in said and ("number" in said or "id" in said):
        return rng.choice(["A-1001", "10234", "B-2077", "000999"])
    if "budget" in said or "how much" in said or "spend" in said:
        return rng.choice(["50", "150", "400", "1,200", "a lot"])
    if "date" in said or "which day" in said or "when" in said:
        return rng.choice(["tomorrow", "25/12", "2026-12-01", "someday"])
    if "phone" in said:
        return "+55 11 98888-7777"
    if "name" in said or "company" in said:
        return rng.choice(["Ana Silva", "Acme Ltda"])
    return rng.choice(["yes", "ok", "thanks", "maybe"])


def answer_for(message: dict[str, Any], rng: random.Random) -> dict[str, Any] | None:
    """The emulator `send` body answering the business's last message, or None to stop."""
    kind = message.get("type")
    if kind == "interactive":
        interactive = message["interactive"]
        if interactive["type"] == "button":
            button = rng.choice(interactive["action"]["buttons"])["reply"]
            return {"type": "button_reply", "payload": button["id"], "text": button["title"]}
        if interactive["type"] == "list":
            rows = [r for s in interactive["action"]["sections"] for r in s["rows"]]
            row = rng.choice(rows)
            return {"type": "list_reply", "payload": row["id"], "text": row["title"]}
        return None
    if kind == "text":
        body = str(message["text"]["body"])
        if "?" not in body and "reply with a number" not in body.lower():
            return None  # a statement: the conversation has come to an end
        if "reply with a number" in body.lower():
            options = [line for line in body.splitlines() if line[:1].isdigit()]
            if options:
                return {"type": "text", "text": str(rng.randint(1, len(options)))}
        return {"type": "text", "text": _typed_answer(body, rng)}
    return None


async def converse(emulator: httpx.AsyncClient, wa_id: str, rng: random.Random) -> None:
    try:
        await _converse(emulator, wa_id, rng)
    except httpx.HTTPError as exc:
        log.warning("simulated conversation with %s failed: %s", wa_id, exc)


async def _converse(emulator: httpx.AsyncClient, wa_id: str, rng: random.Random) -> None:
    async def send(spec: dict[str, Any]) -> None:
        await emulator.post(
            f"/_emulator/users/{wa_id}/send",
            json={"phone_number_id": DEMO_PHONE_NUMBER_ID, **spec},
        )

    seen = len((await emulator.get(f"/_emulator/users/{wa_id}/inbox")).json())
    await send({"type": "text", "text": rng.choice(OPENERS)})
    for _ in range(MAX_TURNS):
        await asyncio.sleep(rng.uniform(1.5, 3.0))
        inbox = (await emulator.get(f"/_emulator/users/{wa_id}/inbox")).json()
        if len(inbox) <= seen:
            continue  # nothing new yet (or a human is on it)
        seen = len(inbox)
        roll = rng.random()
        if roll < 0.08:
            return  # stops answering: a drop-off the analytics will show
        if roll < 0.12:
            await send({"type": "text", "text": "can I talk to a human?"})
            return
        answer = answer_for(inbox[-1], rng)
        if answer is None:
            return
        await send(answer)


async def conversations(emulator: httpx.AsyncClient, wa_ids: list[str], seed: int = 3) -> None:
    """Keep a few conversations going at once, for as long as the demo runs."""
    rng = random.Random(seed)
    running: set[asyncio.Task[None]] = set()
    while True:
        if len(running) < 4:
            task = asyncio.create_task(
                converse(emulator, rng.choice(wa_ids), random.Random(rng.random()))
            )
            running.add(task)
            task.add_done_callback(running.discard)
        await asyncio.sleep(rng.uniform(1.0, 3.0))
