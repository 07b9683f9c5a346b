"""The comments that sends answer in private (Instagram private replies), loaded for a batch
of questions in two queries: when each was made and whether its one private reply is taken.

A send answers a comment when its `reply_to` is the id of a comment stored in the contact's
thread (an inbound message of kind `comment`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels.events import COMMENT_MESSAGE_KIND
from threadline.kit.scoped import Scope
from threadline.messages.models import Message
from threadline.messages.states import MessageState
from threadline.policy.types import CommentFacts

# A private reply that never reached the platform leaves the comment's one reply unused.
_UNUSED = (MessageState.REFUSED.value, MessageState.FAILED.value)


@dataclass(frozen=True, slots=True)
class StoredComment:
    commented_at: datetime
    replies: frozenset[str]  # outbound messages answering it that may reach the platform


class Answering(Protocol):
    @property
    def contact_id(self) -> str: ...
    @property
    def reply_to(self) -> str | None: ...
    @property
    def message_id(self) -> str | None: ...


async def load_comments(
    session: AsyncSession, workspace_id: str, questions: Sequence[Answering]
) -> dict[tuple[str, str], StoredComment]:
    """(contact id, comment id) → the comment, for every question whose reply_to is one."""
    wanted = {q.reply_to for q in questions if q.reply_to}
    if not wanted:
        return {}
    contacts = {q.contact_id for q in questions if q.reply_to}
    scope = Scope(session, workspace_id)
    made = (
        await session.execute(
            scope.columns(
                Message, Message.contact_id, Message.provider_id, Message.platform_timestamp
            ).where(
                Message.contact_id.in_(contacts),
                Message.kind == COMMENT_MESSAGE_KIND,
                Message.provider_id.in_(wanted),
            )
        )
    ).all()
    if not made:
        return {}
    replies: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for contact_id, comment_id, message_id in (
        await session.execute(
            scope.columns(Message, Message.contact_id, Message.reply_to, Message.id).where(
                Message.contact_id.in_(contacts),
                Message.direction == "out",
                Message.reply_to.in_({row.provider_id for row in made}),
                Message.status.not_in(_UNUSED),
            )
        )
    ).all():
        replies[(contact_id, str(comment_id))].add(message_id)
    return {
        (contact_id, comment_id): StoredComment(at, frozenset(replies[(contact_id, comment_id)]))
        for contact_id, comment_id, at in made
        if at is not None and comment_id is not None
    }


def facts_for(
    comments: dict[tuple[str, str], StoredComment], question: Answering
) -> CommentFacts | None:
    """The comment this question answers; a send's own row does not count as the reply
    already taken (the dispatcher re-asks about messages that are queued)."""
    if not question.reply_to:
        return None
    found = comments.get((question.contact_id, question.reply_to))
    if found is None:
        return None
    others = found.replies - {question.message_id}
    return CommentFacts(question.reply_to, found.commented_at, answered=bool(others))
