"""/api/v1/contacts/{id}/inbound and /conversations: activity that opens windows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from threadline.api.deps import CurrentWorkspace, Now, Session
from threadline.channels.kinds import Channel
from threadline.contacts.service import get_contact
from threadline.conversations import service
from threadline.conversations.windows import window_facts
from threadline.growth.double_optin import apply_inbound_text
from threadline.kit.errors import InvalidInput
from threadline.workspaces.service import settings_of

router = APIRouter(prefix="/api/v1", tags=["conversations"])


class InboundIn(BaseModel):
    """A message the contact sent through a channel Threadline does not receive itself."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel
    text: str = Field(default="", max_length=10_000)
    timestamp: datetime = Field(description="The platform's timestamp of the message")
    message_id: str | None = Field(default=None, max_length=200)
    referral: dict[str, Any] | None = Field(
        default=None, description="Click-to-message ad referral; opens the entry-point window"
    )


class WindowOut(BaseModel):
    channel: Channel
    last_inbound_at: datetime | None
    service_window_open_until: datetime | None
    entry_point_open_until: datetime | None
    human_agent_open_until: datetime | None
    open: bool


class InboundOut(BaseModel):
    keyword: str
    matched: str | None
    reply: str | None
    window: WindowOut


def _window_out(
    channel: Channel,
    last_inbound_at: datetime | None,
    entry_point_at: datetime | None,
    closed_at: datetime | None,
    now: datetime,
) -> WindowOut:
    facts = window_facts(channel, last_inbound_at, entry_point_at, closed_at)
    return WindowOut(
        channel=channel,
        last_inbound_at=last_inbound_at,
        service_window_open_until=facts.service_open_until,
        entry_point_open_until=facts.entry_point_open_until,
        human_agent_open_until=facts.human_agent_open_until,
        open=facts.any_free_window_open(now),
    )


@router.post("/contacts/{contact_id}/inbound")
async def record_inbound(
    contact_id: str, body: InboundIn, session: Session, workspace: CurrentWorkspace, now: Now
) -> InboundOut:
    """Record an inbound message: opens the service window and runs the keyword engine
    (STOP, START, HELP...) exactly as a platform webhook would."""
    if body.timestamp.tzinfo is None:
        raise InvalidInput("timestamp needs a time zone offset (e.g. Z)", where="timestamp")
    contact = await get_contact(session, workspace.id, contact_id)
    conversation = await service.record_inbound(
        session,
        workspace.id,
        contact.id,
        body.channel,
        platform_timestamp=body.timestamp,
        now=now,
        referral=body.referral,
    )
    settings = settings_of(workspace)
    outcome = await apply_inbound_text(
        session,
        workspace.id,
        contact.id,
        channel=body.channel.value,
        text=body.text,
        message_id=body.message_id,
        address=None,
        occurred_at=body.timestamp,
        now=now,
        settings=settings,
        workspace_name=workspace.name,
    )
    return InboundOut(
        keyword=outcome.match.kind.value,
        matched=outcome.match.matched,
        reply=outcome.reply,
        window=_window_out(
            body.channel,
            conversation.last_inbound_at,
            conversation.entry_point_at,
            conversation.window_closed_at,
            now,
        ),
    )


@router.get("/contacts/{contact_id}/conversations")
async def list_conversations(
    contact_id: str, session: Session, workspace: CurrentWorkspace, now: Now
) -> list[WindowOut]:
    contact = await get_contact(session, workspace.id, contact_id)
    rows = await service.list_for_contact(session, workspace.id, contact.id)
    return [
        _window_out(
            Channel(c.channel), c.last_inbound_at, c.entry_point_at, c.window_closed_at, now
        )
        for c in rows
    ]
