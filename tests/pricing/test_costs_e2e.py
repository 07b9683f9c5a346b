"""Cost before and after every send, over the real stack: the policy's estimate from the rate
card is stored on the message, and the platform's pricing block prices it again on delivery."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.whatsapp.harness import Stack, whatsapp_stack
from threadline.pricing import default_card

BR_USER = "5511955554444"


async def delivered(stack: Stack, message_id: str) -> dict[str, Any]:
    async def done() -> bool:
        r = await stack.api.get(f"/api/v1/messages/{message_id}")
        return r.json()["cost_actual"] is not None or r.json()["status"] in ("refused", "failed")

    await stack.until(done)
    answer: dict[str, Any] = (await stack.api.get(f"/api/v1/messages/{message_id}")).json()
    return answer


async def contact(stack: Stack, wa_id: str) -> str:
    await stack.add_user(wa_id)
    r = await stack.api.post("/api/v1/contacts", json={"urns": [f"whatsapp:+{wa_id}"]})
    assert r.status_code == 201, r.text
    contact_id: str = r.json()["id"]
    await stack.grant(contact_id)
    await stack.grant(contact_id, topic="transactional")
    return contact_id


def template(name: str, *values: str) -> dict[str, Any]:
    return {"type": "template", "name": name, "body": list(values)}


async def test_estimate_before_and_actual_after_agree_per_category_and_window(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await stack.add_template("spring_sale", "MARKETING", body="Sale {{1}}")
        await stack.add_template("order_update", "UTILITY", body="Order {{1}}")
        await stack.sync_templates()
        contact_id = await contact(stack, BR_USER)
        rates = default_card()
        marketing_rate = rates.rate("BR", "marketing", stack.clock.now())
        utility_rate = rates.rate("BR", "utility", stack.clock.now())
        assert marketing_rate is not None and utility_rate is not None

        # Window closed: marketing and utility templates are billed at Brazil's rates.
        sale = await stack.send(contact_id, "marketing", template("spring_sale", "20%"))
        order = await stack.send(contact_id, "utility", template("order_update", "A-1"))
        assert Decimal(sale["cost_estimate"]) == marketing_rate.price
        assert Decimal(order["cost_estimate"]) == utility_rate.price
        assert Decimal((await delivered(stack, sale["id"]))["cost_actual"]) == marketing_rate.price
        assert Decimal((await delivered(stack, order["id"]))["cost_actual"]) == utility_rate.price

        # The person writes: inside the window utility and service are free, marketing is not.
        await stack.user_says(BR_USER, "hi")
        await stack.until(lambda: _window_open(stack, contact_id))
        free_order = await stack.send(contact_id, "utility", template("order_update", "A-2"))
        reply = await stack.send(contact_id, "service", {"type": "text", "body": "Hello!"})
        sale_again = await stack.send(contact_id, "marketing", template("spring_sale", "30%"))
        assert Decimal(free_order["cost_estimate"]) == 0
        assert Decimal(reply["cost_estimate"]) == 0
        assert Decimal(sale_again["cost_estimate"]) == marketing_rate.price
        for sent in (free_order, reply, sale_again):
            done = await delivered(stack, sent["id"])
            assert Decimal(done["cost_actual"]) == Decimal(sent["cost_estimate"]), done


async def _window_open(stack: Stack, contact_id: str) -> bool:
    r = await stack.api.get(f"/api/v1/contacts/{contact_id}/conversations")
    return any(c["open"] for c in r.json())


async def test_a_seeded_run_costs_what_was_estimated(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    rng = random.Random(20261121)
    markets = ["5511944443333", "525512345678", "4915112345678", "919812345678", "14155550123"]
    async with whatsapp_stack(database_url, sessions) as stack:
        await stack.add_template("spring_sale", "MARKETING", body="Sale {{1}}")
        await stack.add_template("order_update", "UTILITY", body="Order {{1}}")
        await stack.sync_templates()
        contacts = [await contact(stack, wa_id) for wa_id in markets]
        sent = []
        for n in range(20):
            contact_id = rng.choice(contacts)
            if rng.random() < 0.5:
                answer = await stack.send(contact_id, "utility", template("order_update", f"#{n}"))
            else:
                answer = await stack.send(contact_id, "marketing", template("spring_sale", "10%"))
            sent.append(answer)
        queued = [s for s in sent if s["status"] == "queued"]
        assert len(queued) >= 10
        estimated = actual = Decimal(0)
        failed = 0
        for s in queued:
            done = await delivered(stack, s["id"])
            if done["status"] == "failed":  # e.g. the platform's per-user marketing cap
                assert done["cost_actual"] is None  # not delivered, not billed
                failed += 1
                continue
            estimated += Decimal(s["cost_estimate"])
            actual += Decimal(done["cost_actual"])
        assert estimated == actual
        assert estimated > 0 and failed < len(queued)


async def test_free_text_outside_the_window_is_refused_with_templates_and_their_cost(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await stack.add_template("spring_sale", "MARKETING", body="Sale {{1}}")
        await stack.add_template("order_update", "UTILITY", body="Order {{1}}")
        await stack.sync_templates()
        contact_id = await contact(stack, BR_USER)
        before = len(await stack.requests())
        answer = await stack.send(contact_id, "service", {"type": "text", "body": "Hi again!"})
        assert (answer["status"], answer["reason"]) == ("refused", "window_closed")
        utility_rate = default_card().rate("BR", "utility", stack.clock.now())
        assert utility_rate is not None
        assert answer["suggestions"] == [
            {
                "name": "order_update",
                "language": "en_US",
                "category": "utility",
                "estimated_cost": str(utility_rate.price),
            }
        ]
        for _ in range(3):
            await stack.work()
        assert len(await stack.requests()) == before  # refused before any HTTP call


async def test_a_template_of_the_wrong_category_is_refused_before_any_http_call(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await stack.add_template("spring_sale", "MARKETING", body="Sale {{1}}")
        await stack.sync_templates()
        contact_id = await contact(stack, BR_USER)
        before = len(await stack.requests())
        # A marketing template passed off as a utility message: billed differently, refused.
        answer = await stack.send(contact_id, "utility", template("spring_sale", "20%"))
        assert (answer["status"], answer["reason"]) == ("refused", "category_mismatch")
        for _ in range(3):
            await stack.work()
        assert len(await stack.requests()) == before
