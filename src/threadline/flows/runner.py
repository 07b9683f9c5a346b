"""Running flows for real: sessions stored one active per contact, the engine stepped on
inbound messages, timers, webhook answers and agents, and its actions carried out — messages
through the policy and the outbox, contact changes, tickets."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, inspect
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels import events as ev
from threadline.channels import messages as content_types
from threadline.channels import registry
from threadline.channels.kinds import Channel
from threadline.consent.keywords import KeywordKind
from threadline.contacts import repository as contact_rows
from threadline.contacts.events import ingest as ingest_event
from threadline.contacts.models import Contact
from threadline.contacts.repository import change_tags, recent_events_of, tags_of
from threadline.contacts.schemas import EventIn, EventKind
from threadline.contacts.service import check_fields, get_contact
from threadline.contacts.urns import region_for_phone
from threadline.conversations import service as conversations
from threadline.flows import entry, triggers
from threadline.flows import service as flows
from threadline.flows import state as s
from threadline.flows.engine import FlowBug, new_state, step
from threadline.flows.loader import Flow
from threadline.flows.models import FlowSession, FlowVersion
from threadline.kit.clock import FrozenClock
from threadline.kit.errors import ThreadlineError
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope
from threadline.messages import service as messages
from threadline.messages.models import Message
from threadline.policy.decide import free_form_allowed, template_instead
from threadline.policy.service import stored_urn
from threadline.policy.types import Purpose
from threadline.tickets import service as tickets
from threadline.tickets.models import Ticket
from threadline.workspaces.models import Workspace

log = logging.getLogger("threadline.flows")
RECENT_EVENTS = timedelta(days=30)
LANE_RETRY = timedelta(minutes=5)
# Started by the person: what the bot says is a reply (service) while the window is open.
REPLY_TRIGGERS = frozenset({"keyword", "first_inbound", "referral", "menu"})
CONSENT_HANDLED = frozenset({KeywordKind.HELP, KeywordKind.OPT_IN})


class SessionBusy(ThreadlineError):
    status_code = 409
    code = "session_active"


async def active_session(
    session: AsyncSession, workspace_id: str, contact_id: str
) -> FlowSession | None:
    return (await active_sessions(session, workspace_id, [contact_id])).get(contact_id)


async def active_sessions(
    session: AsyncSession, workspace_id: str, contact_ids: Collection[str]
) -> dict[str, FlowSession]:
    """The flow each contact is in, for those in one, by contact id."""
    scope = Scope(session, workspace_id)
    return await scope.keyed(FlowSession, FlowSession.active_contact_id, contact_ids)


async def _contact_view(
    session: AsyncSession, contact: Contact, address: str | None, now: datetime
) -> s.ContactView:
    tags = await tags_of(session, contact)
    recent = await recent_events_of(session, contact.workspace_id, contact.id, now - RECENT_EVENTS)
    phone = stored_urn(address).phone_e164 if address else None
    region = region_for_phone(phone) if phone else None
    return s.ContactView(
        name=contact.name or "",
        fields=dict(contact.fields or {}),
        tags=frozenset(tags),
        interests=frozenset(contact.interests or []),
        timezone=contact.timezone,
        region=region,
        # custom events are known by their name ("csat", "demo_booked"), others by kind
        events=tuple(
            (name if kind == "custom" and name else kind, at) for kind, name, at in recent
        ),
    )


async def flow_candidates(
    session: AsyncSession, workspace_id: str
) -> tuple[list[triggers.Candidate], list[FlowVersion]]:
    """The flows that may start, and their rows (held, so starting one finds it loaded)."""
    rows = await flows.active_flows(session, workspace_id)
    candidates = [
        triggers.Candidate(
            flow_id=row.id,
            key=row.key,
            priority=row.priority,
            triggers=tuple(flows.compiled(row).file.triggers),
        )
        for row in rows
    ]
    return candidates, rows


# ---------------------------------------------------------------- starting and stepping


async def start(
    session: AsyncSession,
    workspace: Workspace,
    contact: Contact,
    version: FlowVersion,
    now: datetime,
    *,
    trigger: str = "api",
    params: dict[str, Any] | None = None,
    channel_id: str | None = None,
    reply_to: str | None = None,
) -> tuple[FlowSession, list[Message]]:
    if await active_session(session, workspace.id, contact.id) is not None:
        raise SessionBusy(
            "the contact is already in a flow; end it or wait for it to finish",
            where="contact_id",
        )
    return await begin(
        session, workspace, contact, version, now, trigger, params, channel_id, reply_to
    )


async def begin(
    session: AsyncSession,
    workspace: Workspace,
    contact: Contact,
    version: FlowVersion,
    now: datetime,
    trigger: str,
    params: dict[str, Any] | None,
    channel_id: str | None,
    reply_to: str | None,
) -> tuple[FlowSession, list[Message]]:
    """A new session for a contact known to be in none (or for a flow that starts with a
    wait, which does not need the conversation). The row is written with the rest of the
    transaction (a batch's new sessions in one insert), not flushed on its own."""
    channel, address = await messages.channel_for(session, workspace.id, contact.id, channel_id)
    flow = flows.compiled(version)
    state = new_state(
        flow,
        await _contact_view(session, contact, address, now),
        Channel(channel.kind),
        now,
        trigger=trigger,
        params=params,
    )
    row = FlowSession(
        id=new_id("fss"),
        workspace_id=workspace.id,
        contact_id=contact.id,
        # taken by `_save` once the first step shows whether the session talks or sleeps
        active_contact_id=None,
        flow_id=version.id,
        flow_key=version.key,
        channel_id=channel.id,
        status=state.status,
        trigger=trigger,
        state=state.to_json(),
        steps=0,
        started_at=now,
        updated_at=now,
    )
    session.add(row)
    sent = await _advance(
        session, workspace, row, flow, state, s.Start(trigger, params or {}), now, reply_to
    )
    return row, sent


async def quiet_start(
    session: AsyncSession,
    contact: Contact,
    version: FlowVersion,
    now: datetime,
    trigger: str,
    params: dict[str, Any] | None,
) -> bool:
    """Whether starting the flow now would say nothing and sleep (or end) at once — a
    reminder that first waits: it can start while the person is in another conversation.
    The engine is pure, so the start is simply tried in memory."""
    flow = flows.compiled(version)
    view = await _contact_view(session, contact, None, now)
    # any channel will do: it shapes how messages would look, not whether there are any
    state = new_state(flow, view, Channel.WHATSAPP, now, trigger=trigger, params=params)
    try:
        after, actions = step(flow, state, s.Start(trigger, params or {}), FrozenClock(now))
    except FlowBug:
        return False
    speaks = any(isinstance(a, s.Send | s.OpenTicket) for a in actions)
    return not speaks and (after.sleeping or after.status == s.FlowStatus.ENDED)


async def advance(
    session: AsyncSession,
    workspace: Workspace,
    row: FlowSession,
    event: s.Event,
    now: datetime,
    reply_to: str | None = None,
) -> list[Message]:
    """Feed one event to a stored session and carry out what the flow does."""
    version = await session.get(FlowVersion, row.flow_id)
    assert version is not None
    contact = await get_contact(session, workspace.id, row.contact_id)
    channel = await messages.default_channel(session, workspace.id, row.channel_id)
    address = await messages.address_for(session, workspace.id, contact.id, channel)
    state = s.FlowState.from_json(row.state).with_contact(
        await _contact_view(session, contact, address, now)
    )
    return await _advance(
        session, workspace, row, flows.compiled(version), state, event, now, reply_to
    )


async def _advance(
    session: AsyncSession,
    workspace: Workspace,
    row: FlowSession,
    flow: Flow,
    state: s.FlowState,
    event: s.Event,
    now: datetime,
    reply_to: str | None,
) -> list[Message]:
    try:
        after, actions = step(flow, state, event, FrozenClock(now))
    except FlowBug as exc:
        log.error("flow %s broke in session %s: %s", flow.key, row.id, exc)
        after, actions = _ended(state, now, f"flow error: {exc}"), []
    row.steps += 1
    sent, after = await _carry_out(session, workspace, row, flow, after, actions, now, reply_to)
    _save(row, after, actions, now)
    return sent


def _ended(state: s.FlowState, now: datetime, reason: str) -> s.FlowState:
    return replace(
        state,
        status=s.FlowStatus.ENDED,
        wait=None,
        outcome="abandoned",
        end_reason=reason,
        ended_at=now,
    )


def _save(row: FlowSession, state: s.FlowState, actions: list[s.Action], now: datetime) -> None:
    data = state.to_json()
    calls = [a for a in actions if isinstance(a, s.CallWebhook)]
    if calls and state.status == s.FlowStatus.WEBHOOK:
        c = calls[-1]
        data["pending_call"] = {
            "node": c.node,
            "method": c.method,
            "url": c.url,
            "headers": c.headers,
            "body": c.body,
            "timeout_seconds": c.timeout_seconds,
        }
    row.state = data
    row.status = state.status
    row.node = state.node
    row.deadline = state.wait.deadline if state.wait else None
    row.outcome = state.outcome
    row.end_reason = state.end_reason
    row.updated_at = now
    if state.status == s.FlowStatus.ENDED:
        row.ended_at = state.ended_at or now
    # A session holds the person's conversation (routing their replies to it) unless it has
    # ended or sleeps in a wait node; waking, it takes the conversation back (`take_lane`).
    holds = state.status != s.FlowStatus.ENDED and not state.sleeping
    row.active_contact_id = row.contact_id if holds else None


@dataclass(slots=True)
class _Carrying:
    """What the action handlers of one step share; `sent` grows as messages go out."""

    session: AsyncSession
    workspace: Workspace
    row: FlowSession
    flow: Flow
    state: s.FlowState
    contact: Contact
    now: datetime
    reply_to: str | None
    sent: list[Message]


# Carries out one action (its index in the step numbers the message it sends). Returns the
# session ended when the flow cannot go on, else None.
_Handler = Callable[[_Carrying, Any, int], Awaitable[s.FlowState | None]]


async def _carry_out(
    session: AsyncSession,
    workspace: Workspace,
    row: FlowSession,
    flow: Flow,
    state: s.FlowState,
    actions: list[s.Action],
    now: datetime,
    reply_to: str | None,
) -> tuple[list[Message], s.FlowState]:
    """Each action by its handler, in order. The actions without one (CallWebhook, Ended)
    are already in the session's state, which `_save` stores."""
    contact = await get_contact(session, workspace.id, row.contact_id)
    job = _Carrying(session, workspace, row, flow, state, contact, now, reply_to, sent=[])
    for index, action in enumerate(actions):
        handler = _HANDLERS.get(type(action))
        if handler is None:
            continue
        ended = await handler(job, action, index)
        if ended is not None:
            return job.sent, ended
    contact.updated_at = now
    return job.sent, state


async def _do_send(job: _Carrying, action: s.Send, index: int) -> s.FlowState | None:
    try:
        message = await _send(
            job.session, job.workspace, job.row, job.flow, job.state, action, index, job.now
        )
    except ThreadlineError as exc:
        # The flow asked for something the channel cannot carry: say so and stop.
        log.warning("flow %s could not send at %s: %s", job.flow.key, action.node, exc)
        return _ended(job.state, job.now, f"could not send at {action.node}: {exc}")
    if job.reply_to and not job.sent:
        message.reply_to = None  # quoting the person's message adds nothing in a flow
    job.sent.append(message)
    return None


async def _do_set_fields(job: _Carrying, action: s.SetFields, _index: int) -> s.FlowState | None:
    try:
        checked = await check_fields(job.session, job.workspace.id, action.values)
    except ThreadlineError as exc:
        log.warning("flow %s: fields not set: %s", job.flow.key, exc)
        return None
    job.contact.fields = {**(job.contact.fields or {}), **checked}
    return None


async def _do_change_tags(job: _Carrying, action: s.ChangeTags, _index: int) -> s.FlowState | None:
    await change_tags(job.session, job.contact, add=action.add, remove=action.remove)
    return None


async def _do_add_interests(
    job: _Carrying, action: s.AddInterests, _index: int
) -> s.FlowState | None:
    job.contact.interests = sorted(set(job.contact.interests or []) | set(action.interests))
    return None


async def _do_add_score(job: _Carrying, action: s.AddScore, _index: int) -> s.FlowState | None:
    previous = (job.contact.fields or {}).get(flows.LEAD_SCORE_FIELD) or 0
    job.contact.fields = {
        **(job.contact.fields or {}),
        flows.LEAD_SCORE_FIELD: float(previous) + action.delta,
    }
    return None


async def _do_open_ticket(job: _Carrying, action: s.OpenTicket, _index: int) -> s.FlowState | None:
    await tickets.open_for(
        job.session,
        job.workspace.id,
        job.contact.id,
        team=action.team,
        summary=action.summary,
        now=job.now,
        session_id=job.row.id,
        channel_id=job.row.channel_id,
    )
    return None


async def _do_record_csat(job: _Carrying, action: s.RecordCsat, _index: int) -> s.FlowState | None:
    row = job.row
    await ingest_event(
        job.session,
        job.workspace.id,
        EventIn(
            idempotency_key=f"csat:{row.id}:{action.node}:{row.steps}",
            kind=EventKind.CUSTOM,
            contact_id=job.contact.id,
            name="csat",
            value=action.score,
            properties={"flow": job.flow.key, "session_id": row.id},
            occurred_at=job.now,
        ),
        now=job.now,
        default_region=None,
    )
    return None


# The engine's action types and who carries each out.
_HANDLERS: dict[type[Any], _Handler] = {
    s.Send: _do_send,
    s.SetFields: _do_set_fields,
    s.ChangeTags: _do_change_tags,
    s.AddInterests: _do_add_interests,
    s.AddScore: _do_add_score,
    s.OpenTicket: _do_open_ticket,
    s.RecordCsat: _do_record_csat,
}


async def _send(
    session: AsyncSession,
    workspace: Workspace,
    row: FlowSession,
    flow: Flow,
    state: s.FlowState,
    action: s.Send,
    index: int,
    now: datetime,
) -> Message:
    conversation = await conversations.get_conversation(
        session, workspace.id, row.contact_id, state.channel
    )
    facts = conversations.facts_of(conversation, state.channel)
    rules = registry.rules_for(state.channel)
    window_open = free_form_allowed(facts, rules, now)
    content: content_types.Content = action.content
    started_by_person = row.trigger in REPLY_TRIGGERS or row.steps > 1
    purpose = Purpose.SERVICE if window_open and started_by_person else Purpose(flow.file.purpose)
    if action.template is not None and template_instead(window_open, rules):
        content = content_types.Template(
            name=action.template.name,
            language=action.template.language,
            body=list(action.template.body),
        )
        if purpose is Purpose.SERVICE:
            purpose = Purpose.UTILITY
    message = await messages.enqueue(
        session,
        workspace,
        messages.SendRequest(
            contact_id=row.contact_id,
            purpose=purpose,
            content=content,
            channel_id=row.channel_id,
            idempotency_key=f"flow:{row.id}:{row.steps}:{index}",
            # a session not written yet: no stored message can carry a key made of its id
            key_is_new=inspect(row).pending,
            flow_session_id=row.id,
            flow_node=action.node,
        ),
        now,
    )
    return message


# ---------------------------------------------------------------- what starts and moves flows


@dataclass(frozen=True)
class InboundContext:
    """What deciding on inbound messages needs, loaded for many contacts at once: their
    open tickets, the flows they are in, the flows that may start, and which of them wrote
    for the first time. Valid while each contact is handled once."""

    tickets: dict[str, Ticket]
    sessions: dict[str, FlowSession]
    candidates: list[triggers.Candidate]
    first_inbound: set[str]
    versions: list[FlowVersion]
    sleeping: dict[str, list[FlowSession]]  # automations paused in a wait, by contact

    def waiting_for_reply(self, contact_id: str) -> bool:
        row = self.sessions.get(contact_id)
        return row is not None and row.status == s.FlowStatus.WAITING


async def inbound_context(
    session: AsyncSession, workspace_id: str, contact_ids: Collection[str]
) -> InboundContext:
    """Call it after the messages are stored: a first message counts itself."""
    tickets_open = await tickets.current_many(session, workspace_id, contact_ids)
    sessions = await active_sessions(session, workspace_id, contact_ids)
    candidates, versions = await flow_candidates(session, workspace_id)
    undecided = set(contact_ids) - tickets_open.keys() - sessions.keys()
    first = await _first_inbound(session, workspace_id, undecided) if candidates else set()
    sleeping = await sleeping_sessions(session, workspace_id, contact_ids)
    return InboundContext(tickets_open, sessions, candidates, first, versions, sleeping)


async def sleeping_sessions(
    session: AsyncSession, workspace_id: str, contact_ids: Collection[str]
) -> dict[str, list[FlowSession]]:
    """Sessions paused in a wait node (alive, not holding the conversation), by contact."""
    if not contact_ids:
        return {}
    rows = await session.scalars(
        Scope(session, workspace_id)
        .select(FlowSession)
        .where(
            FlowSession.contact_id.in_(contact_ids),
            FlowSession.status == s.FlowStatus.WAITING,
            FlowSession.active_contact_id.is_(None),
        )
    )
    found: dict[str, list[FlowSession]] = {}
    for row in rows:
        found.setdefault(row.contact_id, []).append(row)
    return found


async def take_lane(session: AsyncSession, row: FlowSession, now: datetime) -> bool:
    """A sleeping session's timer is due: take the person's conversation back, unless
    another session holds it — then try again a little later (a reminder never breaks
    into a conversation in progress). False when it was put off."""
    if row.active_contact_id is not None:
        return True
    state = s.FlowState.from_json(row.state)
    if now >= state.expires_at:
        return True  # it only ends; ending needs no conversation
    if await active_session(session, row.workspace_id, row.contact_id) is not None:
        row.deadline = now + LANE_RETRY
        return False
    row.active_contact_id = row.contact_id
    return True


async def _exit_sleeping(
    session: AsyncSession,
    workspace: Workspace,
    rows: list[FlowSession],
    keyword: KeywordKind,
    now: datetime,
) -> None:
    """The person wrote: automations told to stop on a reply (or an opt-out) stop."""
    for row in rows:
        version = await session.get(FlowVersion, row.flow_id)
        assert version is not None
        found = entry.exit_for_words(flows.compiled(version).file, keyword, sleeping=True)
        if found is not None:
            outcome, reason = found
            await advance(session, workspace, row, s.Exit(outcome, reason), now)


def holding_for_inbound(
    session: AsyncSession,
    workspace_id: str,
    context: InboundContext,
    contact_ids: Collection[str],
    now: datetime,
) -> AbstractAsyncContextManager[None]:
    """Hold what stepping flows reads per contact (addresses, and the tags and recent
    events of the contact view when a flow may start or move) for the batch's block."""
    may_step = bool(context.candidates or context.sessions)
    return contact_rows.holding(
        session,
        workspace_id,
        contact_ids,
        tags_and_events_since=now - RECENT_EVENTS if may_step else None,
    )


async def _first_inbound(
    session: AsyncSession, workspace_id: str, contact_ids: set[str]
) -> set[str]:
    if not contact_ids:
        return set()
    scope = Scope(session, workspace_id)
    counts = await session.execute(
        scope.columns(Message, Message.contact_id, func.count())
        .where(Message.contact_id.in_(contact_ids), Message.direction == "in")
        .group_by(Message.contact_id)
    )
    more_than_one = {contact_id for contact_id, count in counts if count > 1}
    return contact_ids - more_than_one


async def on_inbound(
    session: AsyncSession,
    workspace: Workspace,
    contact_id: str,
    event: ev.InboundMessage,
    keyword: KeywordKind,
    now: datetime,
    context: InboundContext | None = None,
    channel_id: str | None = None,
) -> list[Message]:
    """A message from the person: to the ticket if people have it, to the waiting flow, or
    to the flow its words (or the ad it came from) start. Consent keywords were handled.
    `context` is what `inbound_context` loaded for a batch this contact is in; a flow it
    starts talks on `channel_id`, the channel the message came on, when given."""
    if context is None:
        context = await inbound_context(session, workspace.id, [contact_id])
    if asleep := context.sleeping.get(contact_id):
        await _exit_sleeping(session, workspace, asleep, keyword, now)
    ticket = context.tickets.get(contact_id)
    if ticket is not None:
        tickets.customer_wrote(ticket, now)
        return []  # the bot stays silent while people handle the conversation
    row = context.sessions.get(contact_id)
    reply = s.Reply(text=event.text or "", payload=event.payload, kind=event.kind)
    if keyword in (KeywordKind.OPT_OUT, KeywordKind.OPT_OUT_ALL):
        if row is not None and row.status == s.FlowStatus.WAITING:
            # The consent engine revoked: the flow hears the words, whatever was tapped.
            words = s.Reply(text=event.text or "", payload=None, kind=event.kind)
            await advance(session, workspace, row, words, now)
        return []
    if keyword in CONSENT_HANDLED:
        return []
    if row is not None:
        if row.status != s.FlowStatus.WAITING:
            return []  # a webhook answer is on its way; the flow speaks next
        return await advance(session, workspace, row, reply, now, reply_to=event.external_id)
    match = triggers.for_inbound(
        context.candidates, event.text, event.referral, contact_id in context.first_inbound
    )
    if match is None:
        return []
    version = await session.get(FlowVersion, match.flow_id)
    assert version is not None
    contact = await get_contact(session, workspace.id, contact_id)
    _, sent = await begin(  # the context saw no session for this contact
        session,
        workspace,
        contact,
        version,
        now,
        match.trigger,
        match.params,
        channel_id,
        event.external_id,
    )
    return sent


def pause_for_agent(row: FlowSession, now: datetime) -> None:
    """People took the conversation over by hand: the bot waits for them (no timers), and a
    hand-back asks the person again where the flow was waiting."""
    if row.status not in (s.FlowStatus.WAITING, s.FlowStatus.WEBHOOK, s.FlowStatus.CALLING):
        return
    state = s.FlowState.from_json(row.state)
    paused = replace(
        state,
        status=s.FlowStatus.HANDOFF,
        wait=None,
        resume_at=state.wait.node
        if state.wait
        and state.status == s.FlowStatus.WAITING
        and not state.wait.node.startswith("__")
        else None,
    )
    _save(row, paused, [], now)


async def agent_done(
    session: AsyncSession,
    workspace: Workspace,
    ticket_session_id: str | None,
    hand_back: bool,
    now: datetime,
) -> list[Message]:
    """A resolved ticket: the bot resumes where it handed over, or the flow ends."""
    if ticket_session_id is None:
        return []
    row = await Scope(session, workspace.id).get(FlowSession, ticket_session_id)
    if row is None or row.status != s.FlowStatus.HANDOFF:
        return []
    return await advance(session, workspace, row, s.HandBack() if hand_back else s.Close(), now)
