"""Counting a segment and estimating a send to it: who is in it, who is reachable on each
channel, and — asking the policy for every member, in batches — who would be sent to, who
would not and why, and what it would cost. Nothing is written."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels import registry
from threadline.channels.kinds import Channel
from threadline.channels.messages import Text
from threadline.channels.models import ChannelAccount
from threadline.channels.service import first_of_kind, sender_state
from threadline.contacts.models import Contact, ContactURN, FieldDefinition
from threadline.kit.errors import InvalidInput
from threadline.kit.scoped import Scope
from threadline.policy.decide import decide
from threadline.policy.service import SendQuestion, build_contexts
from threadline.policy.types import Outcome, Purpose, Quality, TemplateFacts
from threadline.segments import grammar
from threadline.segments import syntax as s
from threadline.segments.compile import SegmentError, compile_query
from threadline.templates import service as templates
from threadline.workspaces.models import Workspace

BATCH = 1000
NO_ADDRESS = "no_address"  # the member has no address on the channel asked about
# z-scores for a two-sided 95 % test at 80 % power (minimum detectable lift).
_Z_ALPHA, _Z_POWER = 1.959964, 0.841621


@dataclass(frozen=True)
class Send:
    """The send an estimate is about."""

    channel: Channel
    purpose: Purpose
    topic: str = "marketing"
    template: str | None = None  # an approved template of the channel's account, by name
    language: str = "en_US"
    holdout_percent: float = 0.0
    baseline_rate: float = 0.02  # the conversion rate expected without the message
    # The message's text, where its length sets the price (SMS segments); one unit if unsaid.
    text: str | None = None


@dataclass
class Estimate:
    total: int
    reachable: dict[str, int]
    eligible: int = 0
    deferred: int = 0
    suppressed: Counter[str] = field(default_factory=Counter)
    cost: Decimal = Decimal(0)
    minimum_detectable_lift: float | None = None
    by_channel: dict[str, int] = field(default_factory=dict)  # the eligible, where they go

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "reachable": self.reachable,
            "eligible": self.eligible,
            "eligible_by_channel": self.by_channel,
            "deferred": self.deferred,
            "suppressed": dict(self.suppressed.most_common()),
            "estimated_cost": str(self.cost),
            "minimum_detectable_lift": self.minimum_detectable_lift,
        }


def parse(text: str) -> s.Node:
    try:
        return grammar.parse(text)
    except grammar.SegmentSyntaxError as exc:
        raise InvalidInput(str(exc), where="query") from None


async def field_types(session: AsyncSession, workspace_id: str) -> dict[str, str]:
    rows = await session.execute(
        Scope(session, workspace_id).columns(
            FieldDefinition, FieldDefinition.key, FieldDefinition.value_type
        )
    )
    return {key: kind for key, kind in rows.all()}


async def members(session: AsyncSession, workspace_id: str, text: str, now: datetime) -> Any:
    """The query parsed and compiled, once: the ids of the segment's members (a SELECT,
    not yet run), for the counts and batches below to share."""
    node = parse(text)
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    try:
        return compile_query(
            node,
            workspace_id=workspace_id,
            now=now,
            dialect=dialect,
            fields=await field_types(session, workspace_id),
        )
    except SegmentError as exc:
        raise InvalidInput(str(exc), where="query") from None


async def count(session: AsyncSession, query: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)


async def reachable(session: AsyncSession, workspace_id: str, query: Any) -> dict[str, int]:
    """Members with an address on each channel type, one grouped count."""
    ids = query.subquery()
    rows = await session.execute(
        Scope(session, workspace_id)
        .columns(ContactURN, ContactURN.scheme, func.count(func.distinct(ContactURN.contact_id)))
        .where(ContactURN.contact_id.in_(select(ids.c.id)))
        .group_by(ContactURN.scheme)
    )
    by_scheme = dict(rows.all())
    return {kind.value: int(by_scheme.get(registry.urn_scheme_for(kind), 0)) for kind in Channel}


async def estimate(
    session: AsyncSession, workspace: Workspace, text: str, send: Send, now: datetime
) -> Estimate:
    query = await members(session, workspace.id, text, now)
    account = await first_of_kind(session, workspace.id, send.channel.value)
    if account is None:
        raise InvalidInput(f"this workspace has no {send.channel.value} channel", where="channel")
    facts = await _template(session, workspace.id, account, send)
    reach = await reachable(session, workspace.id, query)
    result = Estimate(total=await count(session, query), reachable=reach)
    async for batch in _batches(session, workspace.id, query, send.channel):
        await _decide_batch(session, workspace, account, send, facts, batch, now, result)
    unreachable = result.total - reach[send.channel.value]
    if unreachable:
        result.suppressed[NO_ADDRESS] = unreachable
    result.minimum_detectable_lift = minimum_detectable_lift(
        result.eligible, result.suppressed.get("holdout", 0), send.baseline_rate
    )
    return result


async def _template(
    session: AsyncSession, workspace_id: str, account: ChannelAccount, send: Send
) -> TemplateFacts | None:
    if send.template is None:
        return None
    found = await templates.find(
        session, workspace_id, account.account_id, send.template, send.language
    )
    if found is None:
        raise InvalidInput(
            f"unknown template '{send.template}' ({send.language}) for this channel",
            where="template",
        )
    return templates.facts(found)


async def _batches(
    session: AsyncSession, workspace_id: str, query: Any, channel: Channel
) -> AsyncIterator[list[str]]:
    """The members reachable on the channel, in id order, a batch at a time, from one
    evaluation of the query through a server-side cursor: the audience is never all in
    memory, and the segment is not run again for every page (at a million members that
    cost more per page as the pages went on). The policy's queries for a batch run on the
    same connection between fetches."""
    scheme = registry.urn_scheme_for(channel)
    has_address = (
        Scope(session, workspace_id)
        .columns(ContactURN, ContactURN.id)
        .where(ContactURN.contact_id == Contact.id, ContactURN.scheme == scheme)
        .exists()
    )
    ordered = query.where(has_address).order_by(None).order_by(Contact.id)
    result = await session.stream_scalars(ordered.execution_options(yield_per=BATCH))
    try:
        async for batch in result.partitions(BATCH):
            yield list(batch)
    finally:
        await result.close()


async def _decide_batch(
    session: AsyncSession,
    workspace: Workspace,
    account: ChannelAccount,
    send: Send,
    facts: TemplateFacts | None,
    contact_ids: list[str],
    now: datetime,
    result: Estimate,
) -> None:
    quality, limit = sender_state(account)
    billable = registry.billable(send.channel, Text(body=send.text or "."))
    questions = [
        SendQuestion(
            contact_id=contact_id,
            channel=send.channel,
            purpose=send.purpose,
            topic=send.topic,
            template=facts,
            campaign_id="estimate",
            campaign_holdout_percent=send.holdout_percent,
            sender=account.address,
            quality=Quality(quality),
            messaging_limit=limit,
            billable=billable,
        )
        for contact_id in contact_ids
    ]
    for ctx in await build_contexts(session, workspace, questions, now):
        decision = decide(ctx)
        if decision.outcome is Outcome.ALLOWED:
            result.eligible += 1
            result.cost += decision.cost_estimate or Decimal(0)
        elif decision.outcome is Outcome.DEFERRED:
            result.deferred += 1
            result.suppressed[f"deferred:{decision.reason.value if decision.reason else ''}"] += 1
        else:
            result.suppressed[decision.reason.value if decision.reason else "refused"] += 1


def minimum_detectable_lift(treated: int, control: int, baseline_rate: float) -> float | None:
    """The smallest absolute lift in conversion rate a two-proportion test would detect (95 %
    confidence, 80 % power) between these groups; None without a holdout group."""
    if treated < 1 or control < 1 or not 0 < baseline_rate < 1:
        return None
    spread = baseline_rate * (1 - baseline_rate) * (1 / treated + 1 / control)
    return (_Z_ALPHA + _Z_POWER) * math.sqrt(spread)
