"""What each stored platform event means for contacts, conversations, consent, messages,
templates and channels. The worker hands over a round's inbound messages and status events
of a channel together, and the rest one at a time."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels import codec, registry
from threadline.channels import events as ev
from threadline.channels.kinds import Channel
from threadline.channels.models import ChannelAccount
from threadline.contacts.models import Contact
from threadline.conversations import service as conversations
from threadline.growth import double_optin
from threadline.inbox import account_events, comments, deliveries, inbound, subscriptions
from threadline.inbox.identities import contact_for
from threadline.inbox.inbound import Processed
from threadline.inbox.models import InboxEvent
from threadline.templates import service as templates
from threadline.workspaces.models import Workspace

log = logging.getLogger("threadline.inbox")
TEMPLATE_EVENTS = (ev.TemplateStatusChange, ev.TemplateCategoryChange, ev.TemplateQualityChange)


async def process(
    session: AsyncSession,
    row: InboxEvent,
    channel: ChannelAccount,
    workspace: Workspace,
    now: datetime,
) -> Processed:
    event = codec.load(row.payload)
    if isinstance(event, ev.InboundMessage):
        return (await inbound.received(session, channel, workspace, [event], now))[0]
    if isinstance(event, ev.Referral):
        await _referral(session, channel, workspace, event, now)
    elif isinstance(event, ev.Comment):
        await comments.comment(session, channel, event, now)
    elif isinstance(event, ev.Echo):
        contact, _ = await _contact(session, channel, ev.Sender(address=event.recipient), now)
        await deliveries.echo(session, channel, event, contact.id, now)
    else:
        await _about_messages_or_account(session, channel, event, now)
    return Processed()


async def process_messages(
    session: AsyncSession,
    channel: ChannelAccount,
    workspace: Workspace,
    rows: Sequence[InboxEvent],
    now: datetime,
) -> None:
    """Several inbound-message events of one channel at once; the same result as one by one."""
    received = [codec.load(row.payload) for row in rows]
    assert all(isinstance(e, ev.InboundMessage) for e in received)
    await inbound.received(
        session, channel, workspace, cast(list[ev.InboundMessage], received), now
    )


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
    elif isinstance(event, ev.Suppression):
        await subscriptions.suppressed(session, channel, event, now)
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


async def _referral(
    session: AsyncSession,
    channel: ChannelAccount,
    workspace: Workspace,
    event: ev.Referral,
    now: datetime,
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
        referral=inbound.ad_referral(
            {"source": event.source, "ref": event.ref, "ad_id": event.ad_id, **event.raw}
        ),
    )
    # An m.me link of a sign-up page: ask the double opt-in question at once.
    await double_optin.referred(
        session, channel, workspace, contact.id, event.ref, min(event.timestamp, now), now
    )
