"""What each stored platform event means for contacts, conversations, consent, messages,
templates and channels. Runs inside one transaction per event."""

from __future__ import annotations

import dataclasses
import functools
import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from threadline import pricing
from threadline.channels import codec
from threadline.channels import events as ev
from threadline.channels.errors import ErrorClass
from threadline.channels.kinds import Channel
from threadline.channels.messages import Text
from threadline.channels.models import ChannelAccount
from threadline.channels.whatsapp.errors import classify
from threadline.consent import service as consent
from threadline.consent.keywords import KeywordKind
from threadline.consent.keywords import classify as classify_keyword
from threadline.consent.projection import ALL_MARKETING, Action
from threadline.conversations import service as conversations
from threadline.flows import runner as flow_runner
from threadline.inbox.identities import contact_for
from threadline.inbox.models import InboxEvent
from threadline.messages import service as messages
from threadline.messages.models import Message
from threadline.policy.service import stored_urn
from threadline.policy.types import Purpose
from threadline.templates import service as templates
from threadline.workspaces.models import Workspace
from threadline.workspaces.service import settings_of

log = logging.getLogger("threadline.inbox")
FLOW_TAP_KINDS = frozenset({"interactive/button_reply", "interactive/list_reply"})
KEYWORD_KINDS = frozenset({"text", "button", "interactive/button_reply", "interactive/list_reply"})
SIGNUP_DISCLOSURE = "Opted in to marketing messages through WhatsApp's own sign-up prompt"
TIERS = {
    "TIER_50": 50,
    "TIER_250": 250,
    "TIER_1K": 1000,
    "TIER_2K": 2000,
    "TIER_10K": 10_000,
    "TIER_100K": 100_000,
}


@dataclass
class Processed:
    """What processing produced, for the caller (flows and tests look at it)."""

    inbound: Message | None = None
    replies: list[Message] | None = None


async def process(
    session: AsyncSession,
    row: InboxEvent,
    channel: ChannelAccount,
    workspace: Workspace,
    now: datetime,
) -> Processed:
    event = codec.load(row.payload)
    if isinstance(event, ev.InboundMessage):
        return await _inbound(session, channel, workspace, event, now)
    if isinstance(event, ev.StatusUpdate):
        await _status(session, channel, event, now)
    elif isinstance(event, ev.MarketingPreference):
        await _preference(session, channel, event, now)
    elif isinstance(
        event, ev.TemplateStatusChange | ev.TemplateCategoryChange | ev.TemplateQualityChange
    ):
        await templates.apply_event(session, channel.workspace_id, event, now)
    elif isinstance(event, ev.NumberQualityChange):
        _number_quality(channel, event, now)
    elif isinstance(event, ev.PlatformErrors):
        channel.settings = {
            **(channel.settings or {}),
            "last_platform_errors": [dataclasses.asdict(e) for e in event.errors],
            "last_platform_errors_at": now.isoformat(),
        }
        log.warning("platform reported errors for %s: %s", channel.address, event.errors)
    return Processed()


async def _inbound(
    session: AsyncSession,
    channel: ChannelAccount,
    workspace: Workspace,
    event: ev.InboundMessage,
    now: datetime,
) -> Processed:
    contact, address = await contact_for(session, workspace.id, event.sender, now)
    stored = await messages.record_inbound(session, channel, contact.id, address, event, now)
    if stored is None:
        return Processed()
    await conversations.record_inbound(
        session,
        workspace.id,
        contact.id,
        Channel.WHATSAPP,
        platform_timestamp=min(event.timestamp, now),
        now=now,
        referral=event.referral,
    )
    replies: list[Message] = []
    keyword = KeywordKind.NONE
    if (
        event.kind in KEYWORD_KINDS
        and event.text
        and not await _tap_for_flow(session, workspace.id, contact.id, event)
    ):
        settings = settings_of(workspace)
        outcome = await consent.apply_inbound_text(
            session,
            workspace.id,
            contact.id,
            channel=Channel.WHATSAPP.value,
            text=event.text,
            message_id=event.external_id,
            address=address,
            occurred_at=min(event.timestamp, now),
            now=now,
            settings=settings,
            workspace_name=workspace.name,
        )
        if outcome.reply:
            reply = await messages.enqueue(
                session,
                workspace,
                messages.SendRequest(
                    contact_id=contact.id,
                    purpose=Purpose.SERVICE,
                    channel_id=channel.id,
                    content=Text(body=outcome.reply),
                    reply_to=event.external_id,
                    idempotency_key=f"auto-reply:{event.external_id}",
                ),
                now,
            )
            replies.append(reply)
        keyword = outcome.match.kind
    replies += await flow_runner.on_inbound(session, workspace, contact.id, event, keyword, now)
    return Processed(inbound=stored, replies=replies)


async def _tap_for_flow(
    session: AsyncSession, workspace_id: str, contact_id: str, event: ev.InboundMessage
) -> bool:
    """A tap on one of a waiting flow's own buttons or list rows is an answer to the flow,
    whatever its title says ("Help", "Cancel my order"). Typed words and template buttons
    (Meta's "Stop promotions") still go through the consent engine."""
    if event.payload is None or event.kind not in FLOW_TAP_KINDS or not event.text:
        return False
    if classify_keyword(event.text).kind is KeywordKind.NONE:
        return False
    return await flow_runner.waiting_for_reply(session, workspace_id, contact_id)


async def _status(
    session: AsyncSession, channel: ChannelAccount, update: ev.StatusUpdate, now: datetime
) -> None:
    message = await messages.find_for_status(session, channel, update)
    if message is None:
        log.info("status %s for unknown message %s", update.status, update.external_id)
        return
    error = update.errors[0] if update.errors else None
    await messages.add_history(
        session,
        message,
        update.status,
        update.timestamp,
        error_code=error.code if error else None,
        detail=error.title if error else None,
        now=now,
    )
    if update.pricing is not None:
        message.pricing = {
            "model": update.pricing.model,
            "category": update.pricing.category,
            "type": update.pricing.type,
            "billable": update.pricing.billable,
        }
        message.cost_actual = _actual_cost(message, update.pricing, update.timestamp)
    if messages.advance_status(message, update.status):
        message.status = update.status
        message.updated_at = now
        if error is not None:
            message.error_code = error.code
            message.error_class = classify(error.code).value
            message.error_detail = error.title
    if update.status == "failed" and error is not None:
        await _failure_effects(
            session, channel, message, classify(error.code), update.timestamp, now
        )


def _actual_cost(message: Message, block: ev.Pricing, at: datetime) -> Decimal | None:
    """What the platform says it charges, priced with the rate card (None: cannot be priced)."""
    phone = stored_urn(message.address).phone_e164
    try:
        charge = pricing.actual(
            block,
            market=pricing.market_for(phone) if phone else None,
            at=at,
            card=pricing.current_card(),
        )
    except pricing.MissingRate:
        log.warning("no rate for message %s (%s)", message.id, block)
        return None
    return charge.amount


async def _failure_effects(
    session: AsyncSession,
    channel: ChannelAccount,
    message: Message,
    error_class: ErrorClass,
    at: datetime,
    now: datetime,
) -> None:
    """The platform knows better than our model: align the model so the next decision is right."""
    if error_class is ErrorClass.WINDOW_CLOSED:
        await conversations.mark_window_closed(
            session, message.workspace_id, message.contact_id, Channel.WHATSAPP, min(at, now)
        )
    elif error_class is ErrorClass.OPTED_OUT:
        change = consent.ConsentChange(
            action=Action.REVOKE,
            channel=Channel.WHATSAPP.value,
            topic=ALL_MARKETING,
            source="platform",
            actor="whatsapp",
            occurred_at=min(at, now),
            address=message.address,
            evidence={"message_id": message.provider_id, "error": 131050},
        )
        await consent.record(session, message.workspace_id, message.contact_id, change, now)


async def _preference(
    session: AsyncSession, channel: ChannelAccount, event: ev.MarketingPreference, now: datetime
) -> None:
    sender = ev.Sender(
        address=event.address,
        phone_id=event.address if event.address.isdigit() else None,
        user_id=None if event.address.isdigit() else event.address,
    )
    contact, address = await contact_for(session, channel.workspace_id, sender, now)
    change_of = functools.partial(
        consent.ConsentChange,
        channel="whatsapp",
        source="platform",
        actor="contact",
        occurred_at=min(event.timestamp, now),
        address=address,
        evidence={"detail": event.detail, "value": event.value},
    )
    if event.value in ("stop", "resume"):
        # The WhatsApp "stop promotions" switch covers every marketing topic; resume undoes it.
        action = Action.REVOKE if event.value == "stop" else Action.RESTORE
        change = change_of(action=action, topic=ALL_MARKETING)
    else:
        change = change_of(
            action=Action.GRANT,
            topic="marketing",
            disclosure_text=SIGNUP_DISCLOSURE,
            disclosure_version="whatsapp-signup",
        )
    await consent.record(session, channel.workspace_id, contact.id, change, now)


def _number_quality(channel: ChannelAccount, event: ev.NumberQualityChange, now: datetime) -> None:
    if event.event == "FLAGGED":
        channel.quality = "red"
    elif event.event == "UNFLAGGED":
        channel.quality = "green"
    if event.current_limit == "TIER_UNLIMITED":
        channel.messaging_limit = None
    elif event.current_limit in TIERS:
        channel.messaging_limit = TIERS[event.current_limit]
    elif event.current_limit and event.current_limit.startswith("TIER_"):
        digits = event.current_limit[5:]
        if digits.isdigit():
            channel.messaging_limit = int(digits)
    channel.updated_at = now
