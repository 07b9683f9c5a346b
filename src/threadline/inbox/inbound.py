"""Messages from people, many at once: who sent them, storing them once, the windows they
open, then what each one means (consent keywords, the ticket, the flow). The loading is
set-based, a fixed number of statements for the whole batch; the meaning is decided per
message in the batch's order, exactly as if each had come alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels import events as ev
from threadline.channels import registry
from threadline.channels import service as channels
from threadline.channels.kinds import Channel
from threadline.channels.messages import Text
from threadline.channels.models import ChannelAccount
from threadline.commerce import orders
from threadline.consent.keywords import KeywordKind
from threadline.consent.keywords import classify as classify_keyword
from threadline.contacts.models import Contact
from threadline.conversations import service as conversations
from threadline.flows import runner as flow_runner
from threadline.growth import double_optin
from threadline.inbox.identities import contacts_for
from threadline.messages import service as messages
from threadline.messages.models import Message
from threadline.policy.types import Purpose
from threadline.workspaces.models import Workspace
from threadline.workspaces.service import settings_of

# Taps on a flow's own buttons, list rows, quick replies and postbacks.
FLOW_TAP_KINDS = frozenset(
    {"interactive/button_reply", "interactive/list_reply", "quick_reply", "postback"}
)
KEYWORD_KINDS = frozenset({"text", "button", *FLOW_TAP_KINDS})


@dataclass
class Processed:
    """What processing produced, for the caller (flows and tests look at it)."""

    inbound: Message | None = None
    replies: list[Message] | None = None


@dataclass(frozen=True, slots=True)
class _Fresh:
    """A message seen for the first time, with the contact it came from."""

    event: ev.InboundMessage
    contact: Contact
    address: str
    stored: Message


def ad_referral(referral: dict[str, Any] | None) -> dict[str, Any] | None:
    """A referral that opens the ad window: a click-to-message ad (WhatsApp's CTWA carries
    `source_type`; Messenger's says source ADS or names the ad). An m.me link does not."""
    if not referral:
        return None
    from_ad = (
        "source_type" in referral
        or str(referral.get("source", "")).upper() == "ADS"
        or bool(referral.get("ad_id"))
    )
    return referral if from_ad else None


async def received(
    session: AsyncSession,
    channel: ChannelAccount,
    workspace: Workspace,
    events: Sequence[ev.InboundMessage],
    now: datetime,
) -> list[Processed]:
    """Process messages that came on one channel, in their order; one Processed each. A
    contact's second message in the batch waits for a later pass, because what the first
    one does (start a flow, open a ticket) decides what the second means."""
    scheme = registry.declaration(channel.kind).urn_scheme
    senders = await contacts_for(session, workspace.id, scheme, [e.sender for e in events], now)
    now_batch: list[int] = []
    later: list[int] = []
    seen: set[str] = set()
    for index, (contact, _) in enumerate(senders):
        (later if contact.id in seen else now_batch).append(index)
        seen.add(contact.id)
    results = await _one_per_contact(
        session, channel, workspace, [(events[i], *senders[i]) for i in now_batch], now
    )
    if later:
        results += await received(session, channel, workspace, [events[i] for i in later], now)
    by_index = dict(zip(now_batch + later, results, strict=True))
    return [by_index[index] for index in range(len(events))]


async def _one_per_contact(
    session: AsyncSession,
    channel: ChannelAccount,
    workspace: Workspace,
    batch: Sequence[tuple[ev.InboundMessage, Contact, str]],
    now: datetime,
) -> list[Processed]:
    stored = await messages.record_inbound_many(
        session, channel, [(contact.id, address, event) for event, contact, address in batch], now
    )
    fresh = [
        _Fresh(event, contact, address, message)
        for (event, contact, address), message in zip(batch, stored, strict=True)
        if message is not None
    ]
    touches = [
        conversations.Touch(
            f.contact.id, min(f.event.timestamp, now), ad_referral(f.event.referral)
        )
        for f in fresh
    ]
    touched = await conversations.record_inbound_many(
        session, workspace.id, Channel(channel.kind), touches, now
    )
    answered: dict[str, Processed] = {}
    if fresh:
        contact_ids = [f.contact.id for f in fresh]
        context = await flow_runner.inbound_context(session, workspace.id, contact_ids)
        with conversations.holding(session, workspace.id, touched):
            replies_keys = [_auto_reply_key(f.event) for f in fresh]
            async with (
                flow_runner.holding_for_inbound(session, workspace.id, context, contact_ids, now),
                messages.holding_keys(session, workspace.id, replies_keys),
                messages.decided_together(session, workspace, now),
            ):
                for f in fresh:
                    replies = await _respond(session, channel, workspace, f, context, now)
                    answered[f.stored.id] = Processed(f.stored, replies)
    return [answered[m.id] if m else Processed() for m in stored]


async def _respond(
    session: AsyncSession,
    channel: ChannelAccount,
    workspace: Workspace,
    fresh: _Fresh,
    context: flow_runner.InboundContext,
    now: datetime,
) -> list[Message]:
    """What the message means: a consent keyword (and its confirmation), then the flow."""
    event, contact_id = fresh.event, fresh.contact.id
    replies: list[Message] = []
    if event.order is not None:  # the cart they sent from the catalog: an `order` event
        await orders.from_cart(session, workspace, contact_id, event, now)
    keyword = KeywordKind.NONE
    if event.kind in KEYWORD_KINDS and event.text and not _tap_for_flow(event, contact_id, context):
        # Growth's JOIN / YES after the consent engine (which it calls first).
        outcome = await double_optin.apply_inbound_text(
            session,
            workspace.id,
            contact_id,
            referral_ref=(event.referral or {}).get("ref"),
            channel=channel.kind,
            text=event.text,
            message_id=event.external_id,
            address=fresh.address,
            occurred_at=min(event.timestamp, now),
            now=now,
            settings=settings_of(workspace),
            workspace_name=workspace.name,
        )
        if outcome.reply and not channels.provider_answers_keywords(channel):
            replies.append(await _confirm(session, channel, workspace, fresh, outcome.reply, now))
        keyword = outcome.match.kind
    replies += await flow_runner.on_inbound(
        session, workspace, contact_id, event, keyword, now, context, channel.id
    )
    return replies


async def _confirm(
    session: AsyncSession,
    channel: ChannelAccount,
    workspace: Workspace,
    fresh: _Fresh,
    text: str,
    now: datetime,
) -> Message:
    """The keyword engine's answer (STOP confirmed, HELP text), as a reply to the message."""
    return await messages.enqueue(
        session,
        workspace,
        messages.SendRequest(
            contact_id=fresh.contact.id,
            purpose=Purpose.SERVICE,
            channel_id=channel.id,
            content=Text(body=text),
            reply_to=fresh.event.external_id,
            idempotency_key=_auto_reply_key(fresh.event),
        ),
        now,
    )


def _auto_reply_key(event: ev.InboundMessage) -> str:
    """One automatic answer per message, however often the platform delivers it."""
    return f"auto-reply:{event.external_id}"


def _tap_for_flow(
    event: ev.InboundMessage, contact_id: str, context: flow_runner.InboundContext
) -> bool:
    """A tap on one of a waiting flow's own buttons or list rows is an answer to the flow,
    whatever its title says ("Help", "Cancel my order"). Typed words and template buttons
    (Meta's "Stop promotions") still go through the consent engine."""
    if event.payload is None or event.kind not in FLOW_TAP_KINDS or not event.text:
        return False
    if classify_keyword(event.text).kind is KeywordKind.NONE:
        return False
    return context.waiting_for_reply(contact_id)
