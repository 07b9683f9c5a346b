"""What every way of joining ends with: a grant in the consent ledger with its evidence,
and the confirmation message that tells the person what they signed up for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels import service as channels
from threadline.channels.messages import Template, Text
from threadline.consent import service as consent
from threadline.consent.models import ConsentEvent, ConsentTopic
from threadline.consent.projection import Action
from threadline.growth.models import OptInPage
from threadline.growth.pages import DEFAULT_CONFIRMATION
from threadline.kit.errors import InvalidInput, NotFound
from threadline.kit.scoped import Scope
from threadline.messages import service as messages
from threadline.policy.types import Purpose
from threadline.workspaces.models import Workspace
from threadline.workspaces.service import settings_of


@dataclass(frozen=True)
class Joined:
    """One grant, for the caller to report."""

    channel: str
    contact_id: str
    event: ConsentEvent


@dataclass(frozen=True)
class Confirmation:
    channel: str
    status: str  # queued, deferred, refused, not_sent
    message_id: str | None = None
    reason: str | None = None
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "status": self.status,
            "message_id": self.message_id,
            "reason": self.reason,
            "detail": self.detail,
        }


async def grant(
    session: AsyncSession,
    workspace_id: str,
    contact_id: str,
    *,
    channel: str,
    topic: str,
    source: str,
    address: str | None,
    disclosure_text: str,
    disclosure_version: str,
    evidence: dict[str, Any],
    occurred_at: datetime,
    now: datetime,
    actor: str = "contact",
) -> ConsentEvent:
    """Through the consent service, which checks it like any other opt-in."""
    change = consent.ConsentChange(
        action=Action.GRANT,
        channel=channel,
        topic=topic,
        source=source,
        actor=actor,
        occurred_at=occurred_at,
        address=address,
        disclosure_text=disclosure_text,
        disclosure_version=disclosure_version,
        evidence={k: v for k, v in evidence.items() if v is not None},
    )
    return await consent.record(session, workspace_id, contact_id, change, now)


async def topic_name(session: AsyncSession, workspace_id: str, topic: str) -> str:
    name = await session.scalar(
        Scope(session, workspace_id)
        .columns(ConsentTopic, ConsentTopic.name)
        .where(ConsentTopic.key == topic)
    )
    return name or topic


async def confirmation_text(
    session: AsyncSession, workspace: Workspace, page: OptInPage | None, topic: str
) -> str:
    settings = settings_of(workspace)
    words = page.confirmation_text if page is not None else DEFAULT_CONFIRMATION
    return words.format(
        business=settings.business_name or workspace.name,
        topic=await topic_name(session, workspace.id, topic),
    )


async def send_confirmation(
    session: AsyncSession,
    workspace: Workspace,
    joined: Joined,
    page: OptInPage | None,
    topic: str,
    now: datetime,
) -> Confirmation:
    """The welcome that confirms the subscription, on the channel it was given for. It
    rides on the consent just granted (purpose marketing, that topic), so the policy lets it
    out on SMS and email; WhatsApp outside a chat needs the page's approved template, and
    without one the answer says why nothing was sent."""
    account = await channels.first_of_kind(session, workspace.id, joined.channel)
    if account is None:
        return Confirmation(
            joined.channel, "not_sent", detail=f"this workspace has no {joined.channel} channel"
        )
    content: Text | Template = Text(body=await confirmation_text(session, workspace, page, topic))
    if joined.channel == "whatsapp" and page is not None and page.confirmation_template:
        content = Template(name=page.confirmation_template)
    try:
        message = await messages.enqueue(
            session,
            workspace,
            messages.SendRequest(
                contact_id=joined.contact_id,
                purpose=Purpose.MARKETING,
                topic=topic,
                content=content,
                channel_id=account.id,
                idempotency_key=f"growth-welcome:{joined.event.id}",
                note="opt-in confirmation",
            ),
            now,
        )
    except (NotFound, InvalidInput) as exc:
        return Confirmation(joined.channel, "not_sent", detail=exc.message)
    return Confirmation(
        joined.channel,
        message.status,
        message_id=message.id,
        reason=message.reason,
        detail=message.error_detail,
    )
