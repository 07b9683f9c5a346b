"""A person's own switches on the platform: WhatsApp's marketing preference (stop / resume
/ sign-up), Messenger's Marketing Messages opt-in, whose token is the consent evidence and
the key that lets marketing go outside the window, and the suppressions platforms report
(bounces, complaints, one-click unsubscribes, closed chats, a provider's STOP block)."""

from __future__ import annotations

import functools
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels import events as ev
from threadline.channels import registry
from threadline.channels.kinds import Channel
from threadline.channels.models import ChannelAccount
from threadline.consent import service as consent
from threadline.consent.projection import ALL_MARKETING, ANY, Action
from threadline.conversations import service as conversations
from threadline.inbox.identities import contact_for


async def marketing_preference(
    session: AsyncSession, channel: ChannelAccount, event: ev.MarketingPreference, now: datetime
) -> None:
    declared = registry.declaration(channel.kind)
    sender = ev.Sender(
        address=event.address,
        phone_id=event.address if event.address.isdigit() else None,
        user_id=None if event.address.isdigit() else event.address,
    )
    contact, address = await contact_for(
        session, channel.workspace_id, declared.urn_scheme, sender, now
    )
    change_of = functools.partial(
        consent.ConsentChange,
        channel=channel.kind,
        source="platform",
        actor="contact",
        occurred_at=min(event.timestamp, now),
        address=address,
        evidence={"detail": event.detail, "value": event.value},
    )
    if event.value in ("stop", "resume"):
        # The platform's "stop promotions" switch covers every marketing topic; resume undoes it.
        action = Action.REVOKE if event.value == "stop" else Action.RESTORE
        change = change_of(action=action, topic=ALL_MARKETING)
    else:
        change = change_of(
            action=Action.GRANT,
            topic="marketing",
            disclosure_text=f"Opted in to marketing messages through {declared.title}'s own "
            "sign-up prompt",
            disclosure_version=f"{channel.kind}-signup",
        )
    await consent.record(session, channel.workspace_id, contact.id, change, now)


async def subscription(
    session: AsyncSession, channel: ChannelAccount, event: ev.SubscriptionChange, now: datetime
) -> None:
    declared = registry.declaration(channel.kind)
    contact, address = await contact_for(
        session, channel.workspace_id, declared.urn_scheme, event.sender, now
    )
    at = min(event.timestamp, now)
    live = event.status in ("granted", "resumed") and event.token is not None
    await conversations.set_subscription(
        session,
        channel.workspace_id,
        contact.id,
        Channel(channel.kind),
        token=event.token if live else None,
        expires_at=event.expires_at if live else None,
        at=at,
    )
    change = consent.ConsentChange(
        action=Action.GRANT if live else Action.REVOKE,
        channel=channel.kind,
        topic="marketing",
        source="platform",
        actor="contact",
        occurred_at=at,
        address=address,
        disclosure_text=f"Subscribed to '{event.topic}' ({event.frequency}) on {declared.title}"
        if live
        else None,
        disclosure_version=f"{channel.kind}-marketing-messages" if live else None,
        evidence={"status": event.status, "topic": event.topic, "payload": event.payload},
    )
    await consent.record(session, channel.workspace_id, contact.id, change, now)


# A list unsubscribe leaves the person's service messages (order updates) alone; a bounce,
# a spam complaint, a closed chat or a provider's block means nothing reaches them there.
_MARKETING_ONLY = frozenset({ev.SuppressionReason.UNSUBSCRIBE})


async def suppressed(
    session: AsyncSession, channel: ChannelAccount, event: ev.Suppression, now: datetime
) -> None:
    """Write the suppression as a revocation on the type's channel: the ledger line is the
    suppression record, kept through erasure, with what the platform said as evidence."""
    declared = registry.declaration(channel.kind)
    contact, address = await contact_for(
        session, channel.workspace_id, declared.urn_scheme, ev.Sender(address=event.address), now
    )
    change = consent.ConsentChange(
        action=Action.REVOKE,
        channel=channel.kind,
        topic=ALL_MARKETING if event.reason in _MARKETING_ONLY else ANY,
        source="platform",
        actor="platform" if event.reason == ev.SuppressionReason.HARD_BOUNCE else "contact",
        occurred_at=min(event.timestamp, now),
        address=address,
        evidence={"reason": event.reason, "detail": event.detail, "reference": event.reference},
    )
    await consent.record(session, channel.workspace_id, contact.id, change, now)
    if event.reason == ev.SuppressionReason.CLOSED:
        # The conversation itself is over: not even a service answer goes until they write.
        await conversations.mark_window_closed(
            session, channel.workspace_id, contact.id, Channel(channel.kind), change.occurred_at
        )
