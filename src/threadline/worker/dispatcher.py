"""Drains the outbox of each channel it holds a lease on.

Per batch: (1) one transaction claims due messages (the oldest per contact), re-checks the
policy for all of them and marks the allowed ones `sending`; (2) the HTTP calls run with no
transaction open, paced by the number's token bucket and the per-recipient pair limit;
(3) one transaction records every outcome. Our message id travels as
`biz_opaque_callback_data`, so a send whose answer was lost is matched by its status webhook
instead of being sent twice."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import ColumnElement, exists, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from threadline.channels import messages as content_types
from threadline.channels import registry
from threadline.channels.adapter import Client, Envelope, RenderError
from threadline.channels.errors import ErrorClass
from threadline.channels.http import http_session
from threadline.channels.kinds import Channel
from threadline.channels.models import ChannelAccount
from threadline.channels.outcome import SendOutcome
from threadline.channels.rules import Basis
from threadline.channels.service import access_of
from threadline.conversations.models import Conversation
from threadline.kit.clock import Clock
from threadline.kit.crypto import SecretBox
from threadline.kit.db import transaction as transaction_for
from threadline.kit.scoped import Scope
from threadline.messages import service as messages
from threadline.messages import states
from threadline.messages.failures import apply_failure_effects
from threadline.messages.models import Message, MessageStatus
from threadline.messages.states import HistoryMark, MessageState
from threadline.policy import pressure
from threadline.policy.models import PressureEvent
from threadline.policy.service import decide_many, stored_urn
from threadline.policy.types import Purpose, TemplateFacts
from threadline.templates import service as templates
from threadline.worker import leases
from threadline.worker.ratelimit import PairLimiter, TokenBucket
from threadline.workspaces.models import Workspace

log = logging.getLogger("threadline.dispatcher")


@dataclass(frozen=True)
class DispatchConfig:
    batch_size: int = 500
    concurrency: int = 32
    lease: timedelta = timedelta(seconds=30)
    # How long an unanswered send waits for its status webhook before it is sent again.
    reconcile_grace: timedelta = timedelta(seconds=20)
    max_attempts: int = 8
    http_timeout: float = 10.0
    retry_base: float = 2.0  # seconds; doubles per attempt, capped at 10 minutes
    throttle_wait: float = 1.0
    pair_wait: float = 6.0
    max_batches: int = 4  # per dispatch_channel call, so ingest gets its turn


@dataclass
class _Job:
    message_id: str
    recipient: str
    body: dict[str, Any]
    business_initiated: bool
    outcome: SendOutcome | None = None
    postponed_for: float | None = None


@dataclass
class _ChannelRuntime:
    client: Client
    bucket: TokenBucket
    # None: the type meters no pair of business and person.
    pairs: PairLimiter | None = field(default_factory=PairLimiter)


CLAIMABLE = (MessageState.QUEUED, MessageState.DEFERRED)


@dataclass
class _Lines:
    history: list[dict[str, Any]] = field(default_factory=list)
    sends: list[dict[str, Any]] = field(default_factory=list)


class Dispatcher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        box: SecretBox,
        clock: Clock,
        *,
        holder: str,
        http: aiohttp.ClientSession | None = None,
        config: DispatchConfig | None = None,
    ) -> None:
        self.sessions = sessions
        self.box = box
        self.clock = clock
        self.holder = holder
        self.config = config or DispatchConfig()
        self._http = http

        self._runtimes: dict[str, _ChannelRuntime] = {}
        self._held: set[str] = set()
        self._lease_until: dict[str, datetime] = {}

    @property
    def http(self) -> aiohttp.ClientSession:
        # Created lazily: an aiohttp session belongs to the event loop it was made in.
        if self._http is None:
            self._http = http_session(self.config.http_timeout, self.config.concurrency)
        return self._http

    async def aclose(self) -> None:
        """Stop cleanly: hand the channels back at once instead of letting leases expire."""
        if self._http is not None:
            await self._http.close()
        async with transaction_for(self.sessions) as session:
            for channel_id in self._held:
                await leases.release(session, channel_id, self.holder)

    def _runtime(self, channel: ChannelAccount) -> _ChannelRuntime:
        runtime = self._runtimes.get(channel.id)
        if runtime is None or runtime.bucket.nominal != channel.throughput_mps:
            adapter = registry.adapter(channel.kind)
            access = access_of(self.box, channel)
            interval = adapter.type.pair_interval_seconds
            runtime = _ChannelRuntime(
                adapter.client(self.http, access),
                TokenBucket(channel.throughput_mps),
                PairLimiter(interval=interval) if interval else None,
            )
            self._runtimes[channel.id] = runtime
        return runtime

    async def dispatch_channel(self, channel_id: str) -> int:
        """Up to `max_batches` batches for one channel, pipelined: while one batch is on the
        wire, the next is claimed and the previous one recorded. Returns sends attempted."""
        claimed = await self._claim(channel_id)
        if claimed is None or not claimed[1]:
            return 0
        channel, jobs = claimed
        runtime = self._runtime(channel)
        attempted = 0
        recording: asyncio.Task[None] | None = None
        for batch in range(self.config.max_batches):
            sending = asyncio.create_task(self._send(runtime, jobs))
            more = self.config.max_batches - batch > 1
            next_claim = asyncio.create_task(self._claim(channel_id)) if more else None
            await sending
            if recording is not None:
                await recording
            recording = asyncio.create_task(self._record(channel_id, jobs))
            attempted += sum(1 for job in jobs if job.outcome is not None)
            following = await next_claim if next_claim is not None else None
            if following is None or not following[1]:
                break
            jobs = following[1]
        if recording is not None:
            await recording
        return attempted

    async def _send(self, runtime: _ChannelRuntime, jobs: list[_Job]) -> None:
        semaphore = asyncio.Semaphore(self.config.concurrency)

        async def run(job: _Job) -> None:
            wait = runtime.pairs.wait_for(job.recipient) if runtime.pairs else 0.0
            if wait > 0:
                job.postponed_for = wait
                return
            async with semaphore:
                await runtime.bucket.acquire()
                job.outcome = await runtime.client.send(job.body)
                if job.outcome.error_class is ErrorClass.THROTTLE:
                    runtime.bucket.slow_down()
                elif job.outcome.error_class is ErrorClass.PAIR_LIMIT and runtime.pairs:
                    runtime.pairs.penalise(job.recipient)

        await asyncio.gather(*(run(job) for job in jobs))

    async def _hold(self, channel_id: str, now: datetime) -> bool:
        """Hold the channel's lease, renewing it in its own short transaction once half of
        it has run out (a long claim transaction would keep SQLite's write lock)."""
        if self._lease_until.get(channel_id, now) - now > self.config.lease / 2:
            return True
        async with transaction_for(self.sessions) as session:
            channel = await session.get(ChannelAccount, channel_id)
            if channel is None or not await leases.acquire(
                session, channel, self.holder, now, self.config.lease
            ):
                self._lease_until.pop(channel_id, None)
                return False
        self._held.add(channel_id)
        self._lease_until[channel_id] = now + self.config.lease
        return True

    async def _claim(self, channel_id: str) -> tuple[ChannelAccount, list[_Job]] | None:
        now = self.clock.now()
        if not await self._hold(channel_id, now):
            return None
        async with transaction_for(self.sessions) as session:
            channel = await session.get(ChannelAccount, channel_id)
            if channel is None:
                return None
            workspace = await session.get(Workspace, channel.workspace_id)
            assert workspace is not None
            due = await self._due(session, channel, now)
            jobs = await self._recheck(session, workspace, channel, due, now)
            session.expunge(channel)
            return channel, jobs

    async def _due(
        self, session: AsyncSession, channel: ChannelAccount, now: datetime
    ) -> list[Message]:
        stmt = (
            select(Message)
            .where(
                Message.channel_id == channel.id,
                Message.direction == "out",
                or_(
                    Message.status.in_(CLAIMABLE) & (Message.next_attempt_at <= now),
                    (Message.status == MessageState.SENDING) & (Message.claimed_until < now),
                ),
                ~self._blocked_by_earlier(now),
            )
            .order_by(Message.created_at, Message.id)
            .limit(self.config.batch_size + 50)
        )
        if session.bind is not None and session.bind.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        oldest_per_contact: dict[str, Message] = {}
        for message in await session.scalars(stmt):
            oldest_per_contact.setdefault(message.contact_id, message)
            if len(oldest_per_contact) >= self.config.batch_size:
                break
        return list(oldest_per_contact.values())

    @staticmethod
    def _blocked_by_earlier(now: datetime) -> ColumnElement[bool]:
        """One contact's messages leave in order: not while another of theirs is on the wire
        (or its outcome unknown), nor while an older one waits to be retried. Messages the
        policy deferred (quiet hours) do not hold back the rest."""
        other = aliased(Message)
        return exists().where(
            other.channel_id == Message.channel_id,
            other.contact_id == Message.contact_id,
            other.direction == "out",
            other.id != Message.id,
            or_(
                (other.status == MessageState.SENDING) & (other.claimed_until >= now),
                (other.status == MessageState.QUEUED)
                & (other.created_at < Message.created_at)
                & (other.next_attempt_at > now),
            ),
        )

    async def _recheck(
        self,
        session: AsyncSession,
        workspace: Workspace,
        channel: ChannelAccount,
        due: list[Message],
        now: datetime,
    ) -> list[_Job]:
        """Policy again at send time: consent may have been revoked, a window closed or a
        template paused while the message waited."""
        to_decide: list[Message] = []
        for message in due:
            if message.status == MessageState.SENDING and message.provider_id is not None:
                # The status webhook already told us the platform has it.
                message.status = MessageState.ACCEPTED
                await messages.add_history(
                    session,
                    message,
                    MessageState.ACCEPTED,
                    now,
                    detail="reconciled from status webhook",
                    flush=False,
                )
                continue
            to_decide.append(message)
        decided = await self._decide(session, workspace, channel, to_decide, now)
        tokens = await self._subscription_tokens(session, channel, decided)
        adapter = registry.adapter(channel.kind)
        jobs: list[_Job] = []
        for message, basis, business_initiated in decided:
            envelope = Envelope(
                to=stored_urn(message.address).path,
                basis=basis,
                purpose=message.purpose or "service",
                reply_to=message.reply_to,
                callback_data=message.id,
                subscription_token=tokens.get(message.contact_id),
            )
            try:
                content = content_types.CONTENT_ADAPTER.validate_python(message.content)
                body = adapter.render(content, envelope)
            except (RenderError, ValueError) as exc:
                message.status = MessageState.FAILED
                message.error_detail = f"cannot render: {exc}"
                await messages.add_history(
                    session, message, MessageState.FAILED, now, detail=str(exc), flush=False
                )
                continue
            message.status = MessageState.SENDING
            message.attempts += 1
            message.claimed_until = now + self.config.lease
            message.updated_at = now
            jobs.append(_Job(message.id, envelope.to, body, business_initiated))
        return jobs

    async def _decide(
        self,
        session: AsyncSession,
        workspace: Workspace,
        channel: ChannelAccount,
        to_decide: list[Message],
        now: datetime,
    ) -> list[tuple[Message, Basis, bool]]:
        """The messages the policy still allows, with why each may go and whether it opens
        business-initiated outreach; the others get the policy's verdict written on them."""
        questions = []
        # Template state is read once per template per batch (it may have been paused).
        facts_by_template: dict[tuple[str, str], TemplateFacts | None] = {}
        for message in to_decide:
            facts = None
            if message.kind == "template":
                key = (message.content["name"], message.content.get("language", "en_US"))
                if key not in facts_by_template:
                    found = await templates.find(session, workspace.id, channel.account_id, *key)
                    facts_by_template[key] = templates.facts(found) if found else None
                facts = facts_by_template[key]
            questions.append(messages.question_for(message, channel, facts))
        verdicts = iter(
            await decide_many(
                session,
                workspace,
                [q for q, m in zip(questions, to_decide, strict=True) if m.kind != "mark_read"],
                now,
            )
        )
        allowed: list[tuple[Message, Basis, bool]] = []
        for message in to_decide:
            if message.kind == "mark_read":
                allowed.append((message, Basis.SERVICE_WINDOW, False))
                continue
            decision, ctx = next(verdicts)
            if not decision.allowed:
                messages.apply_decision(message, decision, now)
                await messages.add_history(
                    session, message, message.status, now, detail=decision.detail, flush=False
                )
                continue
            free = ctx.window.any_free_window_open(ctx.now)
            allowed.append((message, decision.basis or Basis.SERVICE_WINDOW, not free))
        return allowed

    @staticmethod
    async def _subscription_tokens(
        session: AsyncSession, channel: ChannelAccount, decided: list[tuple[Message, Basis, bool]]
    ) -> dict[str, str]:
        """Contact id → subscription token, for the sends that go on a subscription."""
        contacts = [m.contact_id for m, basis, _ in decided if basis is Basis.SUBSCRIPTION]
        if not contacts:
            return {}
        scope = Scope(session, channel.workspace_id)
        rows = await session.execute(
            scope.columns(
                Conversation, Conversation.contact_id, Conversation.subscription_token
            ).where(
                Conversation.channel == channel.kind,
                Conversation.contact_id.in_(contacts),
            )
        )
        return {contact: token for contact, token in rows.all() if token}

    async def _record(self, channel_id: str, jobs: list[_Job]) -> None:
        now = self.clock.now()
        async with transaction_for(self.sessions) as session:
            channel = await session.get(ChannelAccount, channel_id)
            assert channel is not None
            lines = _Lines()
            rows = {
                m.id: m
                for m in await session.scalars(
                    select(Message).where(Message.id.in_([j.message_id for j in jobs]))
                )
            }
            for job in jobs:
                message = rows.get(job.message_id)
                if message is None:
                    continue
                if job.postponed_for is not None:
                    message.status = MessageState.QUEUED
                    message.attempts = max(0, message.attempts - 1)
                    message.next_attempt_at = now + timedelta(seconds=job.postponed_for)
                    message.claimed_until = None
                    continue
                assert job.outcome is not None
                await self._apply_outcome(session, channel, message, job, job.outcome, now, lines)
            # Many history and pressure lines: one multi-row insert each, not an ORM flush.
            if lines.history:
                await session.execute(insert(MessageStatus), lines.history)
            if lines.sends:
                await session.execute(insert(PressureEvent), lines.sends)

    async def _apply_outcome(
        self,
        session: AsyncSession,
        channel: ChannelAccount,
        message: Message,
        job: _Job,
        outcome: SendOutcome,
        now: datetime,
        lines: _Lines,
    ) -> None:
        if outcome.ok:
            self._accepted(channel, message, job, outcome, now, lines)
        elif outcome.outcome_unknown:
            self._reconciling(message, now, lines)
        else:
            await self._rejected(session, channel, message, outcome, now, lines)

    @staticmethod
    def _accepted(
        channel: ChannelAccount,
        message: Message,
        job: _Job,
        outcome: SendOutcome,
        now: datetime,
        lines: _Lines,
    ) -> None:
        """The platform took the send: its id, and the send counted against the pressure."""
        if message.provider_id is None:
            message.provider_id = outcome.provider_id
        message.claimed_until = None
        after = states.moved(message.status, MessageState.ACCEPTED)
        if after is not None:
            message.status = after
        lines.history.append(
            messages.history_row(message, MessageState.ACCEPTED, now, detail=outcome.message_status)
        )
        if message.kind != "mark_read":
            lines.sends.append(_pressure_row(channel, message, job, now))

    def _reconciling(self, message: Message, now: datetime, lines: _Lines) -> None:
        """Maybe sent: wait for a status webhook carrying our id before sending again."""
        message.claimed_until = now + self.config.reconcile_grace
        lines.history.append(
            messages.history_row(
                message,
                MessageState.SENDING,
                now,
                detail="no answer from the platform; reconciling",
            )
        )

    async def _rejected(
        self,
        session: AsyncSession,
        channel: ChannelAccount,
        message: Message,
        outcome: SendOutcome,
        now: datetime,
        lines: _Lines,
    ) -> None:
        """The platform rejected the send: queued again if the error passes and attempts remain,
        else failed, with what the failure means for the contact."""
        error = outcome.error
        assert error is not None and outcome.error_class is not None
        message.error_code, message.error_class = error.code, outcome.error_class.value
        message.error_detail = error.title
        message.claimed_until = None
        retry_in = self._retry_delay(outcome.error_class, message.attempts)
        if retry_in is not None and message.attempts < self.config.max_attempts:
            message.status = MessageState.QUEUED
            message.next_attempt_at = now + retry_in
            lines.history.append(
                messages.history_row(
                    message, HistoryMark.RETRYING, now, error_code=error.code, detail=error.title
                )
            )
            return
        message.status = MessageState.FAILED
        lines.history.append(
            messages.history_row(
                message, MessageState.FAILED, now, error_code=error.code, detail=error.title
            )
        )
        await apply_failure_effects(
            session, message, Channel(channel.kind), outcome.error_class, error.code, now, now
        )

    @staticmethod
    def _retry_delay(error_class: ErrorClass, attempts: int) -> timedelta | None:
        if error_class is ErrorClass.THROTTLE:
            return timedelta(seconds=1)
        if error_class is ErrorClass.PAIR_LIMIT:
            return timedelta(seconds=6)
        if error_class is ErrorClass.SPAM_LIMIT:
            return timedelta(minutes=5)
        if error_class is ErrorClass.RETRY:
            base = min(600.0, 2.0**attempts)
            return timedelta(seconds=base * random.uniform(0.5, 1.0))
        return None

    async def dispatch_all(self) -> int:
        async with self.sessions() as session:
            ids = list(await session.scalars(select(ChannelAccount.id)))
        total = 0
        for channel_id in ids:
            total += await self.dispatch_channel(channel_id)
        return total


def _pressure_row(
    channel: ChannelAccount, message: Message, job: _Job, now: datetime
) -> dict[str, Any]:
    """The send, as a line of the contact's messaging pressure."""
    return pressure.send_row(
        message.workspace_id,
        message.contact_id,
        channel=Channel(channel.kind),
        purpose=Purpose(message.purpose or "service"),
        sent_at=now,
        business_initiated=job.business_initiated,
        topic=message.topic,
        sender=channel.address,
        campaign_id=message.campaign_id,
        cost=message.cost_estimate,
    )
