"""Someone writing to the business on any of the six channels, as the emulator simulates them,
behind one small protocol, so that one conversation script runs on all of them.

Each channel shows a flow's choices in its own form, and the person answers the way that form
is answered:

- WhatsApp reply buttons and list rows, Messenger/Instagram quick replies and postbacks: the
  person taps (the platform carries the choice's id back).
- Apple Messages for Business quick replies and list pickers: the person selects the item
  (Apple posts its identifier back).
- SMS and email show no buttons: the choices are numbered lines of text, and the person
  replies with the number (by email, a reply to the message that offered them, quoting it).

A `Choice` always has the title the person reads; its `id` only where the channel shows one
(never on SMS or email, nor on Apple's numbered text)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from tests.channels.apple.harness import ApplePerson, add_apple_account
from tests.channels.email.harness import Mailbox, add_email_sender
from tests.channels.meta import harness as meta
from tests.channels.sms.harness import Texter, add_sms_number
from tests.channels.whatsapp.harness import Stack

CHANNELS = ("whatsapp", "messenger", "instagram", "sms", "email", "apple")
# Who writes on each channel (New York for SMS: 11:00 there when the stack runs at 15:00 UTC).
ADDRESSES = {
    "whatsapp": "5511966665555",
    "messenger": "5678000000000011",
    "instagram": "9123000000000022",
    "sms": "+12125550123",
    "email": "ana@people.example",
    "apple": "urn:mbid:AQAAY2FmZWNhZmVjYWZlY2FmZQ",
}
Message = dict[str, Any]  # one message as the channel delivered it (the emulator's shape)

_NUMBERED = re.compile(r"^(\d{1,2})\. (.+)$")
_DESCRIBED = " — "  # "Casual — Everyday and weekend": a list row said as text


@dataclass(frozen=True)
class Choice:
    """One choice a message offers, as the person sees it."""

    title: str
    form: str  # button, list, quick_reply, postback, list_picker or number
    id: str | None = None  # what a tap carries back; None where the channel shows no ids
    number: int | None = None  # its number, where the choices are numbered text
    # Where the choice was offered (the mail to answer, Apple's request): not what is shown.
    source: str | None = field(default=None, compare=False)


class Person(Protocol):
    """What a conversation test talks to on any channel (the classes below subclass it
    explicitly, to share `received`)."""

    @property
    def channel(self) -> str: ...

    @property
    def stack(self) -> Stack: ...

    async def received(self, count: int) -> list[Message]:
        """Run the worker until the person has `count` messages from the business."""

        async def arrived() -> bool:
            return len(await self.inbox()) >= count

        await self.stack.until(arrived)
        return await self.inbox()

    async def says(self, text: str) -> None:
        """Writes words (the first email starts a thread, later ones reply in it)."""

    async def inbox(self) -> list[Message]:
        """What the business sent this person, in order (indicators left out)."""

    def choices(self, message: Message) -> list[Choice]:
        """The choices `message` offers, in the order shown (none: [])."""

    def said(self, message: Message) -> str:
        """The words the person reads in `message`, choices left out where they are apart."""

    async def taps(self, choice: Choice) -> None:
        """Answers with `choice` the way its form is answered."""

    async def contact_id(self) -> str: ...


def numbered(text: str, source: str | None = None) -> list[Choice]:
    """The numbered lines of choices said as text ("1. Shoes" … "Reply with …"); a line
    "2. Sport — Running, gym" is the title "Sport". Only text that says how to answer offers
    choices."""
    lines = text.splitlines()
    if not any(line.startswith("Reply with") for line in lines):
        return []
    found = []
    for line in lines:
        matched = _NUMBERED.match(line.strip())
        if matched:
            title = matched.group(2).split(_DESCRIBED)[0]
            found.append(Choice(title, "number", number=int(matched.group(1)), source=source))
    return found


# -- WhatsApp, Messenger, Instagram -------------------------------------------------------
@dataclass
class MetaPerson(Person):
    """The WhatsApp / Messenger / Instagram person of tests/channels/meta/harness.py."""

    person: meta.Person

    @property
    def channel(self) -> str:
        return self.person.channel

    @property
    def stack(self) -> Stack:
        return self.person.stack

    async def says(self, text: str) -> None:
        await self.person.says(text)

    async def inbox(self) -> list[Message]:
        return await self.person.inbox()

    def choices(self, message: Message) -> list[Choice]:
        return [Choice(c["title"], c["form"], id=c["id"]) for c in meta.offered(message)]

    def said(self, message: Message) -> str:
        return meta.said(message)

    async def taps(self, choice: Choice) -> None:
        assert choice.id is not None, choice
        await self.person.taps({"id": choice.id, "title": choice.title, "form": choice.form})

    async def contact_id(self) -> str:
        return await self.person.contact_id()


# -- SMS ----------------------------------------------------------------------------------
@dataclass
class SmsPerson(Person):
    texter: Texter

    @property
    def channel(self) -> str:
        return "sms"

    @property
    def stack(self) -> Stack:
        return self.texter.number.stack

    async def says(self, text: str) -> None:
        await self.texter.says(text)

    async def inbox(self) -> list[Message]:
        return await self.texter.inbox()

    def choices(self, message: Message) -> list[Choice]:
        return numbered(str(message.get("body") or ""))

    def said(self, message: Message) -> str:
        return str(message.get("body") or "")

    async def taps(self, choice: Choice) -> None:
        assert choice.number is not None, choice
        await self.texter.says(str(choice.number))

    async def contact_id(self) -> str:
        return await self.texter.contact_id()


# -- Email --------------------------------------------------------------------------------
@dataclass
class EmailPerson(Person):
    mailbox: Mailbox
    subject: str = "Shopping"  # of the first mail, which starts the thread

    @property
    def channel(self) -> str:
        return "email"

    @property
    def stack(self) -> Stack:
        return self.mailbox.sender.stack

    async def says(self, text: str) -> None:
        if await self.mailbox.mails():
            await self.mailbox.replies(text)  # to the latest mail, quoting it
        else:
            await self.mailbox.writes(self.subject, text)

    async def inbox(self) -> list[Message]:
        return await self.mailbox.mails()

    def choices(self, message: Message) -> list[Choice]:
        return numbered(str(message.get("text") or ""), source=str(message["message_id"]))

    def said(self, message: Message) -> str:
        return str(message.get("text") or "").strip()

    async def taps(self, choice: Choice) -> None:
        assert choice.number is not None and choice.source is not None, choice
        await self.mailbox.replies(str(choice.number), message_id=choice.source)

    async def contact_id(self) -> str:
        return await self.mailbox.contact_id()


# -- Apple Messages for Business ----------------------------------------------------------
@dataclass
class ApplePersonOn(Person):
    person: ApplePerson

    @property
    def channel(self) -> str:
        return "apple"

    @property
    def stack(self) -> Stack:
        return self.person.account.stack

    async def says(self, text: str) -> None:
        await self.person.says(text)

    async def inbox(self) -> list[Message]:
        return await self.person.inbox()

    def choices(self, message: Message) -> list[Choice]:
        if message.get("type") == "text":
            return numbered(str(message.get("body") or ""))
        data = message.get("interactiveData", {}).get("data", {})
        request = data.get("requestIdentifier")
        if "quick-reply" in data:
            items = data["quick-reply"].get("items", [])
            return [
                Choice(i["title"], "quick_reply", id=i["identifier"], source=request) for i in items
            ]
        if "listPicker" in data:
            sections = data["listPicker"].get("sections", [])
            return [
                Choice(i["title"], "list_picker", id=i["identifier"], source=request)
                for s in sections
                for i in s.get("items", [])
            ]
        return []

    def said(self, message: Message) -> str:
        kind = message.get("type")
        if kind == "text":
            return str(message.get("body") or "")
        if kind == "richLink":
            link = message["richLinkData"]
            return f"{link['title']}\n{link['url']}"
        interactive = message.get("interactiveData", {})
        quick = interactive.get("data", {}).get("quick-reply")
        if quick is not None:
            return str(quick.get("summaryText") or "")
        return str(interactive.get("receivedMessage", {}).get("title") or kind)

    async def taps(self, choice: Choice) -> None:
        if choice.form == "number":
            assert choice.number is not None, choice
            await self.person.says(str(choice.number))
            return
        assert choice.id is not None, choice
        await self.person.send(select=[choice.id], request_identifier=choice.source)

    async def contact_id(self) -> str:
        return await self.person.contact_id()


async def person_on(stack: Stack, channel: str, address: str | None = None) -> Person:
    """A person on `channel` (its account registered on both sides first), writing from
    `address` (the channel's usual test person if not given)."""
    address = address or ADDRESSES[channel]
    if channel in ("whatsapp", "messenger", "instagram"):
        return MetaPerson(await meta.person_on(stack, channel, address))
    if channel == "sms":
        number = await add_sms_number(stack)
        return SmsPerson(await number.person(address))
    if channel == "email":
        sender = await add_email_sender(stack)
        return EmailPerson(sender.person(address))
    if channel == "apple":
        account = await add_apple_account(stack)
        return ApplePersonOn(account.person(address))
    raise ValueError(f"no person on {channel}")
