"""Outbound messages are decided by the policy and written in the same transaction
(the outbox); inbound messages are stored once. How statuses move is `messages.states`."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, ParamSpec

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels import events as ev
from threadline.channels import messages as content_types
from threadline.channels import registry
from threadline.channels.adapter import Envelope, RenderError
from threadline.channels.kinds import Channel
from threadline.channels.models import ChannelAccount
from threadline.channels.service import for_workspace, sender_state
from threadline.contacts.service import get_contact, urns_of
from threadline.conversations.models import Conversation
from threadline.kit.errors import Conflict, InvalidInput, NotFound
from threadline.kit.held import Held
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope
from threadline.messages.models import Message, MessageStatus
from threadline.messages.states import MessageState
from threadline.policy.service import SendQuestion, decide_many, stored_urn
from threadline.policy.types import Decision, Outcome, Purpose, Quality, TemplateFacts
from threadline.templates import service as templates
from threadline.workspaces.models import Workspace

log = logging.getLogger("threadline.messages")
P = ParamSpec("P")


@dataclass(frozen=True)
class SendRequest:
    contact_id: str
    purpose: Purpose
    content: content_types.Content
    channel_id: str | None = None
    topic: str = "marketing"
    campaign_id: str | None = None
    campaign_holdout_percent: float = 0.0
    idempotency_key: str | None = None
    # The key is made of something created in this transaction (a flow session not yet
    # written), so no stored message can hold it and the lookup is skipped.
    key_is_new: bool = False
    reply_to: str | None = None
    human_agent: bool = False
    cost_estimate: Decimal | None = None
    flow_session_id: str | None = None
    flow_node: str | None = None
    # Said in the message's first history line beside the verdict (how its channel was chosen).
    note: str | None = None


def kind_of(content: content_types.Content) -> str:
    return str(content.type)


def text_of(content: content_types.Content | dict[str, Any]) -> str | None:
    """The words of a message (its body, a caption, a template's name), stored beside it."""
    for attribute in ("body", "caption", "name"):
        value = (
            content.get(attribute)
            if isinstance(content, dict)
            else getattr(content, attribute, None)
        )
        if isinstance(value, str):
            return value
    return None


async def address_for(
    session: AsyncSession, workspace_id: str, contact_id: str, channel: ChannelAccount
) -> str:
    """The contact's URN on the channel's type (the oldest, if they have several)."""
    scheme = registry.declaration(channel.kind).urn_scheme
    for text in await urns_of(session, workspace_id, contact_id):
        if text.startswith(f"{scheme}:"):
            return text
    raise InvalidInput(
        f"contact {contact_id} has no {scheme}: address for channel {channel.id}",
        where="contact_id",
    )


async def default_channel(
    session: AsyncSession, workspace_id: str, channel_id: str | None
) -> ChannelAccount:
    scope = Scope(session, workspace_id)
    if channel_id:  # by primary key: a channel already loaded in this transaction is free
        channel = await scope.get(ChannelAccount, channel_id)
    else:
        channel = await session.scalar(
            scope.select(ChannelAccount).order_by(ChannelAccount.created_at)
        )
    if channel is None:
        where = "channel_id" if channel_id else "channel"
        raise NotFound(
            "no such channel in this workspace"
            if channel_id
            else "this workspace has no channel yet",
            where=where,
        )
    return channel


async def channel_for(
    session: AsyncSession, workspace_id: str, contact_id: str, channel_id: str | None
) -> tuple[ChannelAccount, str]:
    """The channel to write on, and the contact's address there. Without a channel id: the
    channel the contact last wrote on, else the workspace's first channel they can be
    reached on."""
    if channel_id:
        channel = await default_channel(session, workspace_id, channel_id)
        return channel, await address_for(session, workspace_id, contact_id, channel)
    schemes = {text.partition(":")[0] for text in await urns_of(session, workspace_id, contact_id)}
    scope = Scope(session, workspace_id)
    last_kind = await session.scalar(
        scope.columns(Conversation, Conversation.channel)
        .where(Conversation.contact_id == contact_id)
        .order_by(Conversation.last_inbound_at.desc().nulls_last())
        .limit(1)
    )
    candidates = [
        c
        for c in await for_workspace(session, workspace_id)
        if registry.declaration(c.kind).urn_scheme in schemes
    ]
    if not candidates:
        await default_channel(session, workspace_id, None)  # "no channel yet" when none
        raise InvalidInput(
            f"contact {contact_id} has no address on any channel of this workspace",
            where="contact_id",
        )
    chosen = next((c for c in candidates if c.kind == last_kind), candidates[0])
    return chosen, await address_for(session, workspace_id, contact_id, chosen)


def question_for(
    message: Message,
    channel: ChannelAccount,
    template_facts: TemplateFacts | None,
) -> SendQuestion:
    quality, limit = sender_state(channel)
    return SendQuestion(
        contact_id=message.contact_id,
        channel=Channel(channel.kind),
        purpose=Purpose(message.purpose or "service"),
        topic=message.topic or "marketing",
        template=template_facts,
        human_agent=message.human_agent,
        campaign_id=message.campaign_id,
        cost_estimate=message.cost_estimate,
        sender=channel.address,
        quality=Quality(quality),
        messaging_limit=limit,
        reply_to=message.reply_to,
        message_id=message.id,
        billable=registry.billable(Channel(channel.kind), message.content),
    )


def apply_decision(message: Message, decision: Decision, now: datetime) -> None:
    """Write the policy's verdict onto an outbox row; nothing is ever dropped silently."""
    for key, value in decided_values(decision, now, message.next_attempt_at).items():
        setattr(message, key, value)


def decided_values(
    decision: Decision, now: datetime, next_attempt_at: datetime | None
) -> dict[str, Any]:
    """The policy's verdict as the columns it sets on an outbox row (`apply_decision`, or a
    bulk writer's plain row values); `next_attempt_at` is the row's before the verdict."""
    values: dict[str, Any] = {
        "reason": decision.reason.value if decision.reason else None,
        "error_detail": decision.detail if decision.outcome is not Outcome.ALLOWED else None,
        "updated_at": now,
    }
    if decision.cost_estimate is not None:
        values["cost_estimate"] = decision.cost_estimate  # the rate card's price, before sending
    if decision.outcome is Outcome.ALLOWED:
        values["status"], values["next_attempt_at"] = MessageState.QUEUED, next_attempt_at or now
    elif decision.outcome is Outcome.DEFERRED:
        values["status"], values["next_attempt_at"] = MessageState.DEFERRED, decision.defer_until
    else:
        values["status"], values["next_attempt_at"] = MessageState.REFUSED, None
    return values


async def template_facts_for(
    session: AsyncSession,
    workspace_id: str,
    channel: ChannelAccount,
    content: content_types.Content,
) -> TemplateFacts | None:
    if not isinstance(content, content_types.Template):
        return None
    found = await templates.known(
        session, workspace_id, channel.account_id, content.name, content.language
    )
    return templates.facts(found)


@dataclass(frozen=True, slots=True)
class _Undecided:
    message: Message
    question: SendQuestion
    note: str | None = None

    def detail(self) -> str | None:
        parts = [p for p in (self.message.error_detail, self.note) if p]
        return " — ".join(parts) or None


@dataclass
class _Together:
    owner: str  # the workspace whose messages wait for the decisions
    undecided: list[_Undecided] = field(default_factory=list)
    by_key: dict[str, Message] = field(default_factory=dict)  # idempotency keys taken here

    def taken(self, key: str | None) -> Message | None:
        return self.by_key.get(key) if key else None


_TOGETHER = "threadline.messages.decided_together"
# Idempotency keys looked up for a whole batch: the message stored under each, or False.
_STORED_UNDER: Held[str, Message | Literal[False]] = Held("messages.idempotency_keys")


@asynccontextmanager
async def holding_keys(
    session: AsyncSession, workspace_id: str, keys: Collection[str]
) -> AsyncIterator[None]:
    """Which of these idempotency keys messages are already stored under, read in one
    statement and held for the block (a batch's automatic replies each look theirs up)."""
    stored = await Scope(session, workspace_id).keyed(Message, Message.idempotency_key, keys)
    with _STORED_UNDER.holding(session, workspace_id, {k: stored.get(k, False) for k in keys}):
        yield


@asynccontextmanager
async def decided_together(
    session: AsyncSession, workspace: Workspace, now: datetime
) -> AsyncIterator[None]:
    """Messages enqueued inside the block are written at once and decided when it ends, all
    in one policy load, in the order they were enqueued (each decision sees the sends
    allowed before it, as one by one). What the block does must not depend on a decision:
    a batch of inbound messages, whose replies only go out after the commit, is such a
    block. Until then the rows are not due, so nothing can send them undecided."""
    together = _Together(workspace.id)
    session.info[_TOGETHER] = together
    try:
        yield
        del session.info[_TOGETHER]
        await _decide_all(session, workspace, together.undecided, now)
    finally:
        session.info.pop(_TOGETHER, None)


async def enqueue(
    session: AsyncSession, workspace: Workspace, request: SendRequest, now: datetime
) -> Message:
    """Decide and write an outbound message: queued, deferred (with when) or refused (with
    the reason). Shape errors are raised before anything is written."""
    together = session.info.get(_TOGETHER)
    if not (isinstance(together, _Together) and together.owner == workspace.id):
        return await _enqueue(session, workspace, request, now, None)
    # The block's rows are inserted together when it ends, not one by one as each of the
    # lookups of the next message would otherwise flush them.
    with session.no_autoflush:
        return await _enqueue(session, workspace, request, now, together)


async def _enqueue(
    session: AsyncSession,
    workspace: Workspace,
    request: SendRequest,
    now: datetime,
    together: _Together | None,
) -> Message:
    existing = await _already_enqueued(session, workspace, request, together)
    if existing is not None:
        return existing
    contact = await get_contact(session, workspace.id, request.contact_id)
    channel, address = await channel_for(session, workspace.id, contact.id, request.channel_id)
    _check_shape(channel, address, request)
    facts = await template_facts_for(session, workspace.id, channel, request.content)
    message = _outbox_row(workspace, contact.id, channel, address, request, facts, now)
    session.add(message)
    if isinstance(request.content, content_types.MarkRead):
        message.status, message.next_attempt_at = MessageState.QUEUED, now
        await add_history(session, message, message.status, now)
        return message
    question = dataclasses.replace(
        question_for(message, channel, facts),
        campaign_holdout_percent=request.campaign_holdout_percent,
    )
    undecided = _Undecided(message, question, request.note)
    if together is None:
        await _decide_all(session, workspace, [undecided], now)
    else:
        together.undecided.append(undecided)
        if request.idempotency_key:
            together.by_key[request.idempotency_key] = message
    return message


async def _decide_all(
    session: AsyncSession, workspace: Workspace, undecided: Sequence[_Undecided], now: datetime
) -> None:
    """Ask the policy about new rows and write its verdicts and their first history line."""
    if not undecided:
        return
    # Not flushed before the verdicts are on the rows: each is inserted once, complete,
    # instead of inserted by the policy's first query and updated after it.
    with session.no_autoflush:
        decisions = await decide_many(session, workspace, [u.question for u in undecided], now)
    for item, (decision, _ctx) in zip(undecided, decisions, strict=True):
        apply_decision(item.message, decision, now)
        if item.message.status == MessageState.REFUSED and item.message.flow_node:
            log.info(
                "flow message at %s refused: %s (%s)",
                item.message.flow_node,
                item.message.reason,
                item.message.error_detail,
            )
    await session.flush()
    await add_history_many(
        session,
        [history_row(u.message, u.message.status, now, detail=u.detail()) for u in undecided],
    )


async def _already_enqueued(
    session: AsyncSession,
    workspace: Workspace,
    request: SendRequest,
    together: _Together | None,
) -> Message | None:
    """The message written before under the request's idempotency key, if any (in this
    block of decisions, or stored); the key reused for another message is a conflict."""
    if not request.idempotency_key:
        return None
    scope = Scope(session, workspace.id)
    taken = together.taken(request.idempotency_key) if together else None
    held = _STORED_UNDER.get(session, workspace.id, request.idempotency_key)
    if taken is None and (request.key_is_new or held is False):
        return None
    existing = (
        taken
        or (held if isinstance(held, Message) else None)
        or await session.scalar(
            scope.select(Message).where(Message.idempotency_key == request.idempotency_key)
        )
    )
    if existing is not None and (
        existing.contact_id != request.contact_id or existing.kind != kind_of(request.content)
    ):
        raise Conflict(
            "idempotency key already used for a different message", where="idempotency_key"
        )
    return existing


def _check_shape(channel: ChannelAccount, address: str, request: SendRequest) -> None:
    """The shape is checked now, so a message the channel cannot carry is never queued."""
    try:
        registry.adapter(channel.kind).render(
            request.content, Envelope(to=stored_urn(address).path, reply_to=request.reply_to)
        )
    except RenderError as exc:
        raise InvalidInput(exc.message, where=f"content.{exc.where}") from exc


def _outbox_row(
    workspace: Workspace,
    contact_id: str,
    channel: ChannelAccount,
    address: str,
    request: SendRequest,
    facts: TemplateFacts | None,
    now: datetime,
) -> Message:
    """The outbox row for a request, queued until the policy has its say."""
    return outbox_row(
        workspace_id=workspace.id,
        contact_id=contact_id,
        channel_id=channel.id,
        address=address,
        content=request.content.model_dump(mode="json"),
        purpose=request.purpose,
        topic=request.topic,
        facts=facts,
        campaign_id=request.campaign_id,
        idempotency_key=request.idempotency_key,
        now=now,
        reply_to=request.reply_to,
        human_agent=request.human_agent,
        cost_estimate=request.cost_estimate,
        flow_session_id=request.flow_session_id,
        flow_node=request.flow_node,
    )


def outbox_values(
    *,
    workspace_id: str,
    contact_id: str,
    channel_id: str,
    address: str,
    content: dict[str, Any],
    purpose: Purpose,
    topic: str,
    facts: TemplateFacts | None,
    campaign_id: str | None,
    idempotency_key: str | None,
    now: datetime,
    reply_to: str | None = None,
    human_agent: bool = False,
    cost_estimate: Decimal | None = None,
    flow_session_id: str | None = None,
    flow_node: str | None = None,
) -> dict[str, Any]:
    """`outbox_row`'s column values, for a bulk writer (a broadcast's fan-out writes a
    thousand at a time, and building ORM objects only to read them back cost more than
    the insert)."""
    return dict(
        id=new_id("msg"),
        workspace_id=workspace_id,
        contact_id=contact_id,
        channel_id=channel_id,
        direction="out",
        address=address,
        kind=str(content.get("type")),
        content=content,
        text=text_of(content),
        purpose=purpose.value,
        topic=topic if purpose is Purpose.MARKETING else None,
        template_name=facts.name if facts else None,
        template_category=facts.category.value if facts else None,
        campaign_id=campaign_id,
        status=MessageState.QUEUED,
        idempotency_key=idempotency_key,
        attempts=0,
        reply_to=reply_to,
        human_agent=human_agent,
        cost_estimate=cost_estimate,
        flow_session_id=flow_session_id,
        flow_node=flow_node,
        created_at=now,
        updated_at=now,
    )


def _as_row(values: Callable[P, dict[str, Any]]) -> Callable[P, Message]:
    def row(*args: P.args, **kwargs: P.kwargs) -> Message:
        return Message(**values(*args, **kwargs))

    row.__doc__ = "The same values as one ORM row (a single send adds it to the session)."
    return row


# An outbound message as a row, `queued` until the policy has its say.
outbox_row = _as_row(outbox_values)


def history_row(
    message: Message,
    status: str,
    at: datetime,
    *,
    error_code: int | None = None,
    detail: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One status-history line as column values (the dispatcher inserts many at once)."""
    return history_values(
        message.workspace_id, message.id, status, at, error_code=error_code, detail=detail,
        now=now,
    )  # fmt: skip


def history_values(
    workspace_id: str,
    message_id: str,
    status: str,
    at: datetime,
    *,
    error_code: int | None = None,
    detail: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """`history_row` for a message known by its ids (a bulk writer's plain row values)."""
    return {
        "id": new_id("mst"),
        "workspace_id": workspace_id,
        "message_id": message_id,
        "status": status,
        "occurred_at": at,
        "error_code": error_code,
        "detail": detail,
        "recorded_at": now or at,
    }


async def add_history(
    session: AsyncSession,
    message: Message,
    status: str,
    at: datetime,
    *,
    error_code: int | None = None,
    detail: str | None = None,
    now: datetime | None = None,
    flush: bool = True,
) -> None:
    session.add(
        MessageStatus(
            **history_row(message, status, at, error_code=error_code, detail=detail, now=now)
        )
    )
    if flush:
        await session.flush()


async def add_history_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """History lines made by `history_row`, in one insert (after their messages exist)."""
    if rows:
        # Core: the lines are column values already, and the ORM's bulk insert adds
        # per-row bookkeeping that a broadcast's batch of a thousand pays for.
        await session.execute(insert(MessageStatus.__table__), list(rows))  # type: ignore[arg-type]


async def record_inbound(
    session: AsyncSession,
    channel: ChannelAccount,
    contact_id: str,
    address: str,
    event: ev.InboundMessage,
    now: datetime,
) -> Message | None:
    """Store a message from the contact once (by the platform's id); None if seen before."""
    return (await record_inbound_many(session, channel, [(contact_id, address, event)], now))[0]


async def record_inbound_many(
    session: AsyncSession,
    channel: ChannelAccount,
    received: Sequence[tuple[str, str, ev.InboundMessage]],
    now: datetime,
) -> list[Message | None]:
    """Messages from contacts, each (contact id, reply address, event), stored once by the
    platform's id in one query and one insert; None in place of those seen before."""
    wanted = {event.external_id for _, _, event in received}
    seen = set(
        await session.scalars(
            Scope(session, channel.workspace_id)
            .columns(Message, Message.provider_id)
            .where(Message.channel_id == channel.id, Message.provider_id.in_(wanted))
        )
    )
    stored: list[Message | None] = []
    for contact_id, address, event in received:
        if event.external_id in seen:
            stored.append(None)
            continue
        seen.add(event.external_id)
        stored.append(_inbound_row(channel, contact_id, address, event, now))
    session.add_all([message for message in stored if message is not None])
    await session.flush()
    return stored


def _inbound_row(
    channel: ChannelAccount,
    contact_id: str,
    address: str,
    event: ev.InboundMessage,
    now: datetime,
) -> Message:
    return Message(
        id=new_id("msg"),
        workspace_id=channel.workspace_id,
        contact_id=contact_id,
        channel_id=channel.id,
        direction="in",
        address=address,
        kind=event.kind,
        content={
            "text": event.text,
            "payload": event.payload,
            "media": dataclasses.asdict(event.media) if event.media else None,
            "location": event.location,
            "referral": event.referral,
            "story": event.story,
            "forwarded": event.forwarded,
            # What a reply must say to stay in the person's thread (email).
            "subject": event.raw.get("subject") if isinstance(event.raw, dict) else None,
        },
        text=event.text,
        status=MessageState.RECEIVED,
        provider_id=event.external_id,
        attempts=0,
        reply_to=event.reply_to,
        platform_timestamp=event.timestamp,
        created_at=now,
        updated_at=now,
    )


async def find_for_status(
    session: AsyncSession, channel: ChannelAccount, update: ev.StatusUpdate
) -> Message | None:
    return (await find_many_for_status(session, channel, [update])).get(update.external_id)


async def find_many_for_status(
    session: AsyncSession, channel: ChannelAccount, updates: Sequence[ev.StatusUpdate]
) -> dict[str, Message]:
    """The messages status updates are about, by the platform's message id: one query by
    that id, one more by our own id for the sends whose answer was lost (crash, timeout),
    which rode along as callback data; those learn their platform id here."""
    scope = Scope(session, channel.workspace_id)
    ours = scope.select(Message).where(Message.channel_id == channel.id)
    wanted = {u.external_id for u in updates}
    found = {
        m.provider_id: m
        for m in await session.scalars(ours.where(Message.provider_id.in_(wanted)))
        if m.provider_id is not None
    }
    lost = {u.callback_data: u for u in updates if u.external_id not in found and u.callback_data}
    if lost:
        for message in await session.scalars(ours.where(Message.id.in_(list(lost)))):
            update = lost[message.id]
            if message.provider_id is None:
                message.provider_id = update.external_id
            found.setdefault(update.external_id, message)
    return found


async def reply_threads(
    session: AsyncSession, channel: ChannelAccount, outbound: Sequence[Message]
) -> dict[str, tuple[str | None, str | None]]:
    """On channels whose messages have subjects (email): the message each service answer
    replies to and the subject it must carry to stay in the person's thread, by outbound id.
    An answer that names no message answers the person's latest one on the channel."""
    answers = [m for m in outbound if m.purpose in (None, Purpose.SERVICE.value)]
    if not answers:
        return {}
    scope = Scope(session, channel.workspace_id)
    rows = await session.execute(
        scope.columns(Message, Message.contact_id, Message.provider_id, Message.content)
        .where(
            Message.channel_id == channel.id,
            Message.direction == "in",
            Message.contact_id.in_({m.contact_id for m in answers}),
        )
        .order_by(Message.created_at.desc())
    )
    latest: dict[str, str] = {}
    subjects: dict[str, str | None] = {}
    for contact_id, provider_id, content in rows:
        latest.setdefault(contact_id, provider_id)
        subjects[provider_id] = (content or {}).get("subject")
    threads: dict[str, tuple[str | None, str | None]] = {}
    for message in answers:
        answered = message.reply_to or latest.get(message.contact_id)
        threads[message.id] = (answered, subjects.get(answered) if answered else None)
    return threads
