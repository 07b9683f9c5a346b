"""Simulated people for `make demo` who talk with the example flows on WhatsApp, Messenger
and Instagram: they open with a keyword, tap buttons, list rows and quick replies, type
answers, sometimes ask for a human and sometimes just stop answering — so flow analytics have
something real to show."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from threadline.demo import DEMO_IG_ID, DEMO_PAGE_ID, DEMO_PHONE_NUMBER_ID

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
        return _text_answer(str(message["text"]["body"]), rng)
    return None


def _text_answer(body: str, rng: random.Random) -> dict[str, Any] | None:
    if "?" not in body and "reply with a number" not in body.lower():
        return None  # a statement: the conversation has come to an end
    if "reply with a number" in body.lower():
        options = [line for line in body.splitlines() if line[:1].isdigit()]
        if options:
            return {"type": "text", "text": str(rng.randint(1, len(options)))}
    return {"type": "text", "text": _typed_answer(body, rng)}


def meta_answer_for(entry: dict[str, Any], rng: random.Random) -> tuple[str, dict[str, Any]] | None:
    """How a person answers the Page's (or Instagram account's) last message: the emulator
    action (`postback` or `send`) and its body, or None to stop."""
    message = entry.get("message")
    if not isinstance(message, dict):
        return None
    attachment = message.get("attachment")
    if isinstance(attachment, dict) and attachment.get("type") == "template":
        buttons = [
            b for b in attachment["payload"].get("buttons", []) if b.get("type") == "postback"
        ]
        if not buttons:
            return None
        button = rng.choice(buttons)
        return "postback", {"title": button["title"], "payload": button["payload"]}
    replies = message.get("quick_replies")
    if replies:
        reply = rng.choice(replies)
        return "send", {"text": reply["title"], "quick_reply": reply["payload"]}
    if "text" in message:
        answer = _text_answer(str(message["text"]), rng)
        return None if answer is None else ("send", {"text": answer["text"]})
    return None


@dataclass(frozen=True)
class Person:
    """Someone the demo simulates: a WhatsApp user, or a person on the Page or IG account."""

    channel: str  # "whatsapp", "messenger" or "instagram"
    id: str  # wa_id, PSID or IGSID

    @property
    def account(self) -> str:
        return DEMO_PAGE_ID if self.channel == "messenger" else DEMO_IG_ID


async def say(emulator: httpx.AsyncClient, person: Person, text: str) -> None:
    """The person writes a line of text on their channel."""
    if person.channel == "whatsapp":
        await emulator.post(
            f"/_emulator/users/{person.id}/send",
            json={"phone_number_id": DEMO_PHONE_NUMBER_ID, "text": text},
        )
    else:
        await emulator.post(
            f"/_emulator/pages/{person.account}/people/{person.id}/send", json={"text": text}
        )


async def _inbox(emulator: httpx.AsyncClient, person: Person) -> list[dict[str, Any]]:
    if person.channel == "whatsapp":
        found: list[dict[str, Any]] = (
            await emulator.get(f"/_emulator/users/{person.id}/inbox")
        ).json()
        return found
    entries = (
        await emulator.get(f"/_emulator/pages/{person.account}/people/{person.id}/inbox")
    ).json()
    return [e for e in entries if "message" in e]  # sender actions are not messages


async def _answer(
    emulator: httpx.AsyncClient, person: Person, last: dict[str, Any], rng: random.Random
) -> bool:
    """Answer the last message; False when the person has nothing more to say."""
    if person.channel == "whatsapp":
        answer = answer_for(last, rng)
        if answer is None:
            return False
        await emulator.post(
            f"/_emulator/users/{person.id}/send",
            json={"phone_number_id": DEMO_PHONE_NUMBER_ID, **answer},
        )
        return True
    meta = meta_answer_for(last, rng)
    if meta is None:
        return False
    action, body = meta
    await emulator.post(f"/_emulator/pages/{person.account}/people/{person.id}/{action}", json=body)
    return True


async def converse(emulator: httpx.AsyncClient, person: Person, rng: random.Random) -> None:
    try:
        await _converse(emulator, person, rng)
    except httpx.HTTPError as exc:
        log.warning("simulated conversation with %s failed: %s", person.id, exc)


async def _converse(emulator: httpx.AsyncClient, person: Person, rng: random.Random) -> None:
    seen = len(await _inbox(emulator, person))
    await say(emulator, person, rng.choice(OPENERS))
    for _ in range(MAX_TURNS):
        await asyncio.sleep(rng.uniform(1.5, 3.0))
        inbox = await _inbox(emulator, person)
        if len(inbox) <= seen:
            continue  # nothing new yet (or a human is on it)
        seen = len(inbox)
        roll = rng.random()
        if roll < 0.08:
            return  # stops answering: a drop-off the analytics will show
        if roll < 0.12:
            await say(emulator, person, "can I talk to a human?")
            return
        if not await _answer(emulator, person, inbox[-1], rng):
            return


def people_of(wa_ids: Sequence[str], psids: Sequence[str], igsids: Sequence[str]) -> list[Person]:
    return [
        *(Person("whatsapp", i) for i in wa_ids),
        *(Person("messenger", i) for i in psids),
        *(Person("instagram", i) for i in igsids),
    ]


async def conversations(
    emulator: httpx.AsyncClient, people: Sequence[Person], seed: int = 3
) -> None:
    """Keep a few conversations going at once, for as long as the demo runs: the first ones
    on each channel in turn, so every channel has a conversation within seconds."""
    rng = random.Random(seed)
    channels = sorted({p.channel for p in people}, key=["whatsapp", "messenger", "instagram"].index)
    by_channel = {c: [p for p in people if p.channel == c] for c in channels}
    running: set[asyncio.Task[None]] = set()
    turn = 0
    while True:
        if len(running) < 4 and channels:
            channel = channels[turn % len(channels)]
            turn += 1
            person = rng.choice(by_channel[channel])
            task = asyncio.create_task(converse(emulator, person, random.Random(rng.random())))
            running.add(task)
            task.add_done_callback(running.discard)
        await asyncio.sleep(rng.uniform(1.0, 3.0))
