"""Keyword opt-in with double opt-in. "JOIN" (each page has its word, optionally followed by
a tracked link's ref: "JOIN poster2", as a wa.me link pre-fills it), or an m.me link's ref,
asks the question "Reply YES to confirm". YES in time writes the grant, with both messages
as evidence; anything else, or silence past the deadline, grants nothing.

The consent engine reads every message first, so STOP always wins; this only looks at what
it left alone. Like every opt-in, JOIN and YES count only as the whole message: "join us
tomorrow?" or "yes but how much?" are ordinary words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels.messages import Text
from threadline.channels.models import ChannelAccount
from threadline.consent import service as consent
from threadline.consent.keywords import KeywordKind, KeywordMatch, normalise
from threadline.consent.projection import status
from threadline.growth import pages, subscribe
from threadline.growth.links import MESSENGER_PAGE_REF
from threadline.growth.models import GrowthLink, OptInPage, PendingOptIn
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope
from threadline.messages import service as messages
from threadline.policy.types import ConsentStatus, Purpose
from threadline.workspaces.models import Workspace
from threadline.workspaces.service import settings_of
from threadline.workspaces.settings import WorkspaceSettings

PROMPT = "{business}: {disclosure} Reply YES within {hours} hours to confirm."
EXPIRED = "{business}: that sign-up request has expired. Send {keyword} to start again."


@dataclass(frozen=True)
class Inbound:
    """One message from a contact, as the keyword engine sees it."""

    workspace_id: str
    contact_id: str
    channel: str
    text: str
    message_id: str | None
    address: str | None
    occurred_at: datetime
    business: str
    referral_ref: str | None = None  # m.me ?ref= carried by the message or postback


async def apply_inbound_text(
    session: AsyncSession,
    workspace_id: str,
    contact_id: str,
    *,
    channel: str,
    text: str,
    message_id: str | None,
    address: str | None,
    occurred_at: datetime,
    now: datetime,
    settings: WorkspaceSettings,
    workspace_name: str,
    referral_ref: str | None = None,
) -> consent.KeywordOutcome:
    """The consent engine's reading of the message, then JOIN / YES when it saw nothing."""
    outcome = await consent.apply_inbound_text(
        session,
        workspace_id,
        contact_id,
        channel=channel,
        text=text,
        message_id=message_id,
        address=address,
        occurred_at=occurred_at,
        now=now,
        settings=settings,
        workspace_name=workspace_name,
    )
    message = Inbound(
        workspace_id,
        contact_id,
        channel,
        text,
        message_id,
        address,
        occurred_at,
        settings.business_name or workspace_name,
        referral_ref,
    )
    if outcome.match.kind in (KeywordKind.OPT_OUT, KeywordKind.OPT_OUT_ALL):
        await _close(session, await _open_question(session, message), "opted_out", now)
        return outcome
    if outcome.match.kind is not KeywordKind.NONE:
        return outcome
    return await answer(session, message, now) or outcome


async def answer(
    session: AsyncSession, message: Inbound, now: datetime
) -> consent.KeywordOutcome | None:
    """YES to an open question, or a JOIN that asks one; None when the message is neither
    (an open question is then closed: the person said something else)."""
    tokens = tuple(normalise(message.text).split())
    question = await _open_question(session, message)
    if question is not None and len(tokens) == 1 and tokens[0] in pages.YES_WORDS:
        return await _confirm(session, message, question, tokens[0], now)
    asked = await _join(session, message, tokens)
    if asked is None:
        await _close(session, question, "declined", now)
        return None
    page, link = asked
    await _close(session, question, "replaced", now)
    return await ask(session, message, page, link, now)


async def _join(
    session: AsyncSession, message: Inbound, tokens: tuple[str, ...]
) -> tuple[OptInPage, GrowthLink | None] | None:
    """The page (and tracked link) a JOIN message or an m.me ref names, exactly."""
    if message.referral_ref:
        found = await _by_ref(session, message.workspace_id, message.referral_ref)
        if found is not None:
            return found
    if not 1 <= len(tokens) <= 2:
        return None
    page = await pages.page_for_keyword(session, message.workspace_id, tokens[0])
    if page is None or len(tokens) == 1:
        return (page, None) if page is not None else None
    link = await pages.link_for_ref(session, message.workspace_id, tokens[1])
    return (page, link) if link is not None and link.page_id == page.id else None


async def _by_ref(
    session: AsyncSession, workspace_id: str, ref: str
) -> tuple[OptInPage, GrowthLink | None] | None:
    if ref.startswith(MESSENGER_PAGE_REF):
        topic = ref[len(MESSENGER_PAGE_REF) :]
        page = await session.scalar(
            Scope(session, workspace_id).select(OptInPage).where(OptInPage.topic == topic)
        )
        return (page, None) if page is not None else None
    link = await pages.link_for_ref(session, workspace_id, ref)
    if link is None:
        return None
    page = await pages.get_page(session, workspace_id, link.page_id)
    return page, link


async def ask(
    session: AsyncSession,
    message: Inbound,
    page: OptInPage,
    link: GrowthLink | None,
    now: datetime,
) -> consent.KeywordOutcome:
    """Open the question (or, for someone already subscribed, just say so)."""
    matched = KeywordMatch(KeywordKind.OPT_IN, page.keyword, None)
    lines = consent.lines_of(
        await consent.ledger(session, message.workspace_id, message.contact_id)
    )
    if status(lines, message.channel, page.topic, now) is ConsentStatus.GRANTED:
        reply = await _words(session, message, page)
        return consent.KeywordOutcome(match=matched, reply=reply, events=[])
    disclosure = await pages.disclosure(session, page)
    prompt = PROMPT.format(
        business=message.business, disclosure=disclosure, hours=page.confirm_within_hours
    )
    session.add(
        PendingOptIn(
            id=new_id("pop"),
            workspace_id=message.workspace_id,
            contact_id=message.contact_id,
            page_id=page.id,
            channel=message.channel,
            topic=page.topic,
            version=page.version,
            prompt_text=prompt,
            source=link.source if link is not None else "keyword",
            ref=link.ref if link is not None else None,
            address=message.address,
            request={"message_id": message.message_id, "text": message.text[:500]},
            asked_at=now,
            expires_at=now + timedelta(hours=page.confirm_within_hours),
        )
    )
    await session.flush()
    return consent.KeywordOutcome(match=matched, reply=prompt, events=[])


async def _words(session: AsyncSession, message: Inbound, page: OptInPage) -> str:
    name = await subscribe.topic_name(session, message.workspace_id, page.topic)
    return page.confirmation_text.format(business=message.business, topic=name)


async def _confirm(
    session: AsyncSession, message: Inbound, question: PendingOptIn, word: str, now: datetime
) -> consent.KeywordOutcome:
    matched = KeywordMatch(KeywordKind.OPT_IN, word, None)
    page = await pages.get_page(session, message.workspace_id, question.page_id)
    if question.expires_at <= now:
        await _close(session, question, "expired", now)
        reply = EXPIRED.format(business=message.business, keyword=page.keyword.upper())
        return consent.KeywordOutcome(match=matched, reply=reply, events=[])
    evidence: dict[str, Any] = {
        "request": question.request,
        "confirmation": {"message_id": message.message_id, "text": message.text[:500]},
        "asked_at": question.asked_at.isoformat(),
        "page_id": page.id,
        "ref": question.ref,
    }
    event = await subscribe.grant(
        session,
        message.workspace_id,
        message.contact_id,
        channel=message.channel,
        topic=question.topic,
        source=question.source,
        address=message.address or question.address,
        # The question is what the person read and said YES to: its words are the record.
        disclosure_text=question.prompt_text,
        disclosure_version=pages.disclosure_version(page, question.version),
        evidence=evidence,
        occurred_at=message.occurred_at,
        now=now,
    )
    await _close(session, question, "confirmed", now)
    reply = await _words(session, message, page)
    return consent.KeywordOutcome(match=matched, reply=reply, events=[event])


async def _open_question(session: AsyncSession, message: Inbound) -> PendingOptIn | None:
    return await session.scalar(
        Scope(session, message.workspace_id)
        .select(PendingOptIn)
        .where(
            PendingOptIn.contact_id == message.contact_id,
            PendingOptIn.channel == message.channel,
            PendingOptIn.resolved_at.is_(None),
        )
        .order_by(PendingOptIn.asked_at.desc(), PendingOptIn.id.desc())
        .limit(1)
    )


async def _close(
    session: AsyncSession, question: PendingOptIn | None, outcome: str, now: datetime
) -> None:
    if question is not None:
        question.resolved_at, question.outcome = now, outcome
        await session.flush()


async def referred(
    session: AsyncSession,
    channel: ChannelAccount,
    workspace: Workspace,
    contact_id: str,
    ref: str | None,
    occurred_at: datetime,
    now: datetime,
) -> None:
    """Someone opened the chat through an m.me link of ours without writing yet: ask the
    question straight away, as a reply to their arrival (the window it opened)."""
    if not ref or await _by_ref(session, workspace.id, ref) is None:
        return
    message = Inbound(
        workspace.id,
        contact_id,
        channel.kind,
        "",
        None,
        None,
        occurred_at,
        settings_of(workspace).business_name or workspace.name,
        ref,
    )
    outcome = await answer(session, message, now)
    if outcome is None or outcome.reply is None:
        return
    await messages.enqueue(
        session,
        workspace,
        messages.SendRequest(
            contact_id=contact_id,
            purpose=Purpose.SERVICE,
            channel_id=channel.id,
            content=Text(body=outcome.reply),
            idempotency_key=f"growth-referral:{channel.id}:{contact_id}:{occurred_at.isoformat()}",
        ),
        now,
    )
