"""/api/v1/topics and /api/v1/contacts/{id}/consent."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status

from threadline.api.deps import CurrentWorkspace, Now, Session
from threadline.channels import registry
from threadline.channels import service as channels
from threadline.channels.messages import Text
from threadline.consent import service
from threadline.consent.models import ConsentEvent, ConsentTopic
from threadline.consent.projection import Action
from threadline.consent.schemas import (
    ConsentEventOut,
    ConsentIn,
    ConsentStateOut,
    PromptOut,
    TopicIn,
    TopicOut,
)
from threadline.contacts.service import get_contact
from threadline.kit.errors import Conflict, InvalidInput, NotFound
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope
from threadline.messages import service as messages
from threadline.policy.types import Purpose
from threadline.workspaces.models import Workspace
from threadline.workspaces.service import settings_of

router = APIRouter(prefix="/api/v1", tags=["consent"])


@router.get("/topics")
async def list_topics(session: Session, workspace: CurrentWorkspace) -> list[TopicOut]:
    rows = await session.scalars(
        Scope(session, workspace.id).select(ConsentTopic).order_by(ConsentTopic.key)
    )
    return [TopicOut(key=t.key, name=t.name, description=t.description) for t in rows]


@router.post("/topics", status_code=status.HTTP_201_CREATED)
async def create_topic(
    body: TopicIn, session: Session, workspace: CurrentWorkspace, now: Now
) -> TopicOut:
    if body.key == "transactional":
        raise InvalidInput(
            "'transactional' is a built-in basis, not a marketing topic", where="key"
        )
    if body.key in await service.topic_keys(session, workspace.id):
        raise Conflict(f"topic '{body.key}' already exists", where="key")
    session.add(
        ConsentTopic(
            id=new_id("top"),
            workspace_id=workspace.id,
            key=body.key,
            name=body.name,
            description=body.description,
            created_at=now,
        )
    )
    return TopicOut(key=body.key, name=body.name, description=body.description)


def event_out(event: ConsentEvent) -> ConsentEventOut:
    return ConsentEventOut(
        id=event.id,
        action=event.action,
        channel=event.channel,
        topic=event.topic,
        source=event.source,
        address=event.address,
        disclosure_text=event.disclosure_text,
        disclosure_version=event.disclosure_version,
        disclosure_sha256=event.disclosure_sha256,
        evidence=event.evidence or {},
        actor=event.actor,
        occurred_at=event.occurred_at,
        expires_at=event.expires_at,
        recorded_at=event.recorded_at,
    )


@router.post("/contacts/{contact_id}/consent", status_code=status.HTTP_201_CREATED)
async def record_consent(
    contact_id: str, body: ConsentIn, session: Session, workspace: CurrentWorkspace, now: Now
) -> ConsentEventOut:
    """Append to the consent ledger: grant, request (double opt-in), confirm, revoke, restore."""
    contact = await get_contact(session, workspace.id, contact_id)
    change = service.ConsentChange(
        action=body.action,
        channel=body.channel,
        topic=body.topic,
        source=body.source,
        actor=body.actor or "api",
        occurred_at=body.occurred_at or now,
        address=body.address,
        disclosure_text=body.disclosure.text if body.disclosure else None,
        disclosure_version=body.disclosure.version if body.disclosure else None,
        evidence=body.evidence.model_dump(exclude_none=True),
    )
    if change.occurred_at.tzinfo is None:
        raise InvalidInput("occurred_at needs a time zone offset (e.g. Z)", where="occurred_at")
    event = await service.record(session, workspace.id, contact.id, change, now)
    out = event_out(event)
    # The confirmation prompt goes on the channel the opt-in was for, on any type we send on.
    if change.action is Action.REQUEST and change.channel in {k.value for k in registry.TYPES}:
        out.prompt = await _send_prompt(session, workspace, contact.id, change, event.id, now)
    return out


async def _send_prompt(
    session: Session,
    workspace: Workspace,
    contact_id: str,
    change: service.ConsentChange,
    event_id: str,
    now: datetime,
) -> PromptOut:
    """Double opt-in: ask the person to confirm. It is a reply-style message, so the policy
    lets it out only inside the service window; otherwise the answer says why not."""
    settings = settings_of(workspace)
    text = settings.double_opt_in_prompt.format(
        business=settings.business_name or workspace.name, topic=change.topic
    )
    channel = await channels.first_of_kind(session, workspace.id, change.channel)
    if channel is None:
        return PromptOut(
            message_id=None,
            status="not_sent",
            detail=f"this workspace has no {change.channel} channel",
        )
    try:
        message = await messages.enqueue(
            session,
            workspace,
            messages.SendRequest(
                contact_id=contact_id,
                purpose=Purpose.SERVICE,
                content=Text(body=text),
                channel_id=channel.id,
                idempotency_key=f"double-opt-in:{event_id}",
            ),
            now,
        )
    except (NotFound, InvalidInput) as exc:
        return PromptOut(message_id=None, status="not_sent", detail=exc.message)
    return PromptOut(
        message_id=message.id,
        status=message.status,
        reason=message.reason,
        detail=message.error_detail,
    )


@router.get("/contacts/{contact_id}/consent")
async def consent_state(
    contact_id: str, session: Session, workspace: CurrentWorkspace, now: Now
) -> list[ConsentStateOut]:
    contact = await get_contact(session, workspace.id, contact_id)
    state = await service.current_state(session, workspace.id, contact.id, now)
    return [ConsentStateOut(**row) for row in state]


@router.get("/contacts/{contact_id}/consent/history")
async def consent_history(
    contact_id: str, session: Session, workspace: CurrentWorkspace
) -> list[ConsentEventOut]:
    contact = await get_contact(session, workspace.id, contact_id)
    return [event_out(e) for e in await service.history(session, workspace.id, contact.id)]
