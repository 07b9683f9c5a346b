"""/api/v1/tickets: the handoff queue for people, and their replies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from threadline.api.deps import CurrentWorkspace, Now, Session
from threadline.channels import messages as content_types
from threadline.channels.messages import Content
from threadline.contacts.service import get_contact
from threadline.flows import runner
from threadline.messages.endpoints import MessageOut, message_out
from threadline.tickets import service
from threadline.tickets.models import Ticket

router = APIRouter(prefix="/api/v1", tags=["tickets"])
TicketStatus = Literal["open", "pending", "resolved"]


class TicketOut(BaseModel):
    id: str
    contact_id: str
    session_id: str | None
    team: str
    assignee: str | None
    status: str
    summary: str
    resolution: str | None
    history: list[dict[str, Any]]
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    transcript: list[MessageOut] | None = None


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    team: str = Field(default="support", min_length=1, max_length=60)
    summary: str = Field(min_length=1, max_length=2000)
    agent: str = Field(default="api", max_length=200)


class TicketPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    team: str | None = Field(default=None, min_length=1, max_length=60)
    assignee: str | None = Field(default=None, max_length=200)
    status: Literal["open", "pending"] | None = None
    agent: str = Field(default="api", max_length=200)


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, min_length=1, max_length=4096)
    content: Content | None = None
    agent: str = Field(default="api", max_length=200)
    idempotency_key: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _one(self) -> ReplyIn:
        if (self.text is None) == (self.content is None):
            raise ValueError("give text or content (e.g. an approved template), not both")
        return self


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hand_back: bool = Field(default=True, description="the bot resumes where it handed over")
    agent: str = Field(default="api", max_length=200)


class ResolvedOut(BaseModel):
    ticket: TicketOut
    bot_messages: list[MessageOut]


def ticket_out(ticket: Ticket, transcript: list[Any] | None = None) -> TicketOut:
    return TicketOut(
        id=ticket.id,
        contact_id=ticket.contact_id,
        session_id=ticket.session_id,
        team=ticket.team,
        assignee=ticket.assignee,
        status=ticket.status,
        summary=ticket.summary,
        resolution=ticket.resolution,
        history=list(ticket.history or []),
        opened_at=ticket.opened_at,
        updated_at=ticket.updated_at,
        resolved_at=ticket.resolved_at,
        transcript=[message_out(m) for m in transcript] if transcript is not None else None,
    )


@router.get("/tickets")
async def list_tickets(
    session: Session,
    workspace: CurrentWorkspace,
    ticket_status: Annotated[TicketStatus | None, Query(alias="status")] = None,
    team: Annotated[str | None, Query(max_length=60)] = None,
    assignee: Annotated[str | None, Query(max_length=200)] = None,
    contact_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[TicketOut]:
    rows = await service.list_tickets(
        session,
        workspace.id,
        status=ticket_status,
        team=team,
        assignee=assignee,
        contact_id=contact_id,
        limit=limit,
    )
    return [ticket_out(t) for t in rows]


@router.post("/contacts/{contact_id}/tickets", status_code=status.HTTP_201_CREATED)
async def open_ticket(
    contact_id: str, body: TicketIn, session: Session, workspace: CurrentWorkspace, now: Now
) -> TicketOut:
    """Take a conversation over by hand: the bot stays silent until it is resolved."""
    contact = await get_contact(session, workspace.id, contact_id)
    active = await runner.active_session(session, workspace.id, contact.id)
    if active is not None:
        runner.pause_for_agent(active, now)
    ticket = await service.open_for(
        session,
        workspace.id,
        contact.id,
        team=body.team,
        summary=body.summary,
        now=now,
        session_id=active.id if active else None,
        by=body.agent,
    )
    return ticket_out(ticket)


@router.get("/tickets/{ticket_id}")
async def get_ticket(ticket_id: str, session: Session, workspace: CurrentWorkspace) -> TicketOut:
    """A ticket with its transcript (from a day before the handoff)."""
    ticket = await service.get(session, workspace.id, ticket_id)
    return ticket_out(ticket, await service.transcript(session, ticket))


@router.patch("/tickets/{ticket_id}")
async def update_ticket(
    ticket_id: str, body: TicketPatch, session: Session, workspace: CurrentWorkspace, now: Now
) -> TicketOut:
    ticket = await service.get(session, workspace.id, ticket_id)
    service.update(
        ticket,
        team=body.team,
        assignee=body.assignee,
        status=body.status,
        by=body.agent,
        now=now,
    )
    return ticket_out(ticket)


@router.post("/tickets/{ticket_id}/replies", status_code=status.HTTP_201_CREATED)
async def reply(
    ticket_id: str, body: ReplyIn, session: Session, workspace: CurrentWorkspace, now: Now
) -> MessageOut:
    """An agent's reply. Outside the customer's 24-hour window free text is answered with
    409 and the approved templates that may be sent instead (`templates`)."""
    ticket = await service.get(session, workspace.id, ticket_id)
    content = body.content or content_types.Text(body=body.text or "")
    message = await service.reply(
        session, workspace, ticket, content, body.agent, now, body.idempotency_key
    )
    return message_out(message)


@router.post("/tickets/{ticket_id}/resolve")
async def resolve(
    ticket_id: str, body: ResolveIn, session: Session, workspace: CurrentWorkspace, now: Now
) -> ResolvedOut:
    """Resolve; with `hand_back` the bot resumes where it handed over, else its flow ends
    (outcome handed_off)."""
    ticket = await service.get(session, workspace.id, ticket_id)
    service.resolve(ticket, hand_back=body.hand_back, by=body.agent, now=now)
    sent = await runner.agent_done(session, workspace, ticket.session_id, body.hand_back, now)
    return ResolvedOut(ticket=ticket_out(ticket), bot_messages=[message_out(m) for m in sent])
