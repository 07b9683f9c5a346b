"""What each stored platform event means for contacts, conversations, consent, messages,
templates and channels. Runs inside one transaction per event."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels import codec, registry
from threadline.channels import events as ev
from threadline.channels.kinds import Channel
from threadline.channels.messages import Text
from threadline.channels.models import ChannelAccount
from threadline.consent import service as consent
from threadline.consent.keywords import KeywordKind
from threadline.consent.keywords import classify as classify_keyword
from threadline.contacts.models import Contact
from threadline.conversations import service as conversations
from threadline.flows import runner as flow_runner
from threadline.inbox import account_events, comments, deliveries, subscriptions
from threadline.inbox.identities import contact_for
from threadline.inbox.models import InboxEvent
from threadline.messages import service as messages
from threadline.messages.models import Message
from threadline.policy.types import Purpose
from threadline.templates import service as templates
from threadline.workspaces.models import Workspace
from threadline.workspaces.service import settings_of

log = logging.getLogger("threadline.inbox")
# Taps on a flow's own buttons, list rows, quick replies and postbacks.
FLOW_TAP_KINDS = frozenset(
    {"interactive/button_reply", "interactive/list_reply", "quick_reply", "postback"}
)
KEYWORD_KINDS = frozenset({"text", "button", *FLOW_TAP_KINDS})
TEMPLATE_EVENTS = (ev.TemplateStatusChange, ev.TemplateCategoryChange, ev.TemplateQualityChange)


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
    if isinstance(event, ev.Referral):
        await _referral(session, channel, event, now)
    elif isinstance(event, ev.Comment):
        await comments.comment(session, channel, event, now)
    elif isinstance(event, ev.Echo):
        contact, _ = await _contact(session, channel, ev.Sender(address=event.recipient), now)
        await deliveries.echo(session, channel, event, contact.id, now)
    else:
        await _about_messages_or_account(session, channel, event, now)
    return Processed()


async def process_statuses(
    session: AsyncSession, channel: ChannelAccount, rows: Sequence[InboxEvent], now: datetime
) -> None:
    """Several status events of one channel at once; the same result as one by one."""
    updates = [codec.load(row.payload) for row in rows]
    assert all(isinstance(u, ev.StatusUpdate) for u in updates)
    await deliveries.statuses(session, channel, cast(list[ev.StatusUpdate], updates), now)


async def _about_messages_or_account(
    session: AsyncSession, channel: ChannelAccount, event: ev.ChannelEvent, now: datetime
) -> None:
    if isinstance(event, ev.StatusUpdate):
        await deliveries.status(session, channel, event, now)
    elif isinstance(event, ev.StatusWatermark):
        await deliveries.watermark(session, channel, event, now)
    elif isinstance(event, ev.MessageDeleted):
        await deliveries.unsent(session, channel, event, now)
    elif isinstance(event, ev.MarketingPreference):
        await subscriptions.marketing_preference(session, channel, event, now)
    elif isinstance(event, ev.SubscriptionChange):
        await subscriptions.subscription(session, channel, event, now)
    elif isinstance(event, TEMPLATE_EVENTS):
        await templates.apply_event(session, channel.workspace_id, event, now)
    elif isinstance(event, ev.NumberQualityChange):
        account_events.number_quality(channel, event, now)
    elif isinstance(event, ev.PlatformErrors):
        account_events.platform_errors(channel, event, now)
    elif isinstance(event, ev.PolicyEnforcement):
        account_events.policy_enforcement(channel, event, now)
    elif isinstance(event, ev.ThreadControl | ev.PluginOptIn):
        # Kept in the inbox for the record; routing between apps is the platform's.
        log.info("%s on %s: %s", type(event).__name__, channel.address, event)


async def _contact(
    session: AsyncSession, channel: ChannelAccount, sender: ev.Sender, now: datetime
) -> tuple[Contact, str]:
    scheme = registry.declaration(channel.kind).urn_scheme
    return await contact_for(session, channel.workspace_id, scheme, sender, now)


def _ad_referral(referral: dict[str, Any] | None) -> dict[str, Any] | None:
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


async def _referral(
    session: AsyncSession, channel: ChannelAccount, event: ev.Referral, now: datetime
) -> None:
    """Opening the thread from a link or an ad is the person's action: it opens the window
    (and an ad, the longer ad window) before they have typed anything."""
    contact, _ = await _contact(session, channel, event.sender, now)
    await conversations.record_inbound(
        session,
        channel.workspace_id,
        contact.id,
        Channel(channel.kind),
        platform_timestamp=min(event.timestamp, now),
        now=now,
        referral=_ad_referral(
            {"source": event.source, "ref": event.ref, "ad_id": event.ad_id, **event.raw}
        ),
    )


async def _inbound(
    session: AsyncSession,
    channel: ChannelAccount,
    workspace: Workspace,
    event: ev.InboundMessage,
    now: datetime,
) -> Processed:
    contact, address = await _contact(session, channel, event.sender, now)
    stored = await messages.record_inbound(session, channel, contact.id, address, event, now)
    if stored is None:
        return Processed()
    await conversations.record_inbound(
        session,
        workspace.id,
        contact.id,
        Channel(channel.kind),
        platform_timestamp=min(event.timestamp, now),
        now=now,
        referral=_ad_referral(event.referral),
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
            channel=channel.kind,
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
