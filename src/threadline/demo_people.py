"""Simulated people for `make demo` who talk with the example flows on all six channels
(WhatsApp, Messenger, Instagram, SMS, email, Apple Messages for Business): they open with a
keyword, tap buttons, list rows, quick replies and pickers, type answers, sometimes ask for a
human and sometimes just stop answering — so flow analytics have something real to show."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from threadline.demo import (
    DEMO_APPLE_BUSINESS_ID,
    DEMO_EMAIL,
    DEMO_IG_ID,
    DEMO_PAGE_ID,
    DEMO_PHONE_NUMBER_ID,
    DEMO_SMS_NUMBER,
)

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
# The order the talkers take the channels in.
CHANNELS = ("whatsapp", "messenger", "instagram", "sms", "email", "apple")


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


def apple_answer_for(message: dict[str, Any], rng: random.Random) -> dict[str, Any] | None:
    """The emulator `send` body answering the business's last message in Messages (a quick
    reply or list picker is answered by choosing one item), or None to stop."""
    if message.get("type") == "interactive":
        data = message.get("interactiveData", {}).get("data", {})
        if "quick-reply" in data:
            items = data["quick-reply"].get("items", [])
        else:
            sections = data.get("listPicker", {}).get("sections", [])
            items = [item for section in sections for item in section.get("items", [])]
        return {"select": [rng.choice(items)["identifier"]]} if items else None
    if message.get("type") == "text":
        answer = _text_answer(str(message.get("body", "")), rng)
        return None if answer is None else {"text": answer["text"]}
    return None


def email_text(mail: dict[str, Any]) -> str:
    """What a received email says, without the footer marketing mail carries."""
    return str(mail.get("text") or "").split("\n---\n", 1)[0].strip()


@dataclass(frozen=True)
class Person:
    """Someone the demo simulates: a WhatsApp user, a person on the Page or IG account, a
    phone that texts the SMS number, a mailbox that writes to the shop, or a person who
    writes from Messages."""

    channel: str  # one of CHANNELS
    id: str  # wa_id, PSID, IGSID, phone, email address or Apple's opaque id

    @property
    def account(self) -> str:
        return DEMO_PAGE_ID if self.channel == "messenger" else DEMO_IG_ID


Entries = list[dict[str, Any]]


@dataclass(frozen=True)
class _Side:
    """How the emulator lets a person on one channel type write, read and answer (`answer`
    is False when the person has nothing more to say)."""

    say: Callable[[httpx.AsyncClient, Person, str], Awaitable[None]]
    inbox: Callable[[httpx.AsyncClient, Person], Awaitable[Entries]]
    answer: Callable[[httpx.AsyncClient, Person, dict[str, Any], random.Random], Awaitable[bool]]


async def say(emulator: httpx.AsyncClient, person: Person, text: str) -> None:
    """The person writes a line of text on their channel."""
    await _SIDES[person.channel].say(emulator, person, text)


async def _inbox(emulator: httpx.AsyncClient, person: Person) -> Entries:
    return await _SIDES[person.channel].inbox(emulator, person)


async def _answer(
    emulator: httpx.AsyncClient, person: Person, last: dict[str, Any], rng: random.Random
) -> bool:
    """Answer the last message; False when the person has nothing more to say."""
    return await _SIDES[person.channel].answer(emulator, person, last, rng)


async def _listed(emulator: httpx.AsyncClient, path: str) -> Entries:
    found: Entries = (await emulator.get(path)).json()
    return found


# -- WhatsApp -----------------------------------------------------------------------------------
async def _wa_send(emulator: httpx.AsyncClient, person: Person, body: dict[str, Any]) -> None:
    await emulator.post(
        f"/_emulator/users/{person.id}/send",
        json={"phone_number_id": DEMO_PHONE_NUMBER_ID, **body},
    )


async def _wa_say(emulator: httpx.AsyncClient, person: Person, text: str) -> None:
    await _wa_send(emulator, person, {"text": text})


async def _wa_inbox(emulator: httpx.AsyncClient, person: Person) -> Entries:
    return await _listed(emulator, f"/_emulator/users/{person.id}/inbox")


async def _wa_answer(
    emulator: httpx.AsyncClient, person: Person, last: dict[str, Any], rng: random.Random
) -> bool:
    answer = answer_for(last, rng)
    if answer is not None:
        await _wa_send(emulator, person, answer)
    return answer is not None


# -- Messenger and Instagram --------------------------------------------------------------------
async def _meta_say(emulator: httpx.AsyncClient, person: Person, text: str) -> None:
    await emulator.post(
        f"/_emulator/pages/{person.account}/people/{person.id}/send", json={"text": text}
    )


async def _meta_inbox(emulator: httpx.AsyncClient, person: Person) -> Entries:
    path = f"/_emulator/pages/{person.account}/people/{person.id}/inbox"
    return [e for e in await _listed(emulator, path) if "message" in e]  # not sender actions


async def _meta_answer(
    emulator: httpx.AsyncClient, person: Person, last: dict[str, Any], rng: random.Random
) -> bool:
    meta = meta_answer_for(last, rng)
    if meta is None:
        return False
    action, body = meta
    await emulator.post(f"/_emulator/pages/{person.account}/people/{person.id}/{action}", json=body)
    return True


# -- SMS ----------------------------------------------------------------------------------------
async def _sms_say(emulator: httpx.AsyncClient, person: Person, text: str) -> None:
    await emulator.post(
        f"/_emulator/sms/people/{person.id}/send", json={"to": DEMO_SMS_NUMBER, "body": text}
    )


async def _sms_inbox(emulator: httpx.AsyncClient, person: Person) -> Entries:
    return await _listed(emulator, f"/_emulator/sms/people/{person.id}/inbox")


async def _sms_answer(
    emulator: httpx.AsyncClient, person: Person, last: dict[str, Any], rng: random.Random
) -> bool:
    answer = _text_answer(str(last.get("body", "")), rng)
    if answer is not None:
        await _sms_say(emulator, person, answer["text"])
    return answer is not None


# -- email --------------------------------------------------------------------------------------
async def _email_say(emulator: httpx.AsyncClient, person: Person, text: str) -> None:
    """A new email to the shop, the line as its subject too."""
    subject = text if len(text) <= 60 else f"{text[:57]}..."
    await emulator.post(
        f"/_emulator/mail/mailboxes/{person.id}/write",
        json={"to": DEMO_EMAIL, "subject": subject, "text": text},
    )


async def _email_inbox(emulator: httpx.AsyncClient, person: Person) -> Entries:
    found: Entries = (await emulator.get(f"/_emulator/mail/mailboxes/{person.id}")).json()[
        "messages"
    ]
    return found


async def _email_answer(
    emulator: httpx.AsyncClient, person: Person, last: dict[str, Any], rng: random.Random
) -> bool:
    """A reply in the thread of the shop's last email."""
    answer = _text_answer(email_text(last), rng)
    if answer is not None:
        await emulator.post(
            f"/_emulator/mail/mailboxes/{person.id}/reply",
            json={"text": answer["text"], "message_id": last.get("message_id")},
        )
    return answer is not None


# -- Apple Messages for Business ----------------------------------------------------------------
async def _apple_send(emulator: httpx.AsyncClient, person: Person, body: dict[str, Any]) -> None:
    await emulator.post(
        f"/_emulator/apple/users/{person.id}/send",
        json={"business_id": DEMO_APPLE_BUSINESS_ID, **body},
    )


async def _apple_say(emulator: httpx.AsyncClient, person: Person, text: str) -> None:
    await _apple_send(emulator, person, {"text": text})


async def _apple_inbox(emulator: httpx.AsyncClient, person: Person) -> Entries:
    """What the business sent, typing indicators left out (nothing before the person wrote)."""
    r = await emulator.get(f"/_emulator/apple/users/{person.id}/inbox")
    if r.status_code == 404:
        return []
    entries: Entries = r.json()
    return [
        e["message"] for e in entries if not str(e["message"].get("type", "")).startswith("typing")
    ]


async def _apple_answer(
    emulator: httpx.AsyncClient, person: Person, last: dict[str, Any], rng: random.Random
) -> bool:
    answer = apple_answer_for(last, rng)
    if answer is not None:
        await _apple_send(emulator, person, answer)
    return answer is not None


_SIDES = {
    "whatsapp": _Side(_wa_say, _wa_inbox, _wa_answer),
    "messenger": _Side(_meta_say, _meta_inbox, _meta_answer),
    "instagram": _Side(_meta_say, _meta_inbox, _meta_answer),
    "sms": _Side(_sms_say, _sms_inbox, _sms_answer),
    "email": _Side(_email_say, _email_inbox, _email_answer),
    "apple": _Side(_apple_say, _apple_inbox, _apple_answer),
}


# -- conversations ------------------------------------------------------------------------------
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


def people_of(
    wa_ids: Sequence[str],
    psids: Sequence[str],
    igsids: Sequence[str],
    phones: Sequence[str] = (),
    mailboxes: Sequence[str] = (),
    apple_ids: Sequence[str] = (),
) -> list[Person]:
    given = (wa_ids, psids, igsids, phones, mailboxes, apple_ids)
    return [Person(channel, i) for channel, ids in zip(CHANNELS, given, strict=True) for i in ids]


async def conversations(
    emulator: httpx.AsyncClient, people: Sequence[Person], seed: int = 3
) -> None:
    """Keep a few conversations going at once, for as long as the demo runs: the first ones
    on each channel in turn, so every channel has a conversation within seconds."""
    rng = random.Random(seed)
    channels = [c for c in CHANNELS if any(p.channel == c for p in people)]
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
