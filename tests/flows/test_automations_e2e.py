"""Automations end to end: Threadline and the WhatsApp emulator over HTTP, events posted to
the API, the worker stepping waits and schedules. What each person's phone receives is read
at the emulator."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.whatsapp.harness import Stack, whatsapp_stack
from tests.flows.test_runtime import sessions_of
from tests.flows.test_runtime_e2e import bot_says, shown, upload
from threadline.flows.entry import holdout_key
from threadline.policy.holdout import campaign_bucket, in_slice

ABANDONED_CART = """
format: 1
flow: abandoned_cart
name: Abandoned cart
purpose: marketing
expires_after: 2d
holdout_percent: 50
triggers:
  - event: {kind: cart_updated}
exit_on:
  - event: {kind: purchase}
    outcome: purchased
reentry: {while_active: restart}
start: wait_an_hour
nodes:
  - id: wait_an_hour
    type: wait
    for: 1h
    next: still_in_cart
  - id: still_in_cart
    type: branch
    cases:
      - when: {event: purchase, within: 1h}
        next: bought
    default: remind
  - id: remind
    type: say
    text: "Your cart is waiting: {{params.event.cart_url}}"
    template:
      name: cart_reminder
      body: ["{{contact.name}}", "{{params.event.cart_url}}"]
    next: reminded
  - id: reminded
    type: end
    outcome: resolved
  - id: bought
    type: end
    outcome: purchased
"""


def template_sent(item: dict[str, Any]) -> tuple[str, list[str]]:
    message = item.get("message", item)
    assert message["type"] == "template", message
    values = [p["text"] for p in message["template"]["components"][0]["parameters"]]
    return str(message["template"]["name"]), values


async def subscriber(stack: Stack, wa_id: str, name: str) -> str:
    """A contact who opted in to marketing on WhatsApp and has not written lately."""
    await stack.add_user(wa_id)
    created = await stack.api.post(
        "/api/v1/contacts", json={"urns": [f"whatsapp:+{wa_id}"], "name": name}
    )
    assert created.status_code == 201, created.text
    contact_id: str = created.json()["id"]
    await stack.grant(contact_id, topic="marketing")
    return contact_id


async def event(stack: Stack, contact_id: str, key: str, kind: str, **extra: Any) -> None:
    r = await stack.api.post(
        "/api/v1/events",
        json={"idempotency_key": key, "kind": kind, "contact_id": contact_id, **extra},
    )
    assert r.status_code == 201, r.text


async def settle(stack: Stack, rounds: int = 4) -> None:
    for _ in range(rounds):
        await stack.work()


def held_out(contact_id: str, flow_key: str, percent: float) -> bool:
    return in_slice(campaign_bucket(contact_id, holdout_key(flow_key)), percent)


async def test_abandoned_cart_reminds_once_exits_on_purchase_and_keeps_a_silent_control(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await stack.add_template(
            "cart_reminder", "MARKETING", body="Hi {{1}}, your cart is waiting: {{2}}"
        )
        await stack.sync_templates()
        flow_id = await upload(stack, ABANDONED_CART)
        # Contacts' ids are random: take people until both groups are represented.
        treated: list[tuple[str, str]] = []
        control: list[tuple[str, str]] = []
        for i in range(40):
            wa_id = f"55119{i:08d}"
            contact_id = await subscriber(stack, wa_id, f"Person {i}")
            group = control if held_out(contact_id, "abandoned_cart", 50) else treated
            group.append((wa_id, contact_id))
            if len(treated) >= 2 and control:
                break
        (forgetful, forgetful_id), (buyer, buyer_id) = treated[:2]
        controlled = control[0][0]
        for i, (_wa_id, contact_id) in enumerate((treated[0], treated[1], control[0])):
            await event(
                stack,
                contact_id,
                f"cart-{contact_id}",
                "cart_updated",
                properties={"cart_id": f"c-{contact_id}", "cart_url": f"https://shop.test/{i}"},
            )
        await settle(stack)
        assert [await stack.inbox(w) for w in (forgetful, buyer, controlled)] == [[], [], []]

        # Half an hour later the buyer pays, and the forgetful one changes the cart again:
        # the buyer's run ends there, the other's hour starts over.
        await stack.advance(timedelta(minutes=30))
        await event(stack, buyer_id, "buy-1", "purchase", value=40, currency="EUR")
        await event(
            stack,
            forgetful_id,
            "cart-again",
            "cart_updated",
            properties={"cart_id": "c2", "cart_url": "https://shop.test/c/second"},
        )
        (bought,) = [s for s in await sessions_of(stack, buyer) if s["status"] == "ended"]
        assert bought["outcome"] == "purchased" and bought["end_reason"] == "exit: purchase"

        await stack.advance(timedelta(minutes=31))  # the first hour is over: nobody yet
        await settle(stack)
        assert [await stack.inbox(w) for w in (forgetful, buyer, controlled)] == [[], [], []]

        await stack.advance(timedelta(minutes=30))  # the restarted hour is over
        inbox = await bot_says(stack, forgetful, 1)
        name = f"Person {int(forgetful[-8:])}"
        assert template_sent(inbox[0]) == ("cart_reminder", [name, "https://shop.test/c/second"])
        await settle(stack)
        assert len(await stack.inbox(forgetful)) == 1
        assert await stack.inbox(buyer) == [] and await stack.inbox(controlled) == []

        runs = await sessions_of(stack, forgetful)
        assert sorted((s["outcome"], s["end_reason"]) for s in runs) == [
            ("abandoned", "exit: restarted"),
            ("resolved", None),
        ]
        (ghost,) = await sessions_of(stack, controlled)
        assert ghost["outcome"] == "held_out" and ghost["end_reason"] == "holdout"

        report = (await stack.api.get(f"/api/v1/flows/{flow_id}/analytics")).json()
        assert report["holdout"]["control"]["sessions"] == 1
        assert report["holdout"]["treated"]["sessions"] == 3  # both of the forgetful one's runs
        assert report["holdout"]["treated"]["converted"] == 1  # the buyer
        assert report["holdout"]["control"]["converted"] == 0
        assert "held_out" not in report["outcomes"] or report["outcomes"]["held_out"]["count"] == 0


WIN_BACK = """
format: 1
flow: win_back
name: We miss you
purpose: marketing
reentry: {after: 30d}
triggers:
  - schedule: {every: day, at: "AT", segment: "last_inbound < -30d"}
start: offer
nodes:
  - id: offer
    type: say
    text: "We miss you, {{contact.name}}!"
    template: {name: we_miss_you, body: ["{{contact.name}}"]}
    next: done
  - id: done
    type: end
"""


async def test_re_engagement_reaches_the_quiet_once_and_respects_the_frequency_cap(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await stack.add_template("we_miss_you", "MARKETING", body="We miss you, {{1}}!")
        await stack.add_template("spring_sale", "MARKETING", body="Spring sale, {{1}}")
        await stack.sync_templates()
        r = await stack.api.patch(
            "/api/v1/workspace/settings",
            json={"frequency_caps": [{"max_messages": 1, "hours": 168}]},
        )
        assert r.status_code == 200, r.text
        quiet, capped, chatty = "5511900000101", "5511900000102", "5511900000103"
        for wa_id in (quiet, capped, chatty):
            await stack.add_user(wa_id)
            await stack.user_says(wa_id, "hello")
        ids = {w: await stack.contact_by_urn(f"whatsapp:{w}") for w in (quiet, capped, chatty)}
        for wa_id, contact_id in ids.items():
            await stack.api.patch(f"/api/v1/contacts/{contact_id}", json={"name": wa_id[-3:]})
            await stack.grant(contact_id, topic="marketing")

        await stack.advance(timedelta(days=31))
        await stack.user_says(chatty, "still here")  # chatty wrote lately: not in the segment
        await stack.until(lambda: _has_written_twice(stack, ids[chatty]))
        # The capped one already got this week's marketing message.
        sale = await stack.send(
            ids[capped], "marketing", {"type": "template", "name": "spring_sale", "body": ["102"]}
        )
        assert sale["status"] == "queued", sale
        await bot_says(stack, capped, 1)

        at = (stack.clock.now() + timedelta(minutes=10)).strftime("%H:%M")
        await upload(stack, WIN_BACK.replace("AT", at))
        await stack.advance(timedelta(minutes=11))
        inbox = await bot_says(stack, quiet, 1)
        assert template_sent(inbox[0]) == ("we_miss_you", ["101"])
        await settle(stack)
        assert len(await stack.inbox(capped)) == 1  # only the sale
        assert await stack.inbox(chatty) == []
        refused = (await stack.api.get(f"/api/v1/contacts/{ids[capped]}/messages")).json()
        win_back = [m for m in refused if m.get("template_name") == "we_miss_you"]
        assert [(m["status"], m["reason"]) for m in win_back] == [("refused", "frequency_cap")]

        # A day later the schedule runs again: nobody is taken in twice within 30 days.
        await stack.advance(timedelta(days=1))
        await settle(stack, rounds=6)
        assert len(await stack.inbox(quiet)) == 1
        assert len(await sessions_of(stack, quiet)) == 1


async def _has_written_twice(stack: Stack, contact_id: str) -> bool:
    thread = (await stack.api.get(f"/api/v1/contacts/{contact_id}/messages")).json()
    return len([m for m in thread if m["direction"] == "in"]) == 2


FOLLOW_UP = """
format: 1
flow: follow_up
name: Follow-up
purpose: utility
triggers:
  - event: {kind: order_status, name: delivered}
EXIT
start: pause
nodes:
  - {id: pause, type: wait, for: 2h, next: ask_review}
  - id: ask_review
    type: say
    text: "How was order {{params.event.order_id}}?"
    next: done
  - {id: done, type: end}
"""
HOURS = """
format: 1
flow: hours
name: Hours
triggers:
  - keyword: [hours]
start: which
nodes:
  - id: which
    type: ask
    text: Which store?
    choices:
      - {id: centre, title: Centre, next: centre}
      - {id: mall, title: Mall, next: centre}
  - {id: centre, type: end, text: "Open 9 to 7."}
"""


async def delivered(stack: Stack, contact_id: str, order_id: str) -> None:
    await event(
        stack,
        contact_id,
        f"delivered-{order_id}",
        "order_status",
        name="delivered",
        properties={"order_id": order_id, "status": "delivered"},
    )


async def test_a_sleeping_automation_lets_the_person_talk_and_waits_its_turn(
    database_url: str, sessions: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="threadline.flows")
    async with whatsapp_stack(database_url, sessions) as stack:
        await upload(stack, FOLLOW_UP.replace("EXIT", ""))
        await upload(stack, HOURS)
        wa_id = "5511900000201"
        await stack.add_user(wa_id)
        await stack.user_says(wa_id, "hi")
        contact_id = await stack.contact_by_urn(f"whatsapp:{wa_id}")
        await delivered(stack, contact_id, "A-1")

        # While the follow-up sleeps, the person's words start another flow at once.
        await stack.advance(timedelta(minutes=119))
        await stack.user_says(wa_id, "hours?")
        inbox = await bot_says(stack, wa_id, 1)
        assert [shown(i) for i in inbox] == ["Which store?"]

        # Its time comes while they are answering: it does not break in.
        await stack.advance(timedelta(minutes=2))
        await settle(stack)
        assert len(await stack.inbox(wa_id)) == 1
        await stack.user_says(wa_id, "Centre", type="button_reply", payload="centre")
        inbox = await bot_says(stack, wa_id, 2)
        assert shown(inbox[1]) == "Open 9 to 7."

        # The conversation is over: a little later the follow-up takes its turn.
        await stack.advance(timedelta(minutes=6))
        inbox = await bot_says(stack, wa_id, 3)
        assert shown(inbox[2]) == "How was order A-1?"
        # put off in order, not failing and retried: the worker's log has no error
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_reply_or_an_opt_out_ends_a_sleeping_run_when_the_flow_says_so(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await upload(stack, FOLLOW_UP.replace("EXIT", "exit_on: [{reply: true}]"))
        replier, stopper, silent = "5511900000301", "5511900000302", "5511900000303"
        ids: dict[str, str] = {}
        for wa_id in (replier, stopper, silent):
            await stack.add_user(wa_id)
            await stack.user_says(wa_id, "hi")
            ids[wa_id] = await stack.contact_by_urn(f"whatsapp:{wa_id}")
            await delivered(stack, ids[wa_id], wa_id)
        await stack.user_says(replier, "thanks, all good")
        await stack.user_says(stopper, "STOPALL")
        await stack.until(lambda: _has_written_twice(stack, ids[stopper]))
        await stack.until(lambda: _has_written_twice(stack, ids[replier]))
        await stack.advance(timedelta(hours=2, minutes=1))
        inbox = await bot_says(stack, silent, 1)
        assert shown(inbox[-1]) == f"How was order {silent}?"
        await settle(stack)
        assert not [i for i in await stack.inbox(replier) if "How was" in shown(i)]
        assert not [i for i in await stack.inbox(stopper) if "How was" in shown(i)]
        (replied,) = await sessions_of(stack, replier)
        (stopped,) = await sessions_of(stack, stopper)
        assert (replied["outcome"], replied["end_reason"]) == ("resolved", "exit: replied")
        assert (stopped["outcome"], stopped["end_reason"]) == ("abandoned", "exit: opted_out")
