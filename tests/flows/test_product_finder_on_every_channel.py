"""The shipped product finder, one flow written once, run over the emulator on all six
channels: each shows the choices in its own form (WhatsApp reply buttons and lists;
Messenger/Instagram button templates and quick replies; Apple quick replies, every question
here having 2 to 5 short choices; numbered text on SMS and email) and the person answers
through to a purchase the way that form is answered (see tests/flows/people.py); the agent's
reply after the hand-off reaches them on the channel they wrote on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.whatsapp.harness import Stack, serving, whatsapp_stack
from tests.flows.people import CHANNELS, Choice, Message, Person, person_on
from threadline.flows.loader import bundle_from_path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "flows"
BUNDLE = bundle_from_path(EXAMPLES / "product_finder.yaml")
CATALOG: dict[str, dict[str, Any]] = {p["title"]: p for p in BUNDLE.catalog}
# What the flow asks, as (id, title): the person reads the titles on every channel, and the
# ids come back with a tap wherever the channel shows them.
CATEGORIES = [("shoes", "Shoes"), ("bags", "Bags"), ("accessories", "Accessories")]
STYLES = [
    ("casual", "Casual"),
    ("sport", "Sport"),
    ("formal", "Formal"),
    ("any", "Show me everything"),
]
BUDGETS = [("50", "Up to $50"), ("100", "Up to $100"), ("any", "No limit")]
AFTER_PICK = [
    ("bought", "I bought it!"),
    ("person", "Talk to a person"),
    ("looking", "Just looking"),
]


# The shop's own site, where the flow's product images and pages live.
SHOP = "https://shop.example"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


@asynccontextmanager
async def shop_site() -> AsyncIterator[str]:
    """A stand-in for the shop's site on a real port. Email attaches the product's image,
    so Threadline downloads it (the other channels' platforms fetch it themselves); the
    shipped flow's shop.example is nowhere."""
    app = FastAPI()

    @app.get("/img/{name}")
    async def image(name: str) -> Response:
        return Response(JPEG, media_type="image/jpeg")

    @app.get("/p/{product}")
    async def page(product: str) -> Response:
        return Response(f"<h1>{product}</h1>", media_type="text/html")

    async with serving(app) as url:
        yield url


async def install_product_finder(stack: Stack, shop: str) -> None:
    """The shipped flow and catalog, with the shop's site at `shop`."""
    r = await stack.api.post(
        "/api/v1/fields", json={"key": "favourite_category", "value_type": "text"}
    )
    assert r.status_code == 201, r.text
    catalog = [
        {k: v.replace(SHOP, shop) if isinstance(v, str) else v for k, v in product.items()}
        for product in BUNDLE.catalog
    ]
    r = await stack.api.post(
        "/api/v1/flows",
        json={
            "source": BUNDLE.main.replace(SHOP, shop),
            "origin": "product_finder.yaml",
            "catalog": catalog,
        },
    )
    assert r.status_code == 201, r.text


def asks(person: Person, message: Message, expected: list[tuple[str, str]]) -> list[Choice]:
    """The message offers exactly `expected`: their titles, in order, and their ids where the
    channel shows ids (SMS and email show numbers instead: 1, 2, 3 …)."""
    choices = person.choices(message)
    assert [c.title for c in choices] == [title for _, title in expected], message
    if all(c.id is not None for c in choices):
        assert [c.id for c in choices] == [choice_id for choice_id, _ in expected]
    else:
        assert [c.number for c in choices] == list(range(1, len(expected) + 1))
    return choices


def choice(choices: list[Choice], title: str) -> Choice:
    found = {c.title: c for c in choices}
    assert title in found, f"{title} not offered in {choices}"
    return found[title]


@pytest.mark.parametrize("channel", CHANNELS)
async def test_the_product_finder_taps_through_to_a_purchase(
    channel: str, database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with shop_site() as shop, whatsapp_stack(database_url, sessions) as stack:
        await install_product_finder(stack, shop)
        person = await person_on(stack, channel)
        await person.says("shop")
        inbox = await person.received(2)
        assert person.said(inbox[0]).startswith("Let's find something you'll love")
        categories = asks(person, inbox[1], CATEGORIES)
        assert person.said(inbox[1]).startswith("What are you shopping for?")

        await person.taps(choice(categories, "Shoes"))
        style = (await person.received(3))[2]
        await person.taps(choice(asks(person, style, STYLES), "Casual"))
        budget = (await person.received(4))[3]
        await person.taps(choice(asks(person, budget, BUDGETS), "Up to $100"))
        picks = (await person.received(5))[4]
        products = person.choices(picks)
        assert 1 <= len(products) <= 5
        for product in products:  # casual shoes up to $100, from the catalog
            found = CATALOG[product.title]
            assert found["attributes"] == {"category": "shoes", "style": "casual"}
            assert found["price"] <= 100
            assert product.id in (None, found["id"])
        picked = CATALOG[products[0].title]["id"]

        await person.taps(products[0])
        count = len(await person.inbox())
        inbox = await person.received(count + 1)

        async def asked_anything_else() -> bool:
            messages = await person.inbox()
            return any(c.title == "I bought it!" for c in person.choices(messages[-1]))

        await stack.until(asked_anything_else)
        inbox = await person.inbox()
        shown = inbox[5:-1]
        assert any(picked in str(m) for m in shown), "the product's image and link"
        await person.taps(choice(asks(person, inbox[-1], AFTER_PICK), "I bought it!"))
        last = (await person.received(len(inbox) + 1))[-1]
        assert person.said(last).startswith("Wonderful, thank you!")

        contact_id = await person.contact_id()
        (run,) = (await stack.api.get(f"/api/v1/contacts/{contact_id}/flow-sessions")).json()
        assert run["outcome"] == "purchased"
        assert run["answers"]["category"] == "shoes"
        assert run["answers"]["style"] == "casual"
        assert run["answers"]["budget"] == "100"
        assert run["answers"]["product"] == picked
        contact = (await stack.api.get(f"/api/v1/contacts/{contact_id}")).json()
        assert contact["fields"]["favourite_category"] == "shoes"
        r = await stack.api.get(f"/api/v1/contacts/{contact_id}/conversations")
        assert [c["channel"] for c in r.json()] == [channel]


@pytest.mark.parametrize("channel", CHANNELS)
async def test_asking_for_a_person_opens_a_ticket_the_agent_answers_and_the_bot_resumes(
    channel: str, database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with shop_site() as shop, whatsapp_stack(database_url, sessions) as stack:
        await install_product_finder(stack, shop)
        person = await person_on(stack, channel)
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
        answer = (await person.received(before + 1))[-1]
        assert person.said(answer) == "Yes, on Rua da Aurora."
        r = await stack.api.post(
            f"/api/v1/tickets/{ticket['id']}/resolve", json={"hand_back": True}
        )
        assert r.status_code == 200, r.text
        again = (await person.received(before + 2))[-1]
        assert person.choices(again) == person.choices(category), "back at the question"
        asks(person, again, CATEGORIES)
