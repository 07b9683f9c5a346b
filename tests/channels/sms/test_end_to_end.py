"""SMS over real HTTP: the emulator's Twilio-compatible provider posts signed form callbacks
to /webhooks/sms, Threadline answers over the provider's REST API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.meta.harness import send_text
from tests.channels.sms.harness import ACCOUNT_SID, AUTH_TOKEN, SMS_NUMBER, add_sms_number
from tests.channels.whatsapp.harness import Stack, whatsapp_stack
from threadline.channels.sms import signature

# New York: the stack runs at 15:00 UTC, inside sending hours there (not yet in California).
PERSON = "+12125550123"


async def message(stack: Stack, message_id: str) -> dict[str, Any]:
    r = await stack.api.get(f"/api/v1/messages/{message_id}")
    r.raise_for_status()
    found: dict[str, Any] = r.json()
    return found


async def grant_sms(stack: Stack, contact_id: str, topic: str = "marketing") -> None:
    r = await stack.api.post(
        f"/api/v1/contacts/{contact_id}/consent",
        json={
            "action": "grant",
            "channel": "sms",
            "topic": topic,
            "source": "widget",
            "disclosure": {"text": "Texts about offers from Integration Shop", "version": "1"},
        },
    )
    assert r.status_code == 201, r.text


async def test_a_text_opens_a_conversation_and_the_answer_is_delivered(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        number = await add_sms_number(stack)
        person = await number.person(PERSON)
        await person.says("Is my order on its way?")
        contact_id = await person.contact_id()

        sent = await send_text(stack, contact_id, "Yes: it left the warehouse this morning.")
        assert sent["status"] == "queued"
        assert await person.received(1) == ["Yes: it left the warehouse this morning."]

        async def delivered() -> bool:
            return bool((await message(stack, sent["id"]))["status"] == "delivered")

        await stack.until(delivered)
        (logged,) = [e for e in await number.log() if e.get("direction") == "outbound-api"]
        form = dict(logged["form"])
        assert form["From"] == SMS_NUMBER and form["To"] == PERSON
        assert form["StatusCallback"] == f"{stack.base_url}/webhooks/sms"
        # One GSM-7 segment at the sample US rate.
        assert Decimal(str((await message(stack, sent["id"]))["cost_estimate"])) == Decimal(
            "0.0083"
        )


async def test_stop_help_and_start_get_their_replies_and_change_consent(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        number = await add_sms_number(stack)
        person = await number.person(PERSON)
        await person.says("hello")
        contact_id = await person.contact_id()
        await grant_sms(stack, contact_id)

        await person.says("HELP")
        help_text = (await person.received(1))[0]
        assert help_text.startswith("Integration Shop:")
        assert "STOP" in help_text and "Msg & data rates may apply" in help_text

        await person.says("Stop")
        stop_text = (await person.received(2))[1]
        assert stop_text.startswith("Integration Shop: you're unsubscribed")
        offer = await send_text(stack, contact_id, "20% off today", purpose="marketing")
        assert (offer["status"], offer["reason"]) == ("refused", "opted_out")

        await person.says("START")
        start_text = (await person.received(3))[2]
        assert start_text.startswith("Integration Shop: you're subscribed again")
        offer = await send_text(stack, contact_id, "20% off today", purpose="marketing")
        assert offer["status"] == "queued"
        assert (await person.received(4))[3] == "20% off today"


async def test_revocation_in_free_words_is_honoured(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        number = await add_sms_number(stack)
        person = await number.person(PERSON)
        await person.says("hi")
        contact_id = await person.contact_id()
        await grant_sms(stack, contact_id)
        await person.says("please stop texting me, thanks")
        assert (await person.received(1))[0].startswith("Integration Shop: you're unsubscribed")
        offer = await send_text(stack, contact_id, "New arrivals", purpose="marketing")
        assert offer["reason"] == "opted_out"


async def test_with_the_provider_answering_keywords_threadline_records_stop_without_a_reply(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        number = await add_sms_number(stack, provider_opt_out=True)
        person = await number.person(PERSON)
        await person.says("hi")
        contact_id = await person.contact_id()
        await grant_sms(stack, contact_id)
        await person.says("STOP")

        async def revoked() -> bool:
            r = await stack.api.get(f"/api/v1/contacts/{contact_id}/consent")
            states = {(s["channel"], s["topic"]): s["status"] for s in r.json()}
            return states.get(("sms", "marketing")) == "revoked"

        await stack.until(revoked)
        for _ in range(5):
            await stack.work()
        texts = await person.texts()
        assert len(texts) == 1, texts  # the provider's own confirmation, not a second one
        assert "unsubscribed" in texts[0]


async def test_carrier_errors_fail_the_message_with_their_class(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        number = await add_sms_number(stack)
        person = await number.person(PERSON, behaviour="unreachable")
        await person.says("hi")
        contact_id = await person.contact_id()
        sent = await send_text(stack, contact_id, "Your parcel is at the depot")

        async def failed() -> bool:
            return bool((await message(stack, sent["id"]))["status"] == "failed")

        await stack.until(failed)
        found = await message(stack, sent["id"])
        assert (found["error_code"], found["error_class"]) == (30003, "undeliverable")


async def test_the_webhook_refuses_what_it_cannot_verify(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await add_sms_number(stack)
        url = f"{stack.base_url}/webhooks/sms"
        form = [
            ("AccountSid", ACCOUNT_SID),
            ("MessageSid", "SM" + "1" * 32),
            ("From", PERSON),
            ("To", SMS_NUMBER),
            ("Body", "hi"),
        ]
        good = signature.expected(AUTH_TOKEN, url, form)
        async with httpx.AsyncClient() as http:
            forged = await http.post(url, data=dict(form), headers={"X-Twilio-Signature": "x"})
            assert forged.status_code == 401
            assert "X-Twilio-Signature" in forged.json()["message"]
            other = [(k, "+14155559999" if k == "To" else v) for k, v in form]
            unknown = await http.post(url, data=dict(other), headers={"X-Twilio-Signature": good})
            assert unknown.status_code == 404
            nameless = await http.post(url, data={"Body": "hi"})
            assert nameless.status_code == 400
            assert "AccountSid" in nameless.json()["message"]
            accepted = await http.post(url, data=dict(form), headers={"X-Twilio-Signature": good})
            assert accepted.status_code == 200
            assert accepted.text.endswith("<Response></Response>")
            again = await http.post(url, data=dict(form), headers={"X-Twilio-Signature": good})
            assert again.status_code == 200  # a redelivery is stored once (below)
        await stack.work()
        r = await stack.api.get("/api/v1/contacts", params={"urn": f"tel:{PERSON}"})
        (contact,) = r.json()["items"]
        r = await stack.api.get(f"/api/v1/contacts/{contact['id']}/messages")
        assert [m["text"] for m in r.json()] == ["hi"]


async def test_a_frequency_cap_counts_what_was_sent_on_another_channel(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await add_sms_number(stack)
        # São Paulo: WhatsApp takes no marketing to US numbers, and it is noon there.
        phone = "+5511966665555"
        wa_id = phone.lstrip("+")
        await stack.add_user(wa_id)
        await stack.user_says(wa_id, "hi")  # opens the WhatsApp window

        async def known() -> bool:
            r = await stack.api.get("/api/v1/contacts", params={"urn": f"whatsapp:{wa_id}"})
            return bool(r.json()["items"])

        await stack.until(known)
        contact_id = await stack.contact_for(wa_id)
        r = await stack.api.post(
            f"/api/v1/contacts/{contact_id}/urns", json={"urn": f"tel:{PERSON}"}
        )
        assert r.status_code in (200, 201), r.text
        await stack.grant(contact_id)
        await grant_sms(stack, contact_id)
        r = await stack.api.patch(
            "/api/v1/workspace/settings",
            json={"frequency_caps": [{"max_messages": 1, "hours": 24}]},
        )
        assert r.status_code == 200, r.text

        first = await send_text(
            stack, contact_id, "New arrivals", purpose="marketing", by_strategy=True
        )
        assert [r["channel"] for r in first["route"] if r["chosen"]] == ["whatsapp"]

        async def sent() -> bool:
            return (await message(stack, first["id"]))["status"] in ("sent", "delivered", "read")

        await stack.until(sent)
        second = await send_text(
            stack, contact_id, "Last day", purpose="marketing", by_strategy=True
        )
        assert (second["status"], second["reason"]) == ("refused", "frequency_cap")
        reasons = {r["channel"]: r["reason"] for r in second["route"]}
        assert reasons["whatsapp"] == reasons["sms"] == "frequency_cap"
