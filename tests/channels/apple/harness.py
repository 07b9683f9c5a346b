"""An Apple Messages for Business account on the integration stack of
tests/channels/whatsapp/harness.py: registered in Threadline and in the emulator's MSP
gateway, with people who write to it from Messages."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from tests.channels.whatsapp.harness import Stack
from threadline.channels import service as channels
from threadline.kit.db import transaction

BUSINESS_ID = "b5a3c0de-7d1e-4c4f-9a8b-0123456789ab"
MSP_ID = "msp-integration"
SECRET = base64.b64encode(b"apple-msp-messaging-secret-32byt").decode()


@dataclass
class AppleAccount:
    stack: Stack
    channel_id: str

    def person(self, opaque_id: str) -> ApplePerson:
        return ApplePerson(self, opaque_id)


async def add_apple_account(stack: Stack) -> AppleAccount:
    spec = channels.apple_business(
        BUSINESS_ID, MSP_ID, secret=SECRET, gateway_url=stack.emulator_url
    )
    async with transaction(stack.sessions) as session:
        channel = await channels.add(
            session, stack.workspace_id, spec, stack.settings.secret_box(), stack.clock.now()
        )
    for path, body in (
        (
            "/_emulator/apple/msps",
            {
                "msp_id": MSP_ID,
                "secret_b64": SECRET,
                "message_url": f"{stack.base_url}/webhooks/apple/message",
            },
        ),
        ("/_emulator/apple/businesses", {"business_id": BUSINESS_ID, "msp_id": MSP_ID}),
    ):
        r = await stack.emulator.post(path, json=body)
        assert r.status_code == 200, r.text
    return AppleAccount(stack, channel.id)


@dataclass
class ApplePerson:
    account: AppleAccount
    id: str  # Apple's opaque id of the person for this business

    @property
    def urn(self) -> str:
        return f"apple:{self.id}"

    async def send(self, **spec: Any) -> dict[str, Any]:
        r = await self.account.stack.emulator.post(
            f"/_emulator/apple/users/{self.id}/send", json={"business_id": BUSINESS_ID, **spec}
        )
        assert r.status_code == 200, r.text
        answer: dict[str, Any] = r.json()
        assert answer["status"] == 200, answer
        return answer

    async def says(self, text: str) -> dict[str, Any]:
        return await self.send(text=text)

    async def inbox(self) -> list[dict[str, Any]]:
        """What the business sent, typing indicators left out."""
        r = await self.account.stack.emulator.get(f"/_emulator/apple/users/{self.id}/inbox")
        if r.status_code == 404:
            return []
        r.raise_for_status()
        return [
            entry["message"]
            for entry in r.json()
            if not str(entry["message"].get("type", "")).startswith("typing")
        ]

    async def received(self, count: int) -> list[dict[str, Any]]:
        async def arrived() -> bool:
            return len(await self.inbox()) >= count

        await self.account.stack.until(arrived)
        return await self.inbox()

    async def contact_id(self) -> str:
        return await self.account.stack.contact_by_urn(self.urn)
