"""Tickets: a conversation handed to people. While one is open or pending the bot stays
silent; agents reply through the API within the platform's window, or are told which
approved templates they may send instead."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels import messages as content_types
from threadline.kit.errors import Conflict, InvalidInput, NotFound
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope
from threadline.messages import service as messages
from threadline.messages.models import Message
from threadline.policy.service import stored_urn
from threadline.policy.types import WINDOW_REASONS, Purpose
from threadline.templates import service as templates
from threadline.tickets.models import Ticket
from threadline.workspaces.models import Workspace

OPEN_STATES = frozenset({"open", "pending"})
TRANSCRIPT_LOOKBACK = timedelta(hours=24)


def note(ticket: Ticket, now: datetime, event: str, by: str, **extra: Any) -> None:
    ticket.history = [
        *(ticket.history or []),
        {"at": now.isoformat(), "event": event, "by": by, **extra},
    ]
    ticket.updated_at = now


async def current(session: AsyncSession, workspace_id: str, contact_id: str) -> Ticket | None:
    return (await current_many(session, workspace_id, [contact_id])).get(contact_id)


async def current_many(
    session: AsyncSession, workspace_id: str, contact_ids: Collection[str]
) -> dict[str, Ticket]:
    """The open ticket of each contact that has one, by contact id."""
    return await Scope(session, workspace_id).keyed(Ticket, Ticket.open_contact_id, contact_ids)


async def open_for(
    session: AsyncSession,
    workspace_id: str,
    contact_id: str,
    *,
    team: str,
    summary: str,
    now: datetime,
    session_id: str | None = None,
    channel_id: str | None = None,
    by: str = "bot",
) -> Ticket:
    """Open a ticket, or join the contact's ticket that is already open."""
    existing = await current(session, workspace_id, contact_id)
    if existing is not None:
        note(existing, now, "handoff_again", by, summary=summary)
        existing.session_id = session_id or existing.session_id
        existing.status = "open"
        return existing
    ticket = Ticket(
        id=new_id("tkt"),
        workspace_id=workspace_id,
        contact_id=contact_id,
        open_contact_id=contact_id,
        session_id=session_id,
        channel_id=channel_id,
        team=team,
        status="open",
        summary=summary,
        history=[],
        opened_at=now,
        updated_at=now,
    )
    note(ticket, now, "opened", by, team=team)
    session.add(ticket)
    await session.flush()
    return ticket


async def get(session: AsyncSession, workspace_id: str, ticket_id: str) -> Ticket:
    scope = Scope(session, workspace_id)
    ticket = await session.scalar(scope.select(Ticket).where(Ticket.id == ticket_id))
    if ticket is None:
        raise NotFound("no such ticket in this workspace", where="ticket_id")
    return ticket


async def list_tickets(
    session: AsyncSession,
    workspace_id: str,
    *,
    status: str | None,
    team: str | None,
    assignee: str | None,
    contact_id: str | None,
    limit: int,
) -> list[Ticket]:
    stmt = Scope(session, workspace_id).select(Ticket)
    if status:
        stmt = stmt.where(Ticket.status == status)
    if team:
        stmt = stmt.where(Ticket.team == team)
    if assignee:
        stmt = stmt.where(Ticket.assignee == assignee)
    if contact_id:
        stmt = stmt.where(Ticket.contact_id == contact_id)
    return list(await session.scalars(stmt.order_by(Ticket.opened_at.desc()).limit(limit)))


async def transcript(session: AsyncSession, ticket: Ticket) -> list[Message]:
    """The conversation an agent needs: from a day before the handoff to its resolution."""
    until = ticket.resolved_at or datetime.max.replace(tzinfo=ticket.opened_at.tzinfo)
    scope = Scope(session, ticket.workspace_id)
    return list(
        await session.scalars(
            scope.select(Message)
            .where(
                Message.contact_id == ticket.contact_id,
                Message.created_at >= ticket.opened_at - TRANSCRIPT_LOOKBACK,
                Message.created_at <= until,
                Message.kind != "mark_read",
            )
            .order_by(Message.created_at, Message.id)
        )
    )


def customer_wrote(ticket: Ticket, now: datetime) -> None:
    if ticket.status == "pending":
        ticket.status = "open"
    note(ticket, now, "customer_message", "customer")


async def reply(
    session: AsyncSession,
    workspace: Workspace,
    ticket: Ticket,
    content: content_types.Content,
    agent: str,
    now: datetime,
    idempotency_key: str | None = None,
) -> Message:
    """An agent's message. Free-form content needs the customer's window open; outside it
    the answer names the approved templates that may be sent instead."""
    if ticket.status not in OPEN_STATES:
        raise Conflict("the ticket is resolved; reopen it or start a new one", where="ticket_id")
    purpose = Purpose.SERVICE
    if isinstance(content, content_types.Template):
        found = await messages.template_facts_for(
            session,
            workspace.id,
            await messages.default_channel(session, workspace.id, ticket.channel_id),
            content,
        )
        assert found is not None
        purpose = Purpose(found.category.value)
    message = await messages.enqueue(
        session,
        workspace,
        messages.SendRequest(
            contact_id=ticket.contact_id,
            purpose=purpose,
            content=content,
            channel_id=ticket.channel_id,
            human_agent=True,
            idempotency_key=idempotency_key,
        ),
        now,
    )
    if message.status == "refused" and message.reason in WINDOW_REASONS:
        # The policy says the window is closed: answer with what may go instead. Raising rolls
        # the refused row back with the request, so the agent's attempt leaves nothing behind.
        raise Conflict(
            "the customer's 24-hour window is closed; free-form replies would be refused by "
            "WhatsApp — send one of the approved templates instead",
            where="content",
            details={
                "reason": message.reason,
                "templates": await templates.suggestions(
                    session,
                    workspace.id,
                    purpose="service",
                    phone=stored_urn(message.address).phone_e164,
                    at=now,
                ),
            },
        )
    ticket.status = "pending"
    note(ticket, now, "agent_reply", agent, message_id=message.id, status=message.status)
    return message


def update(
    ticket: Ticket,
    *,
    team: str | None,
    assignee: str | None,
    status: str | None,
    by: str,
    now: datetime,
) -> None:
    if ticket.status == "resolved":
        raise Conflict("the ticket is resolved", where="ticket_id")
    if status is not None and status not in OPEN_STATES:
        raise InvalidInput("status is open or pending (resolve with /resolve)", where="status")
    changes: dict[str, Any] = {}
    for name, value in (("team", team), ("assignee", assignee), ("status", status)):
        if value is not None and getattr(ticket, name) != value:
            setattr(ticket, name, value)
            changes[name] = value
    if changes:
        note(ticket, now, "updated", by, **changes)


def resolve(ticket: Ticket, *, hand_back: bool, by: str, now: datetime) -> None:
    if ticket.status == "resolved":
        raise Conflict("the ticket is already resolved", where="ticket_id")
    ticket.status = "resolved"
    ticket.resolution = "handed_back" if hand_back else "closed"
    ticket.resolved_at = now
    ticket.open_contact_id = None
    note(ticket, now, "resolved", by, resolution=ticket.resolution)
