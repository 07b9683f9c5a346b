"""An SMS number on the integration stack of tests/channels/whatsapp/harness.py: registered in
Threadline and in the emulator's Twilio-compatible provider, with people who text it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.channels.whatsapp.harness import Stack
from threadline.channels import service as channels
from threadline.kit.db import transaction

SMS_NUMBER = "+14155550100"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "sms-auth-token"


@dataclass
class SmsNumber:
    stack: Stack
    number: str
    channel_id: str

    async def person(self, phone: str, **behaviour: Any) -> Texter:
        """Someone who texts this number; `behaviour` sets how their carrier treats sends."""
        if behaviour:
            r = await self.stack.emulator.post(f"/_emulator/sms/people/{phone}", json=behaviour)
            assert r.status_code == 200, r.text
        return Texter(self, phone)

    async def log(self) -> list[dict[str, Any]]:
        """Every message the provider handled for this number, with the form it was sent."""
        r = await self.stack.emulator.get("/_emulator/sms/messages")
        r.raise_for_status()
        entries: list[dict[str, Any]] = r.json()
        return [e for e in entries if self.number in (e.get("from"), e.get("to"))]


async def add_sms_number(
    stack: Stack, *, provider_opt_out: bool = False, number: str = SMS_NUMBER, mps: int = 10
) -> SmsNumber:
    """Register the number on both sides: the provider posts inbound texts to
    /webhooks/sms and Threadline names the same URL as each send's StatusCallback."""
    spec = channels.sms_number(
        number,
        ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        api_url=stack.emulator_url,
        throughput_mps=mps,
        public_url=stack.base_url,
        provider_opt_out=provider_opt_out,
    )
    async with transaction(stack.sessions) as session:
        channel = await channels.add(
            session, stack.workspace_id, spec, stack.settings.secret_box(), stack.clock.now()
        )
    emulator = stack.emulator
    r = await emulator.post(
        "/_emulator/sms/accounts", json={"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN}
    )
    assert r.status_code == 200, r.text
    r = await emulator.post(
        "/_emulator/sms/numbers",
        json={
            "account_sid": ACCOUNT_SID,
            "number": number,
            "sms_url": f"{stack.base_url}/webhooks/sms",
            "mps": mps,
            "opt_out_management": provider_opt_out,
        },
    )
    assert r.status_code == 200, r.text
    return SmsNumber(stack, number, channel.id)


@dataclass
class Texter:
    """A person with a phone, as the emulator's carrier simulates them."""

    number: SmsNumber
    phone: str

    @property
    def urn(self) -> str:
        return f"tel:{self.phone}"

    async def says(self, text: str, media_urls: list[str] | None = None) -> dict[str, Any]:
        r = await self.number.stack.emulator.post(
            f"/_emulator/sms/people/{self.phone}/send",
            json={"to": self.number.number, "body": text, "media_urls": media_urls or []},
        )
        assert r.status_code == 200, r.text
        answer: dict[str, Any] = r.json()
        assert answer["http_status"] == 200, answer
        return answer

    async def inbox(self) -> list[dict[str, Any]]:
        r = await self.number.stack.emulator.get(f"/_emulator/sms/people/{self.phone}/inbox")
        r.raise_for_status()
        items: list[dict[str, Any]] = r.json()
        return items

    async def texts(self) -> list[str]:
        return [str(item["body"]) for item in await self.inbox()]

    async def received(self, count: int) -> list[str]:
        """Run the worker until the person has `count` texts."""

        async def arrived() -> bool:
            return len(await self.inbox()) >= count

        await self.number.stack.until(arrived)
        return await self.texts()

    async def contact_id(self) -> str:
        return await self.number.stack.contact_by_urn(self.urn)
