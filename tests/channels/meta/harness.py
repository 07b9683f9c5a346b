"""A Messenger Page or an Instagram account on the integration stack of
tests/channels/whatsapp/harness.py: registered in Threadline and in the emulator (which
verifies Threadline's webhook endpoint with the handshake), with people who write to it.

One workspace then has WhatsApp, Messenger and Instagram side by side, as a business would;
`Person` hides which of them a test talks on, so a conversation test runs on all three."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.channels.whatsapp.harness import PHONE_NUMBER_ID, Stack
from threadline.channels import service as channels
from threadline.kit.db import transaction

PAGE_ID = "1234567890"
IG_ACCOUNT_ID = "17841400000000001"
PAGE_TOKEN = "page-token"
META_APP_SECRET = "page-app-secret"
META_VERIFY_TOKEN = "meta-verify-me"
ADDRESS_OF = {"messenger": PAGE_ID, "instagram": IG_ACCOUNT_ID}


@dataclass
class MetaAccount:
    stack: Stack
    kind: str  # "messenger" or "instagram"
    id: str
    channel_id: str

    @property
    def path(self) -> str:
        return f"/_emulator/pages/{self.id}"

    async def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        r = await self.stack.emulator.post(f"{self.path}{path}", json=body or {})
        assert r.status_code == 200, r.text
        return r.json()

    async def requests(self) -> list[dict[str, Any]]:
        """Every Send API call the emulator received for this account, with its answer."""
        found: list[dict[str, Any]] = (
            await self.stack.emulator.get(f"{self.path}/requests")
        ).json()
        return found


async def add_meta_account(stack: Stack, kind: str) -> MetaAccount:
    """Register the Page (or the Instagram account linked to it) on both sides."""
    account_id = ADDRESS_OF[kind]
    common: dict[str, Any] = {
        "access_token": PAGE_TOKEN,
        "app_secret": META_APP_SECRET,
        "verify_token": META_VERIFY_TOKEN,
        "graph_url": stack.emulator_url,
    }
    spec = (
        channels.messenger_page(account_id, **common)
        if kind == "messenger"
        else channels.instagram_account(account_id, PAGE_ID, **common)
    )
    async with transaction(stack.sessions) as session:
        channel = await channels.add(
            session, stack.workspace_id, spec, stack.settings.secret_box(), stack.clock.now()
        )
    r = await stack.emulator.post(
        "/_emulator/pages",
        json={
            "kind": kind,
            "id": account_id,
            "page_id": PAGE_ID if kind == "instagram" else None,
            "access_token": PAGE_TOKEN,
            "app_secret": META_APP_SECRET,
            "callback_url": f"{stack.base_url}/webhooks/{kind}",
            "verify_token": META_VERIFY_TOKEN,
        },
    )
    assert r.status_code == 200 and r.json()["verified"] is True, r.text
    return MetaAccount(stack, kind, account_id, channel.id)


@dataclass
class Person:
    """Someone writing to the business on one channel, as the emulator simulates them."""

    stack: Stack
    channel: str
    id: str  # wa_id, PSID or IGSID
    account: MetaAccount | None = None  # None on WhatsApp

    @property
    def urn(self) -> str:
        return f"{self.channel}:{self.id}"

    async def says(self, text: str) -> None:
        if self.account is None:
            await self.stack.user_says(self.id, text)
        else:
            await self.account.control(f"/people/{self.id}/send", {"text": text})

    async def taps(self, choice: dict[str, str]) -> None:
        """Taps one choice the business offered (see `offered`), the way this channel does."""
        if self.account is None:
            kind = "list_reply" if choice["form"] == "list" else "button_reply"
            await self.stack.user_says(self.id, choice["title"], type=kind, payload=choice["id"])
        elif choice["form"] == "quick_reply":
            body = {"text": choice["title"], "quick_reply": choice["id"]}
            await self.account.control(f"/people/{self.id}/send", body)
        else:
            body = {"title": choice["title"], "payload": choice["id"]}
            await self.account.control(f"/people/{self.id}/postback", body)

    async def inbox(self) -> list[dict[str, Any]]:
        """The messages the business sent this person, in order (sender actions left out)."""
        if self.account is None:
            return [item.get("message", item) for item in await self.stack.inbox(self.id)]
        r = await self.stack.emulator.get(f"{self.account.path}/people/{self.id}/inbox")
        r.raise_for_status()
        return [entry["message"] for entry in r.json() if "message" in entry]

    async def received(self, count: int) -> list[dict[str, Any]]:
        """Run the worker until the person has `count` messages from the business."""

        async def arrived() -> bool:
            return len(await self.inbox()) >= count

        await self.stack.until(arrived)
        return await self.inbox()

    async def sent_bodies(self) -> list[dict[str, Any]]:
        """The Send API bodies the platform accepted for this person's account, in order."""
        assert self.account is not None, "WhatsApp sends are in stack.requests()"
        return [r["body"] for r in await self.account.requests() if r["result"] == "accepted"]

    async def known_contact(self) -> str:
        """The person's contact id, once the worker has taken in what they wrote."""

        async def known() -> bool:
            r = await self.stack.api.get("/api/v1/contacts", params={"urn": self.urn})
            return bool(r.json()["items"])

        await self.stack.until(known)
        return await self.contact_id()

    async def contact_id(self) -> str:
        r = await self.stack.api.get("/api/v1/contacts", params={"urn": self.urn})
        r.raise_for_status()
        items = r.json()["items"]
        assert items, f"no contact for {self.urn}"
        found: str = items[0]["id"]
        return found


async def person_on(stack: Stack, channel: str, person_id: str) -> Person:
    """A person known to the emulator on `channel` (the account is registered if needed)."""
    if channel == "whatsapp":
        await stack.add_user(person_id)
        return Person(stack, channel, person_id)
    account = await add_meta_account(stack, channel)
    await account.control("/people", {"id": person_id})
    return Person(stack, channel, person_id, account)


async def send_text(stack: Stack, contact_id: str, text: str, **extra: Any) -> dict[str, Any]:
    """POST /api/v1/messages with a text (purpose service unless `extra` says otherwise)."""
    body = {
        "contact_id": contact_id,
        "purpose": "service",
        "content": {"type": "text", "body": text},
    }
    r = await stack.api.post("/api/v1/messages", json={**body, **extra})
    assert r.status_code == 201, r.text
    answer: dict[str, Any] = r.json()
    return answer


def said(message: dict[str, Any]) -> str:
    """The text a person reads in one message, on any of the three channels."""
    if "text" in message and isinstance(message["text"], str):
        return message["text"]  # Messenger / Instagram text and quick replies
    if message.get("type") == "text":
        return str(message["text"]["body"])
    if message.get("type") == "interactive":
        return str(message["interactive"]["body"]["text"])
    payload = message.get("attachment", {}).get("payload", {})
    if payload.get("template_type") == "button":
        return str(payload["text"])
    return str(message.get("type") or message.get("attachment", {}).get("type"))


def offered(message: dict[str, Any]) -> list[dict[str, str]]:
    """The choices a message offers, whatever form the channel gave them: WhatsApp reply
    buttons or list rows, Messenger/Instagram quick replies, button-template postbacks or
    card buttons. Each is {"id", "title", "form"}."""
    interactive = message.get("interactive")
    if interactive is not None:
        action = interactive.get("action", {})
        rows = [r for s in action.get("sections", []) for r in s["rows"]]
        if rows:
            return [{"id": r["id"], "title": r["title"], "form": "list"} for r in rows]
        return [
            {"id": b["reply"]["id"], "title": b["reply"]["title"], "form": "button"}
            for b in action.get("buttons", [])
        ]
    if "quick_replies" in message:
        return [
            {"id": q["payload"], "title": q["title"], "form": "quick_reply"}
            for q in message["quick_replies"]
        ]
    payload = message.get("attachment", {}).get("payload", {})
    buttons = list(payload.get("buttons", []))
    for element in payload.get("elements", []):
        buttons.extend(element.get("buttons", []))
    return [
        {"id": b["payload"], "title": b["title"], "form": "postback"}
        for b in buttons
        if b.get("type") == "postback"
    ]


__all__ = ["PHONE_NUMBER_ID", "MetaAccount", "Person", "add_meta_account", "person_on"]
