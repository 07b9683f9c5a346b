"""Flows running for real: Threadline and the WhatsApp emulator over HTTP, the worker
ingesting, stepping flows, ticking timers and webhooks, and dispatching."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.whatsapp.harness import Stack, whatsapp_stack
from threadline.flows.loader import bundle_from_path
from threadline.messages.models import Message

USER = "5511977776666"
FINDER = """
format: 1
flow: mini_finder
name: Mini finder
triggers:
  - keyword: [shop, comprar]
start: need
nodes:
  - id: need
    type: ask
    text: What are you looking for?
    choices:
      - {id: shoes, title: Shoes}
      - {id: bags, title: Bags}
    save_as: need
    next: picks
  - id: picks
    type: recommend
    text: Our picks for you
    where: {category: "{{answers.need}}"}
    save_as: product
    on_empty: nothing
    next: bought
  - id: nothing
    type: end
    outcome: abandoned
    text: Nothing right now.
  - id: bought
    type: end
    outcome: purchased
    text: Great choice!
"""
CATALOG = [
    {"id": f"s{i}", "title": f"Shoe {i}", "price": 50 + i, "attributes": {"category": "shoes"}}
    for i in range(1, 6)
] + [{"id": "b1", "title": "Bag", "price": 30, "attributes": {"category": "bags"}}]


async def upload(stack: Stack, source: str, catalog: list[dict[str, Any]] | None = None) -> str:
    r = await stack.api.post("/api/v1/flows", json={"source": source, "catalog": catalog or []})
    assert r.status_code == 201, r.text
    flow_id: str = r.json()["id"]
    return flow_id


async def bot_says(stack: Stack, wa_id: str, count: int) -> list[dict[str, Any]]:
    """Run the worker until the person's phone has `count` messages from the business."""

    async def arrived() -> bool:
        return len(await stack.inbox(wa_id)) >= count

    await stack.until(arrived)
    return await stack.inbox(wa_id)


def shown(item: dict[str, Any]) -> str:
    message = item.get("message", item)
    kind = message.get("type")
    if kind == "text":
        return str(message["text"]["body"])
    if kind == "interactive":
        return str(message["interactive"]["body"]["text"])
    return str(kind)


async def test_product_finder_handoff_silence_and_resume(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await upload(stack, FINDER, CATALOG)
        await stack.add_user(USER)
        await stack.user_says(USER, "I want to shop")
        inbox = await bot_says(stack, USER, 1)
        first = inbox[0].get("message", inbox[0])
        assert first["type"] == "interactive" and first["interactive"]["type"] == "button"
        buttons = [b["reply"]["title"] for b in first["interactive"]["action"]["buttons"]]
        assert buttons == ["Shoes", "Bags"]

        await stack.user_says(USER, "Shoes", type="button_reply", payload="shoes")
        inbox = await bot_says(stack, USER, 2)
        products = inbox[1].get("message", inbox[1])
        assert products["interactive"]["type"] == "list"
        rows = products["interactive"]["action"]["sections"][0]["rows"]
        assert [r["title"] for r in rows] == [f"Shoe {i}" for i in range(1, 6)]

        await stack.user_says(USER, "I want to talk to a human")
        contact_id = await stack.contact_for(USER)

        async def ticket_open() -> bool:
            r = await stack.api.get("/api/v1/tickets", params={"status": "open"})
            return len(r.json()) == 1

        await stack.until(ticket_open)
        (ticket,) = (await stack.api.get("/api/v1/tickets")).json()
        assert ticket["contact_id"] == contact_id and ticket["team"] == "support"

        # The person writes again: the bot stays silent, the ticket hears it.
        before = len(await stack.inbox(USER))
        await stack.user_says(USER, "hello? anyone?")
        for _ in range(5):
            await stack.work()
        assert len(await stack.inbox(USER)) == before

        reply = await stack.api.post(
            f"/api/v1/tickets/{ticket['id']}/replies", json={"text": "Hi, Bruno here!"}
        )
        assert reply.status_code == 201, reply.text
        inbox = await bot_says(stack, USER, before + 1)
        assert shown(inbox[-1]) == "Hi, Bruno here!"

        detail = (await stack.api.get(f"/api/v1/tickets/{ticket['id']}")).json()
        said = [m["text"] for m in detail["transcript"]]
        assert "hello? anyone?" in said and "Hi, Bruno here!" in said

        resolved = await stack.api.post(
            f"/api/v1/tickets/{ticket['id']}/resolve", json={"hand_back": True}
        )
        assert resolved.status_code == 200, resolved.text
        # The bot resumes where the person asked for a human: the product list again.
        inbox = await bot_says(stack, USER, before + 2)
        again = inbox[-1].get("message", inbox[-1])
        assert again["interactive"]["type"] == "list"

        await stack.user_says(USER, "Shoe 3", type="list_reply", payload="s3")
        inbox = await bot_says(stack, USER, before + 3)
        assert shown(inbox[-1]) == "Great choice!"
        (session,) = (await stack.api.get(f"/api/v1/contacts/{contact_id}/flow-sessions")).json()
        assert session["outcome"] == "purchased" and session["answers"]["product"] == "s3"

        async with sessions() as db:
            flow_messages = list(
                await db.scalars(
                    select(Message.flow_node)
                    .where(Message.flow_session_id == session["id"])
                    .order_by(Message.created_at)
                )
            )
        assert flow_messages == ["need", "picks", "picks", "bought"]


EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "flows"


def interactive(item: dict[str, Any]) -> dict[str, Any]:
    message = item.get("message", item)
    assert message["type"] == "interactive", message
    found: dict[str, Any] = message["interactive"]
    return found


async def test_example_product_finder_taps_to_a_list_hands_off_and_resumes(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The acceptance run: the shipped product finder over the emulator, a person tapping
    through to the product list, asking for a human, the agent replying while the bot stays
    silent, the agent resolving, the bot resuming and the purchase recorded."""
    bundle = bundle_from_path(EXAMPLES / "product_finder.yaml")
    async with whatsapp_stack(database_url, sessions) as stack:
        r = await stack.api.post(
            "/api/v1/fields", json={"key": "favourite_category", "value_type": "text"}
        )
        assert r.status_code == 201, r.text
        r = await stack.api.post(
            "/api/v1/flows",
            json={
                "source": bundle.main,
                "origin": "product_finder.yaml",
                "catalog": bundle.catalog,
            },
        )
        assert r.status_code == 201, r.text
        await stack.add_user(USER)
        await stack.user_says(USER, "shop")
        inbox = await bot_says(stack, USER, 2)
        assert shown(inbox[0]).startswith("Let's find something you'll love")
        category = interactive(inbox[1])
        assert category["type"] == "button"
        assert [b["reply"]["id"] for b in category["action"]["buttons"]] == [
            "shoes",
            "bags",
            "accessories",
        ]
        await stack.user_says(USER, "Shoes", type="button_reply", payload="shoes")
        style = interactive((await bot_says(stack, USER, 3))[2])
        assert style["type"] == "list"  # four styles: more than three buttons
        await stack.user_says(USER, "Casual", type="list_reply", payload="casual")
        budget = interactive((await bot_says(stack, USER, 4))[3])
        await stack.user_says(
            USER,
            budget["action"]["buttons"][1]["reply"]["title"],
            type="button_reply",
            payload="100",
        )
        picks = interactive((await bot_says(stack, USER, 5))[4])
        assert picks["type"] in ("list", "button")
        offered = [
            row["id"] for section in picks["action"].get("sections", []) for row in section["rows"]
        ] or [b["reply"]["id"] for b in picks["action"]["buttons"]]
        assert offered

        await stack.user_says(USER, "can I talk to a human?")

        async def ticket_open() -> bool:
            return len((await stack.api.get("/api/v1/tickets")).json()) == 1

        await stack.until(ticket_open)
        (ticket,) = (await stack.api.get("/api/v1/tickets")).json()
        assert ticket["team"] == "sales"
        before = len(await stack.inbox(USER))
        await stack.user_says(USER, "is the first one waterproof?")
        for _ in range(4):
            await stack.work()
        assert len(await stack.inbox(USER)) == before  # the bot stays silent
        r = await stack.api.post(
            f"/api/v1/tickets/{ticket['id']}/replies", json={"text": "Yes, fully waterproof."}
        )
        assert r.status_code == 201, r.text
        inbox = await bot_says(stack, USER, before + 1)
        assert shown(inbox[-1]) == "Yes, fully waterproof."
        r = await stack.api.post(
            f"/api/v1/tickets/{ticket['id']}/resolve", json={"hand_back": True}
        )
        assert r.status_code == 200, r.text
        again = interactive((await bot_says(stack, USER, before + 2))[-1])
        assert again["body"]["text"] == picks["body"]["text"]  # back at the product list

        await stack.user_says(USER, "pick", type="list_reply", payload=offered[0])
        inbox = await bot_says(stack, USER, before + 5)
        shown_product = inbox[before + 2].get("message", inbox[before + 2])
        assert shown_product["type"] == "image"
        assert offered[0] in shown_product["image"]["link"]
        assert interactive(inbox[before + 3])["type"] == "cta_url"
        await stack.user_says(USER, "I bought it!", type="button_reply", payload="bought")
        inbox = await bot_says(stack, USER, before + 6)
        assert shown(inbox[-1]).startswith("Wonderful, thank you!")
        contact_id = await stack.contact_for(USER)
        (session,) = (await stack.api.get(f"/api/v1/contacts/{contact_id}/flow-sessions")).json()
        assert session["outcome"] == "purchased"
        contact = (await stack.api.get(f"/api/v1/contacts/{contact_id}")).json()
        assert contact["fields"]["favourite_category"] == "shoes"
