"""Instagram over the emulator, end to end: a person's public comment lands in their thread,
an agent answers it once in private (addressed to the comment) though no DM window is open,
a second private reply is refused before it is sent, and the DM that follows is a normal
conversation."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.meta.harness import person_on, send_text
from tests.channels.whatsapp.harness import whatsapp_stack

IGSID = "9123000000000044"


async def test_a_comment_is_answered_once_in_private_then_the_dm_is_a_conversation(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        person = await person_on(stack, "instagram", IGSID)
        assert person.account is not None
        body = await person.account.control(
            f"/people/{IGSID}/comment", {"text": "Do you ship to Recife?"}
        )
        comment_id = body["entry"][0]["changes"][0]["value"]["id"]
        contact_id = await person.known_contact()
        thread: list[dict[str, Any]] = (
            await stack.api.get(f"/api/v1/contacts/{contact_id}/messages")
        ).json()
        assert [(m["kind"], m["text"]) for m in thread] == [("comment", "Do you ship to Recife?")]

        bot = await send_text(stack, contact_id, "Hi there!")  # no DM yet: nothing is open
        assert (bot["status"], bot["reason"]) == ("refused", "channel_cannot_initiate")
        answer = await send_text(stack, contact_id, "We do! Free over R$200.", reply_to=comment_id)
        assert answer["status"] == "queued", answer
        (message,) = await person.received(1)
        assert message["text"] == "We do! Free over R$200."
        (sent,) = await person.sent_bodies()
        assert sent == {
            "recipient": {"comment_id": comment_id},
            "message": {"text": "We do! Free over R$200.", "metadata": answer["id"]},
        }

        again = await send_text(stack, contact_id, "Anything else?", reply_to=comment_id)
        assert (again["status"], again["reason"]) == ("refused", "private_reply_closed")
        assert "one private reply" in again["detail"]

        await person.says("Great, how long does it take?")

        async def dm_stored() -> bool:
            r = await stack.api.get(f"/api/v1/contacts/{contact_id}/messages")
            return any(m["direction"] == "in" and m["kind"] == "text" for m in r.json())

        await stack.until(dm_stored)
        reply = await send_text(stack, contact_id, "3 to 5 days.")
        assert reply["status"] == "queued", (reply["reason"], reply.get("detail"))
        inbox = await person.received(2)
        assert inbox[-1]["text"] == "3 to 5 days."
        *_, dm = await person.sent_bodies()
        assert (dm["recipient"], dm["messaging_type"]) == ({"id": IGSID}, "RESPONSE")
