"""/api/v1/messages and /api/v1/contacts/{id}/messages."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import aiohttp
from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.api.deps import CurrentWorkspace, Now, Session, app_state
from threadline.channels import messages as content_types
from threadline.channels import registry
from threadline.channels import service as channels
from threadline.channels.http import http_session
from threadline.channels.messages import Content
from threadline.contacts.service import get_contact
from threadline.kit.errors import InvalidInput, NotFound, ThreadlineError
from threadline.kit.scoped import Scope
from threadline.messages import fallback, service, strategy
from threadline.messages.models import Message, MessageStatus
from threadline.messages.states import MessageState
from threadline.policy.service import stored_urn
from threadline.policy.types import WINDOW_REASONS, Purpose
from threadline.templates import service as templates

router = APIRouter(prefix="/api/v1", tags=["messages"])


class SendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_id: str
    purpose: Purpose
    content: Content
    channel_id: str | None = None
    topic: str = "marketing"
    campaign_id: str | None = Field(default=None, max_length=40)
    idempotency_key: str | None = Field(default=None, max_length=200)
    reply_to: str | None = Field(default=None, max_length=200)
    human_agent: bool = False
    by_strategy: bool = Field(
        default=False,
        description="Choose the channel with the workspace's contact strategy for the purpose "
        "(the first channel that may take the message now); the answer's `route` says why "
        "each channel before it was skipped. Not with channel_id.",
    )
    fallback_after: int | None = Field(
        default=None,
        description="With by_strategy: if the message is not delivered within so many seconds "
        "(or fails as undeliverable), send it once on the strategy's next channel. A timed "
        "fallback is armed only when the first channel stops trying by then (see "
        "docs/contact-strategy.md); the history says when only a failure falls back.",
    )
    variables: dict[str, str] | None = Field(
        default=None,
        description="For a template created in Threadline: fill its variables from the "
        "contact's fields, these values (`order_id`, `body.2`, `button.0`, `code`) and the "
        "template's defaults, instead of listing parameters in content",
    )


class StatusOut(BaseModel):
    status: str
    at: datetime
    error_code: int | None
    detail: str | None


class RungOut(BaseModel):
    channel: str
    chosen: bool
    reason: str | None = Field(description="why it was skipped: a policy reason or a skip code")
    detail: str
    channel_id: str | None
    cost_estimate: Decimal | None


def rung_out(rung: strategy.Rung) -> RungOut:
    return RungOut(
        channel=rung.kind.value,
        chosen=rung.chosen,
        reason=rung.reason,
        detail=rung.detail,
        channel_id=rung.channel.id if rung.channel else None,
        cost_estimate=rung.decision.cost_estimate if rung.decision else None,
    )


class RouteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_id: str
    purpose: Purpose
    content: Content
    topic: str = "marketing"
    human_agent: bool = False


class MessageOut(BaseModel):
    id: str
    contact_id: str
    channel_id: str
    direction: str
    kind: str
    text: str | None
    purpose: str | None
    template_name: str | None
    status: str
    reason: str | None = Field(description="Policy reason code when refused or deferred")
    detail: str | None
    next_attempt_at: datetime | None
    provider_id: str | None
    error_code: int | None
    error_class: str | None
    cost_estimate: Decimal | None = Field(description="the rate card's price before sending")
    cost_actual: Decimal | None = Field(description="priced from the platform's pricing block")
    pricing: dict[str, Any] | None
    created_at: datetime
    logical_id: str | None = Field(
        default=None, description="shared by every attempt of one message sent with fallback"
    )
    fallback_at: datetime | None = Field(
        default=None, description="when the next channel is tried if this is not delivered"
    )
    history: list[StatusOut] | None = None
    suggestions: list[dict[str, Any]] | None = Field(
        default=None,
        description="When refused because the window is closed: approved templates that may "
        "go out instead, with their estimated cost",
    )
    route: list[RungOut] | None = Field(
        default=None, description="Sent by_strategy: every channel tried, in order"
    )


def message_out(message: Message, history: list[MessageStatus] | None = None) -> MessageOut:
    return MessageOut(
        id=message.id,
        contact_id=message.contact_id,
        channel_id=message.channel_id,
        direction=message.direction,
        kind=message.kind,
        text=message.text,
        purpose=message.purpose,
        template_name=message.template_name,
        status=message.status,
        reason=message.reason,
        detail=message.error_detail,
        next_attempt_at=message.next_attempt_at,
        provider_id=message.provider_id,
        error_code=message.error_code,
        error_class=message.error_class,
        cost_estimate=message.cost_estimate,
        cost_actual=message.cost_actual,
        pricing=message.pricing,
        created_at=message.created_at,
        logical_id=message.logical_id,
        fallback_at=message.fallback_at,
        history=[
            StatusOut(status=h.status, at=h.occurred_at, error_code=h.error_code, detail=h.detail)
            for h in history
        ]
        if history is not None
        else None,
    )


@router.post("/messages", status_code=status.HTTP_201_CREATED)
async def send_message(
    body: SendIn, session: Session, workspace: CurrentWorkspace, now: Now
) -> MessageOut:
    """Decide and queue one message. The answer says `queued`, `deferred` (with
    `next_attempt_at`) or `refused` with the policy's reason code: never a silent drop."""
    content = body.content
    if body.variables is not None:
        content = await _filled(session, workspace.id, body, content)
    if body.by_strategy and body.channel_id:
        raise InvalidInput(
            "by_strategy chooses the channel: leave channel_id out", where="by_strategy"
        )
    if body.fallback_after is not None and not body.by_strategy:
        raise InvalidInput(
            "fallback follows the contact strategy: set by_strategy", where="fallback_after"
        )
    request = service.SendRequest(
        contact_id=body.contact_id,
        purpose=body.purpose,
        content=content,
        channel_id=body.channel_id,
        topic=body.topic,
        campaign_id=body.campaign_id,
        idempotency_key=body.idempotency_key,
        reply_to=body.reply_to,
        human_agent=body.human_agent,
    )
    rungs: list[strategy.Rung] | None = None
    if body.fallback_after is not None:
        message, rungs = await fallback.enqueue(
            session, workspace, request, now, body.fallback_after
        )
    elif body.by_strategy:
        message, rungs = await strategy.enqueue(session, workspace, request, now)
    else:
        message = await service.enqueue(session, workspace, request, now)
    answer = message_out(message)
    answer.route = [rung_out(r) for r in rungs] if rungs is not None else None
    if message.status == MessageState.REFUSED and message.reason in WINDOW_REASONS:
        answer.suggestions = await templates.suggestions(
            session,
            workspace.id,
            purpose=body.purpose.value,
            phone=stored_urn(message.address).phone_e164,
            at=now,
        )
    return answer


async def _filled(
    session: AsyncSession, workspace_id: str, body: SendIn, content: Content
) -> Content:
    if not isinstance(content, content_types.Template):
        raise InvalidInput("variables only go with a template", where="variables")
    channel = await service.default_channel(session, workspace_id, body.channel_id)
    stored = await templates.known(
        session, workspace_id, channel.account_id, content.name, content.language
    )
    contact = await get_contact(session, workspace_id, body.contact_id)
    values = templates.contact_values(contact.name, contact.fields or {})
    return templates.fill(stored, content.language, values, body.variables or {})


@router.post("/messages/route")
async def route_message(
    body: RouteIn, session: Session, workspace: CurrentWorkspace, now: Now
) -> list[RungOut]:
    """The contact strategy's whole ladder for a hypothetical send: which channel would take
    it and why each one before it would not. Nothing is written or sent."""
    request = service.SendRequest(
        contact_id=body.contact_id,
        purpose=body.purpose,
        content=body.content,
        topic=body.topic,
        human_agent=body.human_agent,
    )
    await get_contact(session, workspace.id, body.contact_id)
    return [rung_out(r) for r in await strategy.ladder(session, workspace, request, now)]


@router.get("/messages/{message_id}")
async def get_message(message_id: str, session: Session, workspace: CurrentWorkspace) -> MessageOut:
    scope = Scope(session, workspace.id)
    message = await scope.one(Message, message_id, "message")
    history = list(
        await session.scalars(
            scope.select(MessageStatus)
            .where(MessageStatus.message_id == message.id)
            .order_by(MessageStatus.recorded_at, MessageStatus.id)
        )
    )
    return message_out(message, history)


@router.get("/contacts/{contact_id}/messages")
async def contact_thread(
    contact_id: str,
    session: Session,
    workspace: CurrentWorkspace,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[MessageOut]:
    """The conversation with a contact, oldest first."""
    contact = await get_contact(session, workspace.id, contact_id)
    rows = await session.scalars(
        Scope(session, workspace.id)
        .select(Message)
        .where(Message.contact_id == contact.id)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(limit)
    )
    return [message_out(m) for m in reversed(list(rows))]


@router.get("/messages/{message_id}/media", response_class=Response)
async def message_media(
    message_id: str, request: Request, session: Session, workspace: CurrentWorkspace
) -> Response:
    """The media a contact sent, fetched from the platform through its media-id lookup
    (platform media URLs are short-lived and need the channel's token)."""
    message = await Scope(session, workspace.id).one(Message, message_id, "message")
    media = (message.content or {}).get("media") or {}
    if message.direction != "in" or not (media.get("media_id") or media.get("url")):
        raise NotFound(f"message {message_id} carries no media", where="message_id")
    channel = await channels.get(session, workspace.id, message.channel_id)
    access = channels.access_of(app_state(request).box, channel)
    async with http_session(timeout=30) as http:
        client = registry.adapter(channel.kind).client(http, access)
        try:
            data, mime = await client.fetch_media(media)
        except aiohttp.ClientError as exc:
            raise PlatformUnavailable(f"the platform did not return the media: {exc}") from exc
    return Response(content=data, media_type=mime)


class PlatformUnavailable(ThreadlineError):
    status_code = 502
    code = "platform_error"
