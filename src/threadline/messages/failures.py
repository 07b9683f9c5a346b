"""What a platform's refusal of a message means for the rest of the model, on every channel.

The dispatcher (a send refused at once) and the inbox (a `failed` status later) both come
here, so the two never disagree about what a closed window or an opt-out changes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels.errors import ErrorClass
from threadline.channels.kinds import Channel
from threadline.consent import service as consent
from threadline.consent.projection import ALL_MARKETING, Action
from threadline.conversations import service as conversations
from threadline.messages import fallback
from threadline.messages.models import Message


async def apply_failure_effects(
    session: AsyncSession,
    message: Message,
    kind: Channel,
    error_class: ErrorClass,
    error_code: int,
    at: datetime,
    now: datetime,
) -> None:
    """The platform knows better than our model: align it so the next decision is right."""
    at = min(at, now)
    await fallback.failed(session, message, error_class, at)
    if error_class is ErrorClass.WINDOW_CLOSED:
        await conversations.mark_window_closed(
            session, message.workspace_id, message.contact_id, kind, at
        )
    elif error_class is ErrorClass.OPTED_OUT:
        change = consent.ConsentChange(
            action=Action.REVOKE,
            channel=kind.value,
            topic=ALL_MARKETING,
            source="platform",
            actor=kind.value,
            occurred_at=at,
            address=message.address,
            evidence={"message_id": message.provider_id, "error": error_code},
        )
        await consent.record(session, message.workspace_id, message.contact_id, change, now)
