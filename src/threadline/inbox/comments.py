"""A person's public comment on one of the account's posts (Instagram): kept in the contact's
thread as an inbound message of kind `comment`, so an agent sees it and can answer it in
private by replying to it (`reply_to` = the comment's id; see policy's private replies).

A comment is not a conversation: it opens no window, and its words are not read as opt-in
or opt-out keywords or flow triggers (a public "STOP" under a post is not a request to us)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels import events as ev
from threadline.channels import registry
from threadline.channels.models import ChannelAccount
from threadline.inbox.identities import contact_for
from threadline.messages import service as messages
from threadline.messages.models import Message


async def comment(
    session: AsyncSession, channel: ChannelAccount, event: ev.Comment, now: datetime
) -> Message | None:
    """Store the comment once (by its id) in its author's thread; None if seen before."""
    sender = event.sender
    if not sender.name and sender.username:
        sender = dataclasses.replace(sender, name=f"@{sender.username}")
    scheme = registry.declaration(channel.kind).urn_scheme
    contact, address = await contact_for(session, channel.workspace_id, scheme, sender, now)
    as_message = ev.InboundMessage(
        account=event.account,
        external_id=event.comment_id,
        sender=sender,
        timestamp=event.timestamp,
        kind=ev.COMMENT_MESSAGE_KIND,
        text=event.text,
        payload=event.media_id,
        reply_to=event.parent_id,
        raw=event.raw,
    )
    return await messages.record_inbound(session, channel, contact.id, address, as_message, now)
