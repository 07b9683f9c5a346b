"""The shipped product finder, one flow written once, run over the emulator on WhatsApp,
Messenger and Instagram: each channel shows the choices in its own form (reply buttons and
lists; button templates and quick replies) and the person taps through to a purchase; the
agent's reply after the hand-off reaches them on the channel they wrote on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.meta.harness import offered, person_on, said
from tests.channels.whatsapp.harness import Stack, whatsapp_stack
from threadline.flows.loader import bundle_from_path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "flows"
PEOPLE = {
    "whatsapp": "5511966665555",
    "messenger": "5678000000000011",
    "instagram": "9123000000000022",
}


async def install_product_finder(stack: Stack) -> None:
    bundle = bundle_from_path(EXAMPLES / "product_finder.yaml")
    r = await stack.api.post(
        "/api/v1/fields", json={"key": "favourite_category", "value_type": "text"}
    )
    assert r.status_code == 201, r.text
    r = await stack.api.post(
        "/api/v1/flows",
        json={"source": bundle.main, "origin": "product_finder.yaml", "catalog": bundle.catalog},
    )
    assert r.status_code == 201, r.text


def choice(message: dict[str, Any], choice_id: str) -> dict[str, str]:
    choices = {c["id"]: c for c in offered(message)}
    assert choice_id in choices, f"{choice_id} not offered in {message}"
    return choices[choice_id]


@pytest.mark.parametrize("channel", ["whatsapp", "messenger", "instagram"])
async def test_the_product_finder_taps_through_to_a_purchase(
    channel: str, database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await install_product_finder(stack)
        person = await person_on(stack, channel, PEOPLE[channel])
        await person.says("shop")
        inbox = await person.received(2)
        assert said(inbox[0]).startswith("Let's find something you'll love")
        assert [c["id"] for c in offered(inbox[1])] == ["shoes", "bags", "accessories"]

        await person.taps(choice(inbox[1], "shoes"))
        style = (await person.received(3))[2]
        assert [c["id"] for c in offered(style)] == ["casual", "sport", "formal", "any"]
        await person.taps(choice(style, "casual"))
        budget = (await person.received(4))[3]
        await person.taps(choice(budget, "100"))
        picks = (await person.received(5))[4]
        products = offered(picks)
        assert 1 <= len(products) <= 5

        await person.taps(products[0])
        count = len(await person.inbox())
        inbox = await person.received(count + 1)

        async def asked_anything_else() -> bool:
            messages = await person.inbox()
            return any(c["id"] == "bought" for c in offered(messages[-1]))

        await stack.until(asked_anything_else)
        inbox = await person.inbox()
        shown = inbox[5:-1]
        assert any(products[0]["id"] in str(m) for m in shown), "the product's image and link"
        await person.taps(choice(inbox[-1], "bought"))
        last = (await person.received(len(inbox) + 1))[-1]
        assert said(last).startswith("Wonderful, thank you!")

        contact_id = await person.contact_id()
        (run,) = (await stack.api.get(f"/api/v1/contacts/{contact_id}/flow-sessions")).json()
        assert run["outcome"] == "purchased"
        assert run["answers"]["category"] == "shoes"
        contact = (await stack.api.get(f"/api/v1/contacts/{contact_id}")).json()
        assert contact["fields"]["favourite_category"] == "shoes"


@pytest.mark.parametrize("channel", ["whatsapp", "messenger", "instagram"])
async def test_asking_for_a_person_opens_a_ticket_the_agent_answers_and_the_bot_resumes(
    channel: str, database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await install_product_finder(stack)
        person = await person_on(stack, channel, PEOPLE[channel])
        await person.says("shop")
        category = (await person.received(2))[1]
        await person.says("can I talk to a human?")

        async def ticket_open() -> bool:
            return len((await stack.api.get("/api/v1/tickets")).json()) == 1

        await stack.until(ticket_open)
        (ticket,) = (await stack.api.get("/api/v1/tickets")).json()
        assert ticket["team"] == "sales" and ticket["contact_id"] == await person.contact_id()
        before = len(await person.inbox())
        await person.says("is there a store in Recife?")
        for _ in range(4):
            await stack.work()
        assert len(await person.inbox()) == before, "the bot stays silent while people talk"

        r = await stack.api.post(
            f"/api/v1/tickets/{ticket['id']}/replies", json={"text": "Yes, on Rua da Aurora."}
        )
        assert r.status_code == 201, r.text
        assert said((await person.received(before + 1))[-1]) == "Yes, on Rua da Aurora."
        r = await stack.api.post(
            f"/api/v1/tickets/{ticket['id']}/resolve", json={"hand_back": True}
        )
        assert r.status_code == 200, r.text
        again = (await person.received(before + 2))[-1]
        assert offered(again) == offered(category), "back at the question it handed over on"
