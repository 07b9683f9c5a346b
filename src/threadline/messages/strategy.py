"""The contact strategy: which channel "send to a contact" takes, and why not the others.

The workspace orders the channel types per purpose. Each is tried in turn: the workspace must
have an account of that type, the contact an address on it, the channel must be able to carry
the content, the policy must allow the send now (consent for that channel and topic, window
or template, caps and quiet hours counted across channels) and its price must be under the
strategy's ceiling. The first that passes is chosen; every one before it says why it was
skipped. Nothing is written: the outbox asks the policy again when it stores the message."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels import messages as content_types
from threadline.channels import registry
from threadline.channels.adapter import Envelope, RenderError
from threadline.channels.kinds import Channel
from threadline.channels.models import ChannelAccount
from threadline.channels.service import for_workspace, sender_state, serves
from threadline.contacts.service import urns_of
from threadline.kit.errors import InvalidInput
from threadline.messages import service as messages
from threadline.messages.models import Message
from threadline.messages.service import SendRequest, template_facts_for
from threadline.policy.decide import decide
from threadline.policy.service import SendQuestion, build_contexts, stored_urn
from threadline.policy.types import Decision, Outcome, Purpose, Quality, TemplateFacts
from threadline.workspaces.models import Workspace
from threadline.workspaces.service import settings_of


class Skip(StrEnum):
    """Why a channel of the strategy was passed over (policy refusals name their reason)."""

    NO_ACCOUNT = "no_channel_account"  # the workspace has no account of this type
    NO_ADDRESS = "no_address"  # the contact cannot be addressed on it
    CANNOT_CARRY = "cannot_carry"  # the content is not something this channel can send
    POLICY = "policy"  # refused or deferred: `reason` says which rule
    OVER_COST = "over_cost_ceiling"  # allowed, but dearer than the strategy allows
    NOT_TRIED = "not_tried"  # an earlier channel was chosen
    ALREADY_TRIED = "already_tried"  # an earlier attempt of this message went there


@dataclass(frozen=True, slots=True)
class Rung:
    kind: Channel
    chosen: bool
    skip: Skip | None = None
    reason: str | None = None  # the policy's reason code, or the skip
    detail: str = ""
    channel: ChannelAccount | None = None
    address: str | None = None
    decision: Decision | None = None
    template: TemplateFacts | None = None  # the template's facts on this channel, if any

    def describe(self) -> str:
        if self.chosen:
            return f"{self.kind.value} chosen"
        return f"{self.kind.value} skipped ({self.reason}: {self.detail})"


@dataclass(frozen=True, slots=True)
class _Candidate:
    kind: Channel
    channel: ChannelAccount
    address: str
    question: SendQuestion


async def ladder(
    session: AsyncSession,
    workspace: Workspace,
    request: SendRequest,
    now: datetime,
    exclude: frozenset[Channel] = frozenset(),
) -> list[Rung]:
    """Every channel of the purpose's strategy, in order, with what became of it; channels
    in `exclude` (a fallback's earlier attempts) are passed over."""
    strategy = settings_of(workspace).strategy_for(request.purpose)
    accounts: dict[str, ChannelAccount] = {}
    marketing = request.purpose is Purpose.MARKETING
    for account in await for_workspace(session, workspace.id):
        if serves(account, marketing):
            accounts.setdefault(account.kind, account)  # the oldest of each type
    urns = await urns_of(session, workspace.id, request.contact_id)
    early: dict[Channel, Rung] = {}
    candidates: list[_Candidate] = []
    for kind in strategy.order:
        if kind in exclude:
            early[kind] = Rung(
                kind, False, Skip.ALREADY_TRIED, Skip.ALREADY_TRIED, "an earlier attempt"
            )
            continue
        found = await _candidate(session, workspace, request, kind, accounts.get(kind), urns)
        if isinstance(found, Rung):
            early[kind] = found
        else:
            candidates.append(found)
    contexts = await build_contexts(session, workspace, [c.question for c in candidates], now)
    decided = _decide(candidates, [decide(ctx) for ctx in contexts], strategy.max_cost)
    return [early[kind] if kind in early else decided[kind] for kind in strategy.order]


def chosen(rungs: list[Rung]) -> Rung | None:
    return next((r for r in rungs if r.chosen), None)


def summary(rungs: list[Rung]) -> str:
    """The ladder in one line, for the message's history."""
    return "contact strategy: " + "; ".join(
        r.describe() for r in rungs if r.skip not in (Skip.NOT_TRIED, Skip.ALREADY_TRIED)
    )


async def _candidate(
    session: AsyncSession,
    workspace: Workspace,
    request: SendRequest,
    kind: Channel,
    account: ChannelAccount | None,
    urns: list[str],
) -> Rung | _Candidate:
    if account is None:
        return Rung(
            kind,
            False,
            Skip.NO_ACCOUNT,
            Skip.NO_ACCOUNT,
            "no account of this type for this traffic",
        )
    scheme = registry.urn_scheme_for(kind)
    address = next((u for u in urns if u.startswith(f"{scheme}:")), None)
    if address is None:
        return Rung(kind, False, Skip.NO_ADDRESS, Skip.NO_ADDRESS, f"no {scheme}: address")
    try:
        registry.adapter(kind).render(
            request.content, Envelope(to=stored_urn(address).path, reply_to=request.reply_to)
        )
    except RenderError as exc:
        return Rung(kind, False, Skip.CANNOT_CARRY, Skip.CANNOT_CARRY, exc.message)
    try:
        facts = await template_facts_for(session, workspace.id, account, request.content)
    except InvalidInput as exc:  # a template this number does not have
        return Rung(kind, False, Skip.CANNOT_CARRY, Skip.CANNOT_CARRY, exc.message)
    quality, limit = sender_state(account)
    question = SendQuestion(
        contact_id=request.contact_id,
        channel=kind,
        purpose=request.purpose,
        topic=request.topic,
        template=facts,
        human_agent=request.human_agent,
        campaign_id=request.campaign_id,
        campaign_holdout_percent=request.campaign_holdout_percent,
        sender=account.address,
        quality=Quality(quality),
        messaging_limit=limit,
        reply_to=request.reply_to,
        billable=registry.billable(kind, request.content),
    )
    return _Candidate(kind, account, address, question)


def _decide(
    candidates: list[_Candidate], decisions: list[Decision], max_cost: Decimal | None
) -> dict[Channel, Rung]:
    """The first allowed channel under the ceiling is chosen; if none may go now, the first
    one deferred (quiet hours apply on every channel alike) is, to go when it may."""
    rungs: dict[Channel, Rung] = {}
    taken = False
    for candidate, decision in zip(candidates, decisions, strict=True):
        rung = _rung(candidate, decision, max_cost, taken)
        taken = taken or rung.chosen
        rungs[candidate.kind] = rung
    if not taken:
        deferred = next(
            (
                c
                for c, d in zip(candidates, decisions, strict=True)
                if d.outcome is Outcome.DEFERRED
            ),
            None,
        )
        if deferred is not None:
            rungs[deferred.kind] = _with(deferred, rungs[deferred.kind].decision, chosen=True)
    return rungs


def _rung(candidate: _Candidate, decision: Decision, max_cost: Decimal | None, taken: bool) -> Rung:
    if taken:
        return _with(candidate, decision, skip=Skip.NOT_TRIED, detail="an earlier one was chosen")
    if not decision.allowed:
        reason = decision.reason.value if decision.reason else Skip.POLICY.value
        return _with(candidate, decision, skip=Skip.POLICY, reason=reason, detail=decision.detail)
    cost = decision.cost_estimate
    if max_cost is not None and cost is not None and cost > max_cost:
        detail = f"estimated {cost} is above the strategy's ceiling of {max_cost}"
        return _with(candidate, decision, skip=Skip.OVER_COST, detail=detail)
    return _with(candidate, decision, chosen=True)


def _with(
    candidate: _Candidate,
    decision: Decision | None,
    *,
    chosen: bool = False,
    skip: Skip | None = None,
    reason: str | None = None,
    detail: str = "",
) -> Rung:
    return Rung(
        kind=candidate.kind,
        chosen=chosen,
        skip=skip,
        reason=reason or (skip.value if skip else None),
        detail=detail,
        channel=candidate.channel,
        address=candidate.address,
        decision=decision,
        template=candidate.question.template,
    )


async def enqueue(
    session: AsyncSession, workspace: Workspace, request: SendRequest, now: datetime
) -> tuple[Message, list[Rung]]:
    """Queue the message on the channel the strategy chooses. When none may take it, it is
    refused on the first channel the policy refused, with that rule's reason and the whole
    ladder in its history; when no channel got as far as the policy, the request fails with
    the ladder. Never dropped without a record."""
    if isinstance(request.content, content_types.Reaction | content_types.MarkRead):
        raise InvalidInput(
            "reactions and read marks go on the channel of the message they answer",
            where="content.type",
        )
    rungs = await ladder(session, workspace, request, now)
    # Refused by the policy, the message is kept as refused with that rule's reason; skipped
    # for want of an account, an address, a form or a budget, there is nothing to record it on.
    target = chosen(rungs) or next((r for r in rungs if r.skip is Skip.POLICY), None)
    if target is None or target.channel is None:
        raise InvalidInput(
            f"no channel of the {request.purpose.value} strategy reaches this contact: "
            + "; ".join(r.describe() for r in rungs),
            where="contact_id",
        )
    routed = dataclasses.replace(request, channel_id=target.channel.id, note=summary(rungs))
    return await messages.enqueue(session, workspace, routed, now), rungs
