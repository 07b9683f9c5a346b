"""Builds SendContexts from the database and asks `decide`: the only I/O around policy.

Contexts are built for a batch of sends in a fixed number of queries, so the dispatcher
can re-check every message at send time without a query storm."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from threadline import pricing
from threadline.channels import registry
from threadline.channels.kinds import Channel
from threadline.channels.rules import ChannelRules, PricingModel
from threadline.channels.types import Billable
from threadline.consent import service as consent
from threadline.consent.models import ConsentEvent
from threadline.consent.projection import TRANSACTIONAL, Action, LedgerLine, status
from threadline.contacts.models import Contact, ContactURN
from threadline.contacts.urns import (
    URN,
    region_for_phone,
    timezone_for_phone,
    us_state_for_phone,
)
from threadline.conversations.models import Conversation
from threadline.conversations.service import facts_of
from threadline.kit.errors import InvalidInput, NotFound
from threadline.kit.scoped import Scope
from threadline.policy import pressure
from threadline.policy.comments import StoredComment, facts_for, load_comments
from threadline.policy.decide import decide
from threadline.policy.holdout import campaign_bucket
from threadline.policy.models import PressureEvent
from threadline.policy.rules import rules_for
from threadline.policy.schemas import DecisionOut, ExplainRequest
from threadline.policy.types import (
    ChannelFacts,
    ConsentFacts,
    Decision,
    FrequencyCap,
    HoldoutFacts,
    Purpose,
    Quality,
    RecentSend,
    Recipient,
    SendContext,
    TemplateFacts,
    WindowFacts,
)
from threadline.workspaces.models import Workspace
from threadline.workspaces.service import settings_of
from threadline.workspaces.settings import WorkspaceSettings


@dataclass(frozen=True)
class SendQuestion:
    """Everything about a (real or hypothetical) send that is not read from the database."""

    contact_id: str
    channel: Channel
    purpose: Purpose
    topic: str = "marketing"
    template: TemplateFacts | None = None
    human_agent: bool = False
    campaign_id: str | None = None
    campaign_holdout_percent: float = 0.0
    cost_estimate: Decimal | None = None
    sender: str | None = None  # sending identity whose messaging limit applies
    quality: Quality = Quality.GREEN
    messaging_limit: int | None = None
    at: datetime | None = None
    reply_to: str | None = None  # the platform id of what the send answers (a comment?)
    message_id: str | None = None  # the outbox row asked about, once there is one
    # What the content is billed as, on types priced per unit (SMS segments).
    billable: Billable | None = None
    # Caps of this send's own on top of the workspace's (a broadcast's frequency cap).
    extra_caps: tuple[FrequencyCap, ...] = ()


@dataclass
class Pending:
    """Sends allowed earlier in one run (a broadcast's fan-out) and not sent yet. The ledger
    counts sends when they leave, so without this each batch of a run would see the
    messaging limit and the budgets as if the batches before it had not been decided."""

    recipients: dict[str, dict[str, datetime]] = field(default_factory=dict)  # sender → ...
    spent: Decimal = Decimal(0)
    campaign_spent: dict[str, Decimal] = field(default_factory=dict)
    # Budgets of campaigns the workspace settings do not list (a broadcast's own cap).
    campaign_budgets: dict[str, Decimal] = field(default_factory=dict)


def stored_urn(text: str) -> URN:
    """URNs in the database were validated when written; split without re-validating."""
    scheme, _, path = text.partition(":")
    return URN(scheme, path)


def recipient_of(contact: Contact, urns: list[URN], default_zone: str) -> Recipient:
    phone = next((u.phone_e164 for u in urns if u.phone_e164), None)
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


@dataclass
class _Loaded:
    """Everything a batch of decisions reads, loaded in a fixed number of queries. Decisions
    taken in the batch update it, so the tenth message of a batch sees the first nine."""

    settings: WorkspaceSettings
    topics: set[str]
    contacts: dict[str, Contact]
    urns: dict[str, list[URN]]
    ledgers: dict[str, list[LedgerLine]]
    conversations: dict[tuple[str, str], Conversation]
    recent: dict[str, list[RecentSend]]
    usage: dict[str, dict[str, datetime]]
    budget_remaining: Decimal | None
    campaign_remaining: dict[str, Decimal]
    comments: dict[tuple[str, str], StoredComment]


async def _load_contacts(
    session: AsyncSession, workspace_id: str, ids: list[str]
) -> dict[str, Contact]:
    scope = Scope(session, workspace_id)
    return {
        c.id: c for c in await session.scalars(scope.select(Contact).where(Contact.id.in_(ids)))
    }


async def _load_urns(
    session: AsyncSession, workspace_id: str, ids: list[str]
) -> defaultdict[str, list[URN]]:
    scope = Scope(session, workspace_id)
    urns: defaultdict[str, list[URN]] = defaultdict(list)
    for contact_id, text in (
        await session.execute(
            scope.columns(ContactURN, ContactURN.contact_id, ContactURN.urn).where(
                ContactURN.contact_id.in_(ids)
            )
        )
    ).all():
        urns[contact_id].append(stored_urn(text))
    return urns


async def _load_ledgers(
    session: AsyncSession, workspace_id: str, ids: list[str]
) -> defaultdict[str, list[LedgerLine]]:
    scope = Scope(session, workspace_id)
    ledgers: defaultdict[str, list[LedgerLine]] = defaultdict(list)
    for contact_id, action, channel_scope, topic, occurred_at, expires_at in (
        await session.execute(
            scope.columns(
                ConsentEvent,
                ConsentEvent.contact_id,
                ConsentEvent.action,
                ConsentEvent.channel,
                ConsentEvent.topic,
                ConsentEvent.occurred_at,
                ConsentEvent.expires_at,
            )
            .where(ConsentEvent.contact_id.in_(ids))
            .order_by(ConsentEvent.recorded_at, ConsentEvent.id)
        )
    ).all():
        ledgers[contact_id].append(
            LedgerLine(Action(action), channel_scope, topic, occurred_at, expires_at)
        )
    return ledgers


async def _load_conversations(
    session: AsyncSession, workspace_id: str, ids: list[str]
) -> dict[tuple[str, str], Conversation]:
    scope = Scope(session, workspace_id)
    return {
        (c.contact_id, c.channel): c
        for c in await session.scalars(
            scope.select(Conversation).where(Conversation.contact_id.in_(ids))
        )
    }


async def _load_recent(
    session: AsyncSession, workspace_id: str, ids: list[str], since: datetime
) -> defaultdict[str, list[RecentSend]]:
    scope = Scope(session, workspace_id)
    recent: defaultdict[str, list[RecentSend]] = defaultdict(list)
    for contact_id, sent_at, channel in (
        await session.execute(
            scope.columns(
                PressureEvent,
                PressureEvent.contact_id,
                PressureEvent.sent_at,
                PressureEvent.channel,
            ).where(
                PressureEvent.contact_id.in_(ids),
                PressureEvent.purpose == Purpose.MARKETING.value,
                PressureEvent.sent_at > since,
            )
        )
    ).all():
        recent[contact_id].append(RecentSend(sent_at=sent_at, channel=Channel(channel)))
    return recent


async def _load_usage(
    session: AsyncSession, workspace_id: str, questions: Sequence[SendQuestion], now: datetime
) -> dict[str, dict[str, datetime]]:
    usage: dict[str, dict[str, datetime]] = {}
    for sender in {q.sender for q in questions if q.sender and q.messaging_limit is not None}:
        assert sender is not None
        usage[sender] = await pressure.limit_recipients(session, workspace_id, sender, now)
    return usage


async def _budget_remaining(
    session: AsyncSession,
    workspace_id: str,
    settings: WorkspaceSettings,
    now: datetime,
    pending: Pending,
) -> Decimal | None:
    if settings.monthly_budget is None:
        return None
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    spent = await pressure.spent_since(session, workspace_id, month_start)
    return settings.monthly_budget - spent - pending.spent


async def _campaign_remaining(
    session: AsyncSession,
    workspace_id: str,
    settings: WorkspaceSettings,
    questions: Sequence[SendQuestion],
    pending: Pending,
) -> dict[str, Decimal]:
    budgets = {**settings.campaign_budgets, **pending.campaign_budgets}
    campaigns = {q.campaign_id for q in questions if q.campaign_id} & set(budgets)
    spent = await pressure.spent_by_campaign(session, workspace_id, campaigns)
    return {
        c: budgets[c] - spent.get(c, Decimal(0)) - pending.campaign_spent.get(c, Decimal(0))
        for c in campaigns
    }


async def _load(
    session: AsyncSession,
    workspace: Workspace,
    questions: Sequence[SendQuestion],
    now: datetime,
    pending: Pending | None = None,
) -> _Loaded:
    settings = settings_of(workspace)
    ids = sorted({q.contact_id for q in questions})
    contacts = await _load_contacts(session, workspace.id, ids)
    urns = await _load_urns(session, workspace.id, ids)
    ledgers = await _load_ledgers(session, workspace.id, ids)
    conversations = await _load_conversations(session, workspace.id, ids)
    earliest = min(q.at or now for q in questions)
    extra = [cap for q in questions for cap in q.extra_caps]
    since = earliest - _longest_window([*settings.caps(), *extra])
    recent = await _load_recent(session, workspace.id, ids, since)
    pending = pending or Pending()
    usage = await _load_usage(session, workspace.id, questions, now)
    for sender, counted in pending.recipients.items():
        if sender in usage:
            usage[sender] = {**counted, **usage[sender]}
    budget_remaining = await _budget_remaining(session, workspace.id, settings, now, pending)
    campaign_remaining = await _campaign_remaining(
        session, workspace.id, settings, questions, pending
    )
    return _Loaded(
        settings=settings,
        topics=await consent.topic_keys(session, workspace.id),
        contacts=contacts,
        urns=urns,
        ledgers=ledgers,
        conversations=conversations,
        recent=recent,
        usage=usage,
        budget_remaining=budget_remaining,
        campaign_remaining=campaign_remaining,
        comments=await load_comments(session, workspace.id, questions),
    )


def _reachable(loaded: _Loaded, q: SendQuestion) -> tuple[Contact, list[URN]]:
    """The contact and its addresses, or the input error that makes the question unanswerable."""
    contact = loaded.contacts.get(q.contact_id)
    if contact is None:
        raise NotFound(f"no contact {q.contact_id} in this workspace", where="contact_id")
    urns = loaded.urns[contact.id]
    scheme = registry.urn_scheme_for(q.channel)
    if not any(u.scheme == scheme for u in urns):
        raise InvalidInput(
            f"contact {contact.id} has no {scheme}: address to reach on {q.channel}",
            where="channel",
        )
    if q.purpose is Purpose.MARKETING and q.topic not in loaded.topics:
        raise InvalidInput(f"unknown topic '{q.topic}'", where="topic")
    return contact, urns


def _channel_state(loaded: _Loaded, q: SendQuestion, contact_id: str) -> ChannelFacts:
    if q.sender not in loaded.usage:
        return ChannelFacts(quality=q.quality, messaging_limit=q.messaging_limit)
    counted = loaded.usage[q.sender]
    oldest = min(counted.values(), default=None)
    return ChannelFacts(
        quality=q.quality,
        messaging_limit=q.messaging_limit,
        recipients_24h=len(counted),
        recipient_already_counted=contact_id in counted,
        limit_frees_at=oldest + pressure.LIMIT_WINDOW if oldest else None,
    )


def _consent_facts(lines: list[LedgerLine], q: SendQuestion, at: datetime) -> ConsentFacts:
    return ConsentFacts(
        marketing=status(lines, q.channel.value, q.topic, at),
        transactional=status(lines, q.channel.value, TRANSACTIONAL, at),
    )


def _holdout_facts(settings: WorkspaceSettings, q: SendQuestion, contact_id: str) -> HoldoutFacts:
    return HoldoutFacts(
        global_control_percent=settings.global_control_percent,
        campaign_id=q.campaign_id,
        campaign_holdout_percent=q.campaign_holdout_percent,
        campaign_bucket=campaign_bucket(contact_id, q.campaign_id) if q.campaign_id else 9999,
    )


def _context(loaded: _Loaded, q: SendQuestion, now: datetime) -> SendContext:
    settings = loaded.settings
    contact, urns = _reachable(loaded, q)
    at = q.at or now
    recipient = recipient_of(contact, urns, settings.default_timezone)
    regional = rules_for(recipient.region, recipient.subdivision, settings.quiet_hours.to_hours())
    conversation = loaded.conversations.get((contact.id, q.channel.value))
    window = facts_of(conversation, q.channel)
    rules = registry.rules_for(q.channel)
    return SendContext(
        now=at,
        channel=q.channel,
        purpose=q.purpose,
        recipient=recipient,
        rules=rules,
        topic=q.topic,
        template=q.template,
        human_agent=q.human_agent,
        consent=_consent_facts(loaded.ledgers.get(contact.id, []), q, at),
        window=window,
        channel_state=_channel_state(loaded, q, contact.id),
        recent_marketing=tuple(loaded.recent[contact.id]),
        caps=settings.caps() + regional.caps + q.extra_caps,
        quiet_hours=regional.quiet_hours,
        holdout=_holdout_facts(settings, q, contact.id),
        budget_remaining=loaded.budget_remaining,
        campaign_budget_remaining=loaded.campaign_remaining.get(q.campaign_id or ""),
        cost_estimate=q.cost_estimate
        if q.cost_estimate is not None
        else _estimate(q, rules, urns, window, at),
        subscription_until=_subscription_until(conversation),
        comment=facts_for(loaded.comments, q),
    )


def _subscription_until(conversation: Conversation | None) -> datetime | None:
    """Until when the person's marketing subscription is live (None: there is none)."""
    if conversation is None or not conversation.subscription_token:
        return None
    # A subscription without a stated end lasts until the person stops it.
    return conversation.subscription_expires_at or datetime.max.replace(tzinfo=UTC)


def _estimate(
    q: SendQuestion, rules: ChannelRules, urns: list[URN], window: WindowFacts, at: datetime
) -> Decimal | None:
    """What the platform will charge for this send, from the rate card (None: not priced —
    another channel, no rate, or a free-form send the window no longer allows)."""
    phone = next((u.phone_e164 for u in urns if u.phone_e164), None)
    if rules.pricing is PricingModel.PER_UNIT:
        return _unit_estimate(q.billable, phone, at)
    if rules.pricing is not PricingModel.PER_MESSAGE:
        return None
    try:
        charge = pricing.estimate(
            category=q.template.category.value if q.template else None,
            market=pricing.market_for(phone) if phone else None,
            window_open=window.service_open(at),
            entry_point_open=window.entry_point_open(at),
            business_market=None,
            at=at,
            card=pricing.current_card(),
        )
    except (ValueError, pricing.MissingRate):
        return None
    return charge.amount


def _unit_estimate(billable: Billable | None, phone: str | None, at: datetime) -> Decimal | None:
    """Units × the card's rate for the recipient's market (an SMS of 3 segments: 3 × sms)."""
    if billable is None:
        return None
    market = pricing.market_for(phone) if phone else None
    try:
        rate = pricing.current_card().rate(market, billable.category, at)
    except ValueError:
        return None
    return rate.price * billable.units if rate is not None else None


def _count_allowed(loaded: _Loaded, q: SendQuestion, ctx: SendContext) -> None:
    """An allowed send uses up what later sends in the same batch must see."""
    if q.sender in loaded.usage and not ctx.window.any_free_window_open(ctx.now):
        loaded.usage[q.sender].setdefault(q.contact_id, ctx.now)
    if q.purpose is Purpose.MARKETING:
        loaded.recent[q.contact_id].append(RecentSend(sent_at=ctx.now, channel=q.channel))
    if loaded.budget_remaining is not None and ctx.cost_estimate is not None:
        loaded.budget_remaining -= ctx.cost_estimate
    if q.campaign_id in loaded.campaign_remaining and ctx.cost_estimate is not None:
        loaded.campaign_remaining[q.campaign_id] -= ctx.cost_estimate


async def build_contexts(
    session: AsyncSession, workspace: Workspace, questions: Sequence[SendQuestion], now: datetime
) -> list[SendContext]:
    if not questions:
        return []
    loaded = await _load(session, workspace, questions, now)
    return [_context(loaded, q, now) for q in questions]


def _longest_window(caps: Sequence[FrequencyCap]) -> timedelta:
    # Regional legal caps are 24 h; the floor covers them when the workspace has no cap.
    return max([cap.window for cap in caps] + [timedelta(hours=24)])


async def decide_many(
    session: AsyncSession,
    workspace: Workspace,
    questions: Sequence[SendQuestion],
    now: datetime,
    pending: Pending | None = None,
) -> list[tuple[Decision, SendContext]]:
    """Decisions for a batch, in order, each seeing the sends allowed before it (and, given
    `pending`, those of the run's earlier batches; the batch's own are added to it)."""
    if not questions:
        return []
    loaded = await _load(session, workspace, questions, now, pending)
    out = []
    for q in questions:
        ctx = _context(loaded, q, now)
        decision = decide(ctx)
        if decision.allowed:
            _count_allowed(loaded, q, ctx)
            if pending is not None:
                _add_pending(pending, loaded, q, ctx)
        out.append((decision, ctx))
    return out


def _add_pending(pending: Pending, loaded: _Loaded, q: SendQuestion, ctx: SendContext) -> None:
    if q.sender in loaded.usage and q.contact_id in loaded.usage[q.sender]:
        assert q.sender is not None
        pending.recipients.setdefault(q.sender, {})[q.contact_id] = loaded.usage[q.sender][
            q.contact_id
        ]
    if ctx.cost_estimate is not None:
        pending.spent += ctx.cost_estimate
        if q.campaign_id:
            pending.campaign_spent[q.campaign_id] = (
                pending.campaign_spent.get(q.campaign_id, Decimal(0)) + ctx.cost_estimate
            )


def question_from(request: ExplainRequest) -> SendQuestion:
    state = request.channel_state
    return SendQuestion(
        contact_id=request.contact_id,
        channel=request.channel,
        purpose=request.purpose,
        topic=request.topic,
        template=TemplateFacts(
            name=request.template.name,
            category=request.template.category,
            status=request.template.status,
        )
        if request.template
        else None,
        human_agent=request.human_agent,
        campaign_id=request.campaign_id,
        campaign_holdout_percent=request.campaign_holdout_percent,
        cost_estimate=request.cost_estimate,
        sender=request.sender,
        quality=state.quality if state else Quality.GREEN,
        messaging_limit=state.messaging_limit if state else None,
        at=request.at,
    )


async def build_context(
    session: AsyncSession, workspace: Workspace, request: ExplainRequest, now: datetime
) -> SendContext:
    (ctx,) = await build_contexts(session, workspace, [question_from(request)], now)
    return ctx


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
        basis=decision.basis,
        facts=facts_summary(ctx),
    )
