"""The dispatcher against the emulator: a contact's messages leave in order without one
held-back contact stalling the others, numbers send side by side, and the pair limit holds
from one dispatch call to the next."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.whatsapp.harness import APP_SECRET, TOKEN, WABA_ID, Stack, whatsapp_stack
from threadline.channels import service as channels
from threadline.channels.models import ChannelAccount
from threadline.consent.models import ConsentEvent
from threadline.kit.crypto import SecretBox
from threadline.kit.db import transaction
from threadline.messages.models import Message
from threadline.worker.dispatcher import DispatchConfig

SECOND_NUMBER = "106540352249999"


async def people(stack: Stack, count: int, prefix: str = "5511970") -> dict[str, str]:
    """`count` people who wrote first (their windows are open): wa_id → contact id."""
    users = [f"{prefix}{n:06d}" for n in range(count)]
    for wa_id in users:
        await stack.add_user(wa_id, read=0)
        await stack.user_says(wa_id, "hi")

    async def all_known() -> bool:
        async with stack.sessions() as session:
            known = await session.scalar(
                select(func.count()).select_from(Message).where(Message.direction == "in")
            )
        return known == len(users)

    await stack.until(all_known, within=30)
    return {wa_id: await stack.contact_for(wa_id) for wa_id in users}


async def queue(stack: Stack, contact_id: str, text: str) -> str:
    answer = await stack.send(contact_id, "service", {"type": "text", "body": text})
    assert answer["status"] == "queued"
    message_id: str = answer["id"]
    return message_id


async def set_row(stack: Stack, message_id: str, **values: Any) -> None:
    async with transaction(stack.sessions) as session:
        await session.execute(update(Message).where(Message.id == message_id).values(**values))


async def received(stack: Stack, wa_id: str) -> list[str]:
    return [m["text"]["body"] for m in await stack.inbox(wa_id)]


async def status_of(stack: Stack, message_id: str) -> str:
    async with stack.sessions() as session:
        status = await session.scalar(select(Message.status).where(Message.id == message_id))
    return str(status)


async def work_rounds(stack: Stack, rounds: int = 3) -> None:
    for _ in range(rounds):
        await stack.work()


async def test_a_send_with_no_answer_yet_holds_back_that_contacts_next_message_only(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        ann, bob = (await people(stack, 2)).items()
        first = await queue(stack, ann[1], "first")
        await queue(stack, ann[1], "second")
        await queue(stack, bob[1], "for bob")
        # The first went out, but its answer was lost: it waits for its status webhook.
        until = stack.clock.now() + timedelta(minutes=1)
        await set_row(stack, first, status="sending", attempts=1, claimed_until=until)
        await work_rounds(stack)
        assert await received(stack, bob[0]) == ["for bob"]
        assert await received(stack, ann[0]) == [], "sent while an earlier one was unresolved"

        await stack.advance(timedelta(minutes=2))  # no webhook came: it is sent again
        await stack.until(lambda: _has(stack, ann[0], 2))
        assert await received(stack, ann[0]) == ["first", "second"]


async def test_a_message_waiting_for_its_retry_holds_back_newer_ones_a_deferred_one_does_not(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        ann, bob = (await people(stack, 2)).items()
        retry = await queue(stack, ann[1], "retried")
        await queue(stack, ann[1], "after the retry")
        deferred = await queue(stack, bob[1], "deferred to tonight")
        await queue(stack, bob[1], "not held back")
        later = stack.clock.now() + timedelta(minutes=1)
        await set_row(stack, retry, next_attempt_at=later, attempts=1)
        await set_row(
            stack, deferred, status="deferred", next_attempt_at=later + timedelta(hours=1)
        )
        await work_rounds(stack)
        assert await received(stack, ann[0]) == []
        assert await received(stack, bob[0]) == ["not held back"]

        await stack.advance(timedelta(minutes=2))
        await stack.until(lambda: _has(stack, ann[0], 2))
        assert await received(stack, ann[0]) == ["retried", "after the retry"]
        assert await status_of(stack, deferred) == "deferred"


async def test_a_long_held_back_backlog_does_not_stall_the_contacts_behind_it(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # Small batches: the held-back backlog is longer than several pages of a claim.
    async with whatsapp_stack(database_url, sessions, config=DispatchConfig(batch_size=2)) as stack:
        ann, bob = (await people(stack, 2)).items()
        first = await queue(stack, ann[1], "unresolved")
        for n in range(60):
            await queue(stack, ann[1], f"backlog {n}")
        await queue(stack, bob[1], "behind the backlog")
        until = stack.clock.now() + timedelta(minutes=5)
        await set_row(stack, first, status="sending", attempts=1, claimed_until=until)
        await stack.work()
        assert await received(stack, bob[0]) == ["behind the backlog"]
        assert await received(stack, ann[0]) == []


async def test_two_numbers_send_side_by_side_each_within_its_limit(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions, mps=80) as stack:
        second = await _second_number(stack, mps=80)
        contacts = list((await people(stack, 60)).values())
        for n, contact_id in enumerate(contacts):
            message_id = await queue(stack, contact_id, f"hello {n}")
            if n % 2:
                await set_row(stack, message_id, channel_id=second)
        await stack.until(lambda: _all_accepted(stack), within=30)
        sends = [r for r in await stack.requests() if r["type"] == "text"]
        by_number = {
            number: [r for r in sends if f"/{number}/" in r["path"]]
            for number in ("106540352242922", SECOND_NUMBER)
        }
        one, two = by_number.values()
        assert len(one) == len(two) == 30
        assert all(r["result"] == "accepted" for r in sends)
        # One number's sends did not wait for the other's to be over.
        assert sends.index(two[0]) < sends.index(one[-1])
        assert sends.index(one[0]) < sends.index(two[-1])


async def test_a_number_that_cannot_send_does_not_stop_the_others(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        working = await _second_number(stack, mps=80)
        (ann, ann_id), (bob, bob_id) = (await people(stack, 2)).items()
        await set_row(stack, await queue(stack, ann_id, "for ann"), channel_id=working)
        await queue(stack, bob_id, "for bob")
        # The first number's credentials cannot be decrypted (a wrongly rotated key, say).
        async with transaction(stack.sessions) as session:
            await session.execute(
                update(ChannelAccount)
                .where(ChannelAccount.id == stack.channel_id)
                .values(secrets="x")
            )
        with pytest.raises(ValueError, match="cannot be decrypted"):
            await stack.dispatcher.dispatch_all()
        assert await received(stack, ann) == ["for ann"]
        assert await received(stack, bob) == []


async def test_the_pair_limit_holds_from_one_dispatch_call_to_the_next(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        ((wa_id, contact_id),) = (await people(stack, 1)).items()
        ids = [await queue(stack, contact_id, f"update {n}") for n in range(12)]
        # One of the person's messages a call (each waits for the one before), so the
        # pair limit's burst of ten is used up over ten calls.
        await work_rounds(stack, 14)
        answers = [r for r in await stack.requests() if r["type"] == "text"]
        assert [r["code"] for r in answers if r["result"] != "accepted"] == []
        assert await received(stack, wa_id) == [f"update {n}" for n in range(10)]
        assert [await status_of(stack, i) for i in ids[10:]] == ["queued", "queued"]


async def _has(stack: Stack, wa_id: str, count: int) -> bool:
    return len(await received(stack, wa_id)) >= count


async def _all_accepted(stack: Stack) -> bool:
    async with stack.sessions() as session:
        waiting = await session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.direction == "out", Message.status.in_(("queued", "sending")))
        )
    return waiting == 0


async def _second_number(stack: Stack, mps: int) -> str:
    """Another number of the workspace, on the emulator too; returns its channel id."""
    answer = await stack.emulator.post(
        "/_emulator/numbers",
        json={
            "phone_number_id": SECOND_NUMBER,
            "waba_id": WABA_ID,
            "display_phone_number": "15550789999",
            "access_token": TOKEN,
            "app_secret": APP_SECRET,
            "mps": mps,
        },
    )
    answer.raise_for_status()
    async with transaction(stack.sessions) as session:
        channel = await channels.add(
            session,
            stack.workspace_id,
            channels.whatsapp_number(
                SECOND_NUMBER,
                WABA_ID,
                access_token=TOKEN,
                app_secret=APP_SECRET,
                verify_token="second",
                display_number="15550789999",
                graph_url=stack.emulator_url,
                throughput_mps=mps,
            ),
            SecretBox(stack.settings.secret_key.get_secret_value()),
            stack.clock.now(),
        )
    return channel.id


async def test_a_stop_while_its_batch_is_claimed_stops_the_claimed_message(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A broadcast claims messages ahead of sending them; a STOP processed in between must
    still stop that contact's message: consent is looked at again just before it leaves,
    and the next claim refuses it."""
    async with whatsapp_stack(database_url, sessions) as stack:
        (ann, ann_id), (bob, bob_id) = (await people(stack, 2)).items()
        promos = {}
        for contact_id in (ann_id, bob_id):
            await stack.grant(contact_id)
            answer = await stack.send(contact_id, "marketing", {"type": "text", "body": "Sale!"})
            assert answer["status"] == "queued"
            promos[contact_id] = answer["id"]
        claimed = await stack.dispatcher._claim(stack.channel_id, 10)
        assert claimed is not None
        channel, jobs = claimed
        assert {job.message.contact_id for job in jobs} == {ann_id, bob_id}

        await stack.user_says(ann, "STOP")
        await stack.until(lambda: _revoked(stack, ann_id), within=10)
        await stack.dispatcher._send(stack.dispatcher._runtime(channel), jobs)
        await stack.dispatcher._record(stack.channel_id, jobs)

        await work_rounds(stack)
        assert "Sale!" not in await received(stack, ann)
        assert await status_of(stack, promos[ann_id]) == "refused"
        assert "Sale!" in await received(stack, bob)


async def _revoked(stack: Stack, contact_id: str) -> bool:
    async with stack.sessions() as session:
        actions = await session.scalars(
            select(ConsentEvent.action).where(ConsentEvent.contact_id == contact_id)
        )
        return "revoke" in list(actions)
