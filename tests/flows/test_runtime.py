"""Flows in a workspace over the real stack: uploading versions, what starts a flow and
which wins, timers, webhook lookups, opt-out mid-flow, escapes, one session per contact."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.whatsapp.harness import Stack, whatsapp_stack
from tests.flows.test_runtime_e2e import bot_says, shown, upload

USER = "5511966665555"


def flow(key: str, triggers: str, body: str, extra: str = "") -> str:
    return f"""
format: 1
flow: {key}
name: {key.title()}
{extra}
triggers:
{triggers}
start: first
nodes:
{body}
"""


SAY_AND_END = """
  - id: first
    type: say
    text: "{text}"
    next: done
  - id: done
    type: end
    outcome: resolved
"""


def says(key: str, triggers: str, text: str, extra: str = "") -> str:
    return flow(key, triggers, SAY_AND_END.format(text=text), extra)


async def sessions_of(stack: Stack, wa_id: str) -> list[dict[str, Any]]:
    contact_id = await stack.contact_for(wa_id)
    items: list[dict[str, Any]] = (
        await stack.api.get(f"/api/v1/contacts/{contact_id}/flow-sessions")
    ).json()
    return items


async def test_upload_versions_unchanged_sources_and_errors_with_line_and_node(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        source = says("hello", "  - keyword: [hi]", "Hello!")
        first = await stack.api.post("/api/v1/flows", json={"source": source})
        same = await stack.api.post("/api/v1/flows", json={"source": source})
        changed = await stack.api.post(
            "/api/v1/flows", json={"source": source.replace("Hello!", "Hi there!")}
        )
        assert (first.status_code, same.status_code, changed.status_code) == (201, 200, 201)
        assert same.json()["id"] == first.json()["id"]
        assert changed.json()["version"] == 2
        listed = (await stack.api.get("/api/v1/flows")).json()
        assert [(f["key"], f["version"]) for f in listed] == [("hello", 2)]
        by_key = (await stack.api.get("/api/v1/flows/hello")).json()
        assert "Hi there!" in by_key["source"]

        broken = source.replace("next: done", "next: nowhere")
        r = await stack.api.post(
            "/api/v1/flows", json={"source": broken, "origin": "flows/hello.yaml"}
        )
        assert r.status_code == 422
        (problem,) = r.json()["problems"]
        assert problem["file"] == "flows/hello.yaml" and problem["node"] == "first"
        assert problem["line"] == source.splitlines().index("  - id: first") + 1
        assert "no node named nowhere" in problem["message"]

        undeclared = flow(
            "fields",
            "  - api: true",
            """
  - id: first
    type: set
    fields: {shoe_size: 42}
    next: done
  - id: done
    type: end
""",
        )
        r = await stack.api.post("/api/v1/flows", json={"source": undeclared})
        assert r.status_code == 422 and "shoe_size" in r.json()["message"]
        assert r.json()["where"] == "nodes.first"


async def test_keyword_priority_and_ad_referral_pick_the_flow(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await upload(stack, says("low", "  - keyword: [shop]", "low priority"))
        await upload(stack, says("high", "  - keyword: [shop]", "high priority", "priority: 5"))
        await upload(
            stack,
            says("summer_ad", "  - referral: {source_id: ad_summer}", "Welcome from the ad!"),
        )
        await upload(stack, says("welcome", "  - first_inbound: true", "First time here?"))
        await stack.add_user(USER)
        await stack.user_says(USER, "can I shop here", referral={"source_id": "ad_summer"})
        inbox = await bot_says(stack, USER, 1)
        assert shown(inbox[0]) == "Welcome from the ad!"
        await stack.user_says(USER, "shop")
        inbox = await bot_says(stack, USER, 2)
        assert shown(inbox[1]) == "high priority"
        started = await sessions_of(stack, USER)
        assert [(s["flow_key"], s["trigger"]) for s in started] == [
            ("high", "keyword"),
            ("summer_ad", "referral"),
        ]
        assert started[1]["outcome"] == "resolved"
        # A plain message later matches nothing: no first_inbound again, no reply.
        await stack.user_says(USER, "thanks")
        for _ in range(4):
            await stack.work()
        assert len(await stack.inbox(USER)) == 2


ASK_WITH_TIMEOUT = """
  - id: first
    type: ask
    text: Which size?
    choices:
      - {id: s, title: Small}
      - {id: l, title: Large}
    save_as: size
    timeout: 10m
    on_timeout: nudge
    next: done
  - id: nudge
    type: say
    text: Still there? Type menu to start again.
    next: gone
  - id: gone
    type: end
    outcome: abandoned
  - id: done
    type: end
    outcome: resolved
    text: "Noted: {{answers.size}}"
"""


async def test_a_wait_times_out_into_its_on_timeout_node(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await upload(stack, flow("sizes", "  - keyword: [size]", ASK_WITH_TIMEOUT))
        await stack.add_user(USER)
        await stack.user_says(USER, "size")
        await bot_says(stack, USER, 1)
        stack.clock.advance(timedelta(minutes=9))
        for _ in range(3):
            await stack.work()
        assert len(await stack.inbox(USER)) == 1  # not yet
        stack.clock.advance(timedelta(minutes=2))
        inbox = await bot_says(stack, USER, 2)
        assert shown(inbox[1]) == "Still there? Type menu to start again."
        (session,) = await sessions_of(stack, USER)
        assert session["status"] == "ended" and session["outcome"] == "abandoned"
        assert session["path"] == ["first", "nudge", "gone"]


async def test_stop_mid_flow_ends_it_and_only_the_consent_reply_goes_out(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await upload(stack, flow("sizes", "  - keyword: [size]", ASK_WITH_TIMEOUT))
        await stack.add_user(USER)
        await stack.user_says(USER, "size")
        await bot_says(stack, USER, 1)
        await stack.user_says(USER, "STOP")
        inbox = await bot_says(stack, USER, 2)
        for _ in range(3):
            await stack.work()
        inbox = await stack.inbox(USER)
        assert len(inbox) == 2
        assert "unsubscribed" in shown(inbox[1]).lower() or "stop" in shown(inbox[1]).lower()
        (session,) = await sessions_of(stack, USER)
        assert (session["outcome"], session["end_reason"]) == ("abandoned", "opted_out")


async def test_menu_restarts_and_api_start_refuses_a_second_session(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        flow_id = await upload(stack, flow("sizes", "  - keyword: [size]", ASK_WITH_TIMEOUT))
        await stack.add_user(USER)
        await stack.user_says(USER, "size")
        await bot_says(stack, USER, 1)
        contact_id = await stack.contact_for(USER)
        busy = await stack.api.post(
            f"/api/v1/flows/{flow_id}/start", json={"contact_id": contact_id}
        )
        assert busy.status_code == 409 and busy.json()["error"] == "session_active"
        await stack.user_says(USER, "menu")
        inbox = await bot_says(stack, USER, 2)
        assert shown(inbox[1]) == "Which size?"
        await stack.user_says(USER, "2")  # the number of "Large"
        inbox = await bot_says(stack, USER, 3)
        assert shown(inbox[2]) == "Noted: l"
        (session,) = await sessions_of(stack, USER)
        assert session["path"] == ["first", "first", "done"]

        again = await stack.api.post(
            f"/api/v1/flows/{flow_id}/start", json={"contact_id": contact_id}
        )
        assert again.status_code == 201, again.text
        assert [m["text"] for m in again.json()["messages"]] == ["Which size?"]
        ended = await stack.api.post(f"/api/v1/flow-sessions/{again.json()['id']}/end")
        assert ended.json()["status"] == "ended" and ended.json()["end_reason"] == "ended_by_api"
        twice = await stack.api.post(f"/api/v1/flow-sessions/{again.json()['id']}/end")
        assert twice.status_code == 409


ORDER_STATUS = """
  - id: first
    type: ask
    text: What is your order number?
    expect: text
    save_as: order_id
    next: lookup
  - id: lookup
    type: webhook
    url: "{{params.shop}}/_emulator/shop/orders/{{answers.order_id}}"
    timeout: 2s
    save_as: order
    map: {status: status, eta: eta}
    next: tell
    on_failure: sorry
  - id: tell
    type: end
    outcome: resolved
    text: "Order {{answers.order_id}} is {{answers.order.status}}, arriving {{answers.order.eta}}."
  - id: sorry
    type: end
    outcome: abandoned
    text: "I could not find order {{answers.order_id}}."
"""


async def test_webhook_node_looks_the_order_up_over_http_and_handles_failure(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        r = await stack.emulator.post(
            "/_emulator/shop/orders",
            json={"id": "A-1001", "status": "shipped", "eta": "2026-03-12"},
        )
        assert r.status_code == 201
        flow_id = await upload(stack, flow("orders", "  - api: true", ORDER_STATUS))
        await stack.add_user(USER)
        await stack.user_says(USER, "hi")  # opens the window
        await stack.until(lambda: _known(stack))
        contact_id = await stack.contact_for(USER)
        started = await stack.api.post(
            f"/api/v1/flows/{flow_id}/start",
            json={"contact_id": contact_id, "params": {"shop": stack.emulator_url}},
        )
        assert started.status_code == 201, started.text
        await bot_says(stack, USER, 1)
        await stack.user_says(USER, "A-1001")
        inbox = await bot_says(stack, USER, 2)
        assert shown(inbox[1]) == "Order A-1001 is shipped, arriving 2026-03-12."

        await stack.api.post(
            f"/api/v1/flows/{flow_id}/start",
            json={"contact_id": contact_id, "params": {"shop": stack.emulator_url}},
        )
        await bot_says(stack, USER, 3)
        await stack.user_says(USER, "000123")  # the shop answers 404
        inbox = await bot_says(stack, USER, 4)
        assert shown(inbox[3]) == "I could not find order 000123."
        latest = (await sessions_of(stack, USER))[0]
        assert latest["answers"]["order_error"] == "HTTP 404"


async def _known(stack: Stack) -> bool:
    r = await stack.api.get("/api/v1/contacts", params={"urn": f"whatsapp:{USER}"})
    return bool(r.json()["items"])


REMINDER = """
  - id: first
    type: say
    text: "Your order {{params.event.order_id}} has shipped."
    template: {name: order_shipped, language: en_US, body: ["{{params.event.order_id}}"]}
    next: done
  - id: done
    type: end
    outcome: resolved
"""


async def test_contact_event_starts_a_flow_with_its_template_outside_the_window(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await stack.add_template("order_shipped", "UTILITY", body="Order {{1}} shipped")
        await stack.sync_templates()
        await upload(
            stack,
            flow("shipped", "  - event: {kind: order_status}", REMINDER, "purpose: utility"),
        )
        await stack.add_user(USER)
        created = await stack.api.post(
            "/api/v1/contacts", json={"urns": [f"whatsapp:+{USER}"], "name": "Ana"}
        )
        contact_id = created.json()["id"]
        await stack.grant(contact_id, topic="transactional")
        r = await stack.api.post(
            "/api/v1/events",
            json={
                "idempotency_key": "order-A-7-shipped",
                "kind": "order_status",
                "contact_id": contact_id,
                "properties": {"order_id": "A-7", "status": "shipped"},
            },
        )
        assert r.status_code == 201, r.text
        inbox = await bot_says(stack, USER, 1)
        message = inbox[0].get("message", inbox[0])
        assert message["type"] == "template" and message["template"]["name"] == "order_shipped"
        params = message["template"]["components"][0]["parameters"]
        assert params == [{"type": "text", "text": "A-7"}]
        (session,) = await sessions_of(stack, USER)
        assert session["trigger"] == "event" and session["outcome"] == "resolved"
        thread = (await stack.api.get(f"/api/v1/contacts/{contact_id}/messages")).json()
        assert [m["purpose"] for m in thread] == ["utility"]


async def test_schedule_starts_tagged_contacts_once_per_period(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await stack.add_user(USER)
        await stack.user_says(USER, "hi")
        await stack.until(lambda: _known(stack))
        contact_id = await stack.contact_for(USER)
        await stack.api.patch(f"/api/v1/contacts/{contact_id}", json={"tags": ["weekly"]})
        now = stack.clock.now()
        at = (now + timedelta(minutes=30)).strftime("%H:%M")
        await upload(
            stack,
            says("digest", f"  - schedule: {{every: day, at: '{at}', tag: weekly}}", "Digest!"),
        )
        for _ in range(3):
            await stack.work()
        assert await stack.inbox(USER) == []  # not due yet
        stack.clock.advance(timedelta(minutes=31))
        inbox = await bot_says(stack, USER, 1)
        assert shown(inbox[0]) == "Digest!"
        for _ in range(3):
            await stack.work()
        assert len(await stack.inbox(USER)) == 1  # once per day
        (session,) = await sessions_of(stack, USER)
        assert session["trigger"] == "schedule"


async def test_taking_over_by_hand_silences_timers_and_hand_back_asks_again(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await upload(stack, flow("sizes", "  - keyword: [size]", ASK_WITH_TIMEOUT))
        await stack.add_user(USER)
        await stack.user_says(USER, "size")
        await bot_says(stack, USER, 1)
        contact_id = await stack.contact_for(USER)
        ticket = await stack.api.post(
            f"/api/v1/contacts/{contact_id}/tickets", json={"summary": "VIP, I'll take it"}
        )
        assert ticket.status_code == 201, ticket.text
        stack.clock.advance(timedelta(minutes=20))  # past the ask's 10-minute timeout
        for _ in range(4):
            await stack.work()
        assert len(await stack.inbox(USER)) == 1  # no nudge while a person has it
        (session,) = await sessions_of(stack, USER)
        assert session["status"] == "handoff"
        resolved = await stack.api.post(
            f"/api/v1/tickets/{ticket.json()['id']}/resolve", json={"hand_back": True}
        )
        assert [m["text"] for m in resolved.json()["bot_messages"]] == ["Which size?"]
        await bot_says(stack, USER, 2)
        await stack.user_says(USER, "Small")
        inbox = await bot_says(stack, USER, 3)
        assert shown(inbox[2]) == "Noted: s"


HELP_CHOICE = """
  - id: first
    type: ask
    text: What do you need?
    choices:
      - {id: info, title: Help}
      - {id: cancel, title: Cancel my order}
    save_as: need
    next: done
  - id: done
    type: end
    outcome: resolved
    text: "You chose {{answers.need}}"
"""


async def test_buttons_titled_like_keywords_answer_the_flow_while_typed_help_gets_help(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await upload(stack, flow("needs", "  - keyword: [needs]", HELP_CHOICE))
        await stack.add_user(USER)
        await stack.user_says(USER, "needs")
        await bot_says(stack, USER, 1)
        await stack.user_says(USER, "HELP")  # typed: the legal help answer, flow waits on
        inbox = await bot_says(stack, USER, 2)
        assert "STOP" in shown(inbox[1])
        (session,) = await sessions_of(stack, USER)
        assert session["status"] == "waiting"
        await stack.user_says(USER, "Help", type="button_reply", payload="info")
        inbox = await bot_says(stack, USER, 3)
        assert shown(inbox[2]) == "You chose info"
        # A tapped "Cancel my order" is an answer, not an opt-out: consent stays granted.
        contact_id = await stack.contact_for(USER)
        await stack.grant(contact_id)
        await stack.user_says(USER, "needs")
        await bot_says(stack, USER, 4)
        await stack.user_says(USER, "Cancel my order", type="button_reply", payload="cancel")
        inbox = await bot_says(stack, USER, 5)
        assert shown(inbox[4]) == "You chose cancel"
        consent = (await stack.api.get(f"/api/v1/contacts/{contact_id}/consent")).json()
        assert "revoked" not in str(consent)


async def test_webhook_credentials_come_from_sealed_workspace_secrets_at_call_time(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    with_auth = ORDER_STATUS.replace(
        "    timeout: 2s\n",
        "    timeout: 2s\n    headers: {Authorization: 'Bearer {{secrets.shop_token}}'}\n",
    )
    async with whatsapp_stack(database_url, sessions) as stack:
        flow_id = await upload(stack, flow("orders", "  - api: true", with_auth))
        await stack.add_user(USER)
        await stack.user_says(USER, "hi")
        await stack.until(lambda: _known(stack))
        contact_id = await stack.contact_for(USER)

        async def ask_order(count: int, order: str) -> str:
            r = await stack.api.post(
                f"/api/v1/flows/{flow_id}/start",
                json={"contact_id": contact_id, "params": {"shop": stack.emulator_url}},
            )
            assert r.status_code == 201, r.text
            await bot_says(stack, USER, count)
            await stack.user_says(USER, order)
            return shown((await bot_says(stack, USER, count + 1))[count])

        # No such secret yet: the call is not made and the flow takes its failure path.
        assert await ask_order(1, "A-1005") == "I could not find order A-1005."
        assert (await sessions_of(stack, USER))[0]["answers"]["order_error"] == (
            "no workspace secret shop_token"
        )
        put = await stack.api.put("/api/v1/secrets/shop_token", json={"value": "s3cr3t-token"})
        assert put.status_code == 200 and "s3cr3t" not in put.text
        said = await ask_order(3, "A-1006")
        assert said.startswith("Order A-1006 is ")
        seen = (await stack.emulator.get("/_emulator/shop/requests")).json()
        assert seen[-1]["authorization"] == "Bearer s3cr3t-token"
        listed = await stack.api.get("/api/v1/secrets")
        assert [s["name"] for s in listed.json()] == ["shop_token"]
        assert "s3cr3t" not in listed.text
        async with sessions() as db:
            stored = [
                str(row)
                for table in ("flow_sessions", "workspace_secrets")
                for row in (await db.execute(text(f"SELECT * FROM {table}"))).all()
            ]
        assert stored and not any("s3cr3t" in row for row in stored)


PHONE_ASK = """
  - id: first
    type: ask
    text: Which number should we call?
    expect: phone
    save_as: phone
    next: done
  - id: done
    type: end
    outcome: lead_captured
    text: "We'll call {{answers.phone}}."
"""


async def test_a_phone_answer_without_country_code_takes_the_contacts_country(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await upload(stack, flow("callback", "  - keyword: [callback]", PHONE_ASK))
        await stack.add_user(USER)  # a Brazilian number
        await stack.user_says(USER, "callback")
        await bot_says(stack, USER, 1)
        await stack.user_says(USER, "(11) 98888-7777")
        inbox = await bot_says(stack, USER, 2)
        assert shown(inbox[1]) == "We'll call +5511988887777."
