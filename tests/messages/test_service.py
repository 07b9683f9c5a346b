"""Enqueueing: messages enqueued inside `decided_together` are decided when the block ends,
in order, exactly as one by one; an idempotency key is taken inside the block as outside,
and keys looked up for a whole batch answer as the database does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import T0, channel_row, contact_row
from threadline.channels.messages import Text
from threadline.contacts.models import ContactURN
from threadline.conversations.models import Conversation
from threadline.kit.db import transaction
from threadline.kit.errors import Conflict
from threadline.kit.ids import new_id
from threadline.messages import service as messages
from threadline.messages.models import Message, MessageStatus
from threadline.messages.states import MessageState
from threadline.policy.types import Purpose
from threadline.workspaces.models import Workspace
from threadline.workspaces.service import create_workspace

NOW = T0 + timedelta(hours=1)


async def person_who_wrote(session: AsyncSession) -> tuple[Workspace, str, str]:
    """A workspace, its channel, and a contact who wrote an hour ago (the window is open)."""
    workspace = (await create_workspace(session, f"W {new_id('w')}", T0)).workspace
    channel, contact = channel_row(workspace.id), contact_row(workspace.id, "Ana")
    session.add_all([channel, contact])
    await session.flush()
    session.add_all(
        [
            ContactURN(
                id=new_id("urn"),
                workspace_id=workspace.id,
                contact_id=contact.id,
                scheme="whatsapp",
                urn="whatsapp:5511900000001",
                created_at=T0,
            ),
            Conversation(
                id=new_id("cnv"),
                workspace_id=workspace.id,
                contact_id=contact.id,
                channel="whatsapp",
                last_inbound_at=T0,
                created_at=T0,
                updated_at=T0,
            ),
        ]
    )
    await session.flush()
    return workspace, channel.id, contact.id


def reply(contact_id: str, purpose: Purpose, key: str | None = None) -> messages.SendRequest:
    return messages.SendRequest(
        contact_id=contact_id, purpose=purpose, content=Text(body="hi"), idempotency_key=key
    )


async def test_a_block_decides_its_messages_when_it_ends(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as session:
        workspace, _, contact_id = await person_who_wrote(session)
        async with messages.decided_together(session, workspace, NOW):
            service = await messages.enqueue(
                session, workspace, reply(contact_id, Purpose.SERVICE), NOW
            )
            promo = await messages.enqueue(
                session, workspace, reply(contact_id, Purpose.MARKETING), NOW
            )
            assert service.next_attempt_at is None  # not due until decided
        assert service.status == MessageState.QUEUED and service.next_attempt_at == NOW
        assert promo.status == MessageState.REFUSED and promo.reason == "no_consent"
        history = await session.scalars(
            select(MessageStatus.status).where(MessageStatus.message_id.in_([service.id, promo.id]))
        )
        assert sorted(history) == ["queued", "refused"]


async def test_an_idempotency_key_is_taken_inside_a_block(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as session:
        workspace, _, contact_id = await person_who_wrote(session)
        async with messages.decided_together(session, workspace, NOW):
            first = await messages.enqueue(
                session, workspace, reply(contact_id, Purpose.SERVICE, "k1"), NOW
            )
            again = await messages.enqueue(
                session, workspace, reply(contact_id, Purpose.SERVICE, "k1"), NOW
            )
            assert again is first
            other = contact_row(workspace.id, "Bea")
            session.add(other)
            await session.flush()
            with pytest.raises(Conflict, match="idempotency key already used"):
                await messages.enqueue(
                    session, workspace, reply(other.id, Purpose.SERVICE, "k1"), NOW
                )
        stored = await session.scalars(select(Message).where(Message.idempotency_key == "k1"))
        assert [m.id for m in stored] == [first.id]


async def test_keys_held_for_a_batch_find_what_was_stored_before_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as session:
        workspace, _, contact_id = await person_who_wrote(session)
        before = await messages.enqueue(
            session, workspace, reply(contact_id, Purpose.SERVICE, "auto-1"), NOW
        )
        async with (
            messages.holding_keys(session, workspace.id, ["auto-1", "auto-2"]),
            messages.decided_together(session, workspace, NOW),
        ):
            again = await messages.enqueue(
                session, workspace, reply(contact_id, Purpose.SERVICE, "auto-1"), NOW
            )
            fresh = await messages.enqueue(
                session, workspace, reply(contact_id, Purpose.SERVICE, "auto-2"), NOW
            )
        assert again is before
        assert fresh.id != before.id and fresh.status == MessageState.QUEUED
        keys = await session.scalars(
            select(Message.idempotency_key).where(Message.contact_id == contact_id)
        )
        assert sorted(k for k in keys if k) == ["auto-1", "auto-2"]
