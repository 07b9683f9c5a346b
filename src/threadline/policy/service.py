"""Builds a SendContext from the database and asks `decide`. The only I/O around policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.consent import service as consent
from threadline.contacts.models import Contact
from threadline.contacts.service import get_contact, urns_of
from threadline.contacts.urns import (
    URN,
    parse_urn,
    region_for_phone,
    timezone_for_phone,
    us_state_for_phone,
)
from threadline.conversations import service as conversations
from threadline.kit.errors import InvalidInput
from threadline.policy import pressure
from threadline.policy.decide import decide
from threadline.policy.holdout import campaign_bucket
from threadline.policy.rules import rules_for
from threadline.policy.schemas import DecisionOut, ExplainRequest
from threadline.policy.types import (
    Channel,
    ChannelFacts,
    Decision,
    HoldoutFacts,
    Purpose,
    Quality,
    Recipient,
    SendContext,
    TemplateFacts,
)
from threadline.workspaces.models import Workspace
from threadline.workspaces.service import settings_of

# Which address scheme reaches a contact on each channel.
ADDRESS_SCHEME = {
    Channel.WHATSAPP: "whatsapp",
    Channel.MESSENGER: "messenger",
    Channel.INSTAGRAM: "instagram",
    Channel.APPLE: "apple",
    Channel.SMS: "tel",
    Channel.EMAIL: "mailto",
}


@dataclass(frozen=True)
class ChannelOverride:
    quality: Quality = Quality.GREEN
    messaging_limit: int | None = None


def _phone_of(urns: list[URN]) -> str | None:
    return next((u.phone_e164 for u in urns if u.phone_e164), None)


def _recipient(contact: Contact, urns: list[URN], default_zone: str) -> Recipient:
    phone = _phone_of(urns)
    region = region_for_phone(phone) if phone else None
    state = us_state_for_phone(phone) if phone else None
    zones: list[str] = []
    for zone in (contact.timezone, timezone_for_phone(phone) if phone else None):
        if zone and zone not in zones:
            zones.append(zone)
    return Recipient(
        contact_id=contact.id,
        region=region,
        subdivision=f"US-{state}" if state else None,
        timezones=tuple(zones) or (default_zone,),
        holdout_bucket=contact.holdout_bucket,
    )


async def build_context(
    session: AsyncSession,
    workspace: Workspace,
    request: ExplainRequest,
    now: datetime,
) -> SendContext:
    settings = settings_of(workspace)
    contact = await get_contact(session, workspace.id, request.contact_id)
    urns = [parse_urn(u) for u in await urns_of(session, workspace.id, contact.id)]
    scheme = ADDRESS_SCHEME[request.channel]
    if not any(u.scheme == scheme for u in urns):
        raise InvalidInput(
            f"contact {contact.id} has no {scheme}: address to reach on {request.channel}",
            where="channel",
        )
    if request.purpose is Purpose.MARKETING and request.topic not in await consent.topic_keys(
        session, workspace.id
    ):
        raise InvalidInput(f"unknown topic '{request.topic}'", where="topic")
    at = request.at or now
    recipient = _recipient(contact, urns, settings.default_timezone)
    regional = rules_for(recipient.region, recipient.subdivision, settings.quiet_hours.to_hours())
    caps = settings.caps() + regional.caps
    longest = max((cap.window for cap in caps), default=None)
    recent = (
        await pressure.recent_marketing(session, workspace.id, contact.id, at - longest)
        if longest
        else ()
    )
    override = request.channel_state
    channel_state = ChannelFacts(
        quality=override.quality if override else Quality.GREEN,
        messaging_limit=override.messaging_limit if override else None,
    )
    if request.sender and channel_state.messaging_limit is not None:
        usage = await pressure.limit_usage(session, workspace.id, request.sender, contact.id, at)
        channel_state = ChannelFacts(
            quality=channel_state.quality,
            messaging_limit=channel_state.messaging_limit,
            recipients_24h=usage.recipients,
            recipient_already_counted=usage.includes_contact,
            limit_frees_at=usage.frees_at,
        )
    budget_remaining: Decimal | None = None
    if settings.monthly_budget is not None:
        month_start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        spent = await pressure.spent_since(session, workspace.id, month_start)
        budget_remaining = settings.monthly_budget - spent
    template = (
        TemplateFacts(
            name=request.template.name,
            category=request.template.category,
            status=request.template.status,
        )
        if request.template
        else None
    )
    return SendContext(
        now=at,
        channel=request.channel,
        purpose=request.purpose,
        recipient=recipient,
        topic=request.topic,
        template=template,
        human_agent=request.human_agent,
        consent=await consent.facts_for(
            session, workspace.id, contact.id, request.channel.value, request.topic, at
        ),
        window=await conversations.windows(session, workspace.id, contact.id, request.channel),
        channel_state=channel_state,
        recent_marketing=recent,
        caps=caps,
        quiet_hours=regional.quiet_hours,
        holdout=HoldoutFacts(
            global_control_percent=settings.global_control_percent,
            campaign_id=request.campaign_id,
            campaign_holdout_percent=request.campaign_holdout_percent,
            campaign_bucket=campaign_bucket(contact.id, request.campaign_id)
            if request.campaign_id
            else 9999,
        ),
        budget_remaining=budget_remaining,
        cost_estimate=request.cost_estimate,
    )


def facts_summary(ctx: SendContext) -> dict[str, Any]:
    window = ctx.window
    return {
        "at": ctx.now.isoformat(),
        "consent": {"marketing": ctx.consent.marketing, "transactional": ctx.consent.transactional},
        "service_window_open_until": _iso(window.service_open_until),
        "entry_point_window_open_until": _iso(window.entry_point_open_until),
        "recipient_region": ctx.recipient.region,
        "recipient_subdivision": ctx.recipient.subdivision,
        "recipient_timezones": list(ctx.recipient.timezones),
        "quiet_hours": f"{ctx.quiet_hours.start:%H:%M}-{ctx.quiet_hours.end:%H:%M}",
        "marketing_sent_recently": len(ctx.recent_marketing),
        "budget_remaining": str(ctx.budget_remaining) if ctx.budget_remaining is not None else None,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def explain(
    session: AsyncSession, workspace: Workspace, request: ExplainRequest, now: datetime
) -> tuple[Decision, SendContext]:
    ctx = await build_context(session, workspace, request, now)
    return decide(ctx), ctx


def decision_out(decision: Decision, ctx: SendContext) -> DecisionOut:
    return DecisionOut(
        outcome=decision.outcome,
        reason=decision.reason,
        detail=decision.detail,
        requires=list(decision.requires),
        cost_estimate=decision.cost_estimate,
        defer_until=decision.defer_until,
        facts=facts_summary(ctx),
    )
