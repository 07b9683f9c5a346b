"""An email sender on the integration stack of tests/channels/whatsapp/harness.py: registered
in Threadline (sending over real SMTP to the emulator's relay) and in the emulator (which
posts people's mail, bounces and complaints to /webhooks/email)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.channels.whatsapp.harness import Stack
from threadline.channels import service as channels
from threadline.kit.db import transaction

SHOP = "shop@integration.example"
POSTAL = "Integration Shop, 1 Market Street, Springfield"


@dataclass
class EmailSender:
    stack: Stack
    address: str
    channel_id: str

    def person(self, address: str) -> Mailbox:
        return Mailbox(self, address)


async def add_email_sender(stack: Stack) -> EmailSender:
    relay = (await stack.emulator.get("/_emulator/mail")).json()
    spec = channels.email_sender(
        SHOP,
        smtp_url=relay["url"],
        from_name="Integration Shop",
        postal_address=POSTAL,
        public_url=stack.base_url,
    )
    async with transaction(stack.sessions) as session:
        channel = await channels.add(
            session, stack.workspace_id, spec, stack.settings.secret_box(), stack.clock.now()
        )
    r = await stack.emulator.post(
        "/_emulator/mail/domains",
        json={
            "address": SHOP,
            "inbound_url": f"{stack.base_url}/webhooks/email",
            "secret": spec.app_secret,
        },
    )
    assert r.status_code == 200, r.text
    return EmailSender(stack, SHOP, channel.id)


@dataclass
class Mailbox:
    """A person's mailbox at the emulator's relay."""

    sender: EmailSender
    address: str

    @property
    def urn(self) -> str:
        return f"mailto:{self.address}"

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = await self.sender.stack.emulator.post(
            f"/_emulator/mail/mailboxes/{self.address}{path}", json=body
        )
        assert r.status_code == 200, r.text
        answer: dict[str, Any] = r.json()
        return answer

    async def writes(self, subject: str, text: str) -> str:
        answer = await self._post("/write", {"to": SHOP, "subject": subject, "text": text})
        assert answer["status"] == 200, answer
        message_id: str = answer["message_id"]
        return message_id

    async def replies(self, text: str, message_id: str | None = None) -> str:
        answer = await self._post("/reply", {"text": text, "message_id": message_id})
        assert answer["status"] == 200, answer
        replied: str = answer["message_id"]
        return replied

    async def behaves(self, behaviour: str) -> None:
        await self._post("/behaviour", {"behaviour": behaviour})

    async def clicks_unsubscribe(self) -> int:
        answer = await self._post("/unsubscribe", {})
        status: int = answer["status"]
        return status

    async def mails(self) -> list[dict[str, Any]]:
        r = await self.sender.stack.emulator.get(f"/_emulator/mail/mailboxes/{self.address}")
        r.raise_for_status()
        found: list[dict[str, Any]] = r.json()["messages"]
        return found

    async def received(self, count: int) -> list[dict[str, Any]]:
        async def arrived() -> bool:
            return len(await self.mails()) >= count

        await self.sender.stack.until(arrived)
        return await self.mails()

    async def contact_id(self) -> str:
        return await self.sender.stack.contact_by_urn(self.urn)
