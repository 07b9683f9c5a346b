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
from typing import Any, NamedTuple, cast

import aiohttp
from sqlalchemy import Select, Table, bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from threadline.channels import messages as content_types
from threadline.channels import registry
from threadline.channels.adapter import AccountAccess, Client, Envelope, RenderError
from threadline.channels.errors import ErrorClass
from threadline.channels.http import http_session
from threadline.channels.kinds import Channel
from threadline.channels.models import ChannelAccount
from threadline.channels.outcome import SendOutcome
from threadline.channels.rules import Basis
from threadline.channels.service import access_of
from threadline.consent import service as consent
from threadline.conversations.models import Conversation
from threadline.kit.clock import Clock
from threadline.kit.crypto import SecretBox
from threadline.kit.db import transaction as transaction_for
from threadline.kit.scoped import Scope
from threadline.messages import fallback, states
from threadline.messages import service as messages
from threadline.messages.failures import apply_failure_effects
from threadline.messages.models import Message
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
    max_batches: int = 4  # batches' worth per dispatch_channel call, so ingest gets its turn
    # Channels dispatched at once; each holds up to two database sessions (claim and record).
    parallel_channels: int = 4


@dataclass
class _Job:
    # The row as claimed, detached: only what does not change after queueing is read from it
    # (ids, contact, purpose, topic, campaign, cost); the record reads the rest afresh.
    message: Message
    recipient: str
    body: dict[str, Any]
    business_initiated: bool
    outcome: SendOutcome | None = None
    postponed_for: float | None = None
    ledger: int = 0  # the contact's consent-ledger length when the policy allowed this send

    @property
    def message_id(self) -> str:
        return self.message.id


@dataclass
class _ChannelRuntime:
    """What a channel's sends share from one call to the next: its limits' state."""

    client: Client
    access: AccountAccess
    bucket: TokenBucket
    # None: the type meters no pair of business and person.
    pairs: PairLimiter | None = field(default_factory=PairLimiter)


CLAIMABLE = (MessageState.QUEUED, MessageState.DEFERRED)
# A claim reads due messages a page at a time: the batch plus some slack, since a contact's
# later messages and held-back contacts are skipped; a few pages at most.
PAGE_SLACK = 50
CLAIM_PAGES = 4
# The first claim of a dispatch_channel call is this share of a batch (see there).
# Sends start in slices of this many, each after a fresh look at its contacts' consent: at
# 1,000 msg/s a STOP is seen within about a tenth of a second of being processed.
CONSENT_CHECK_EVERY = 100
FIRST_CLAIM_SHARE = 8


@dataclass
class _HeldBack:
    """What holds a contact's messages back: one of theirs on the wire (or its outcome
    unknown), or an older one waiting to be retried. Messages the policy deferred (quiet
    hours) hold back nothing."""

    in_flight: set[str] = field(default_factory=set)
    retry_waiting_since: dict[str, datetime] = field(default_factory=dict)

    def blocks(self, message: Message) -> bool:
        if message.contact_id in self.in_flight:
            return True
        waiting = self.retry_waiting_since.get(message.contact_id)
        return waiting is not None and waiting < message.created_at


async def _held_back(
    session: AsyncSession, channel: ChannelAccount, page: list[Message], now: datetime
) -> _HeldBack:
    """One contact's messages leave in order: what of theirs holds the `page` back. (A due
    message never matches these conditions itself, so it cannot hold itself back.)"""
    held = _HeldBack()
    contacts = {m.contact_id for m in page}
    if not contacts:
        return held
    scope = Scope(session, channel.workspace_id)
    rows = await session.execute(
        scope.columns(Message, Message.contact_id, Message.status, Message.created_at).where(
            Message.channel_id == channel.id,
            Message.contact_id.in_(contacts),
            Message.direction == "out",
            or_(
                (Message.status == MessageState.SENDING) & (Message.claimed_until >= now),
                (Message.status == MessageState.QUEUED) & (Message.next_attempt_at > now),
            ),
        )
    )
    for contact_id, status, created_at in rows.all():
        if status == MessageState.SENDING:
            held.in_flight.add(contact_id)
            continue
        earliest = held.retry_waiting_since.get(contact_id)
        if earliest is None or created_at < earliest:
            held.retry_waiting_since[contact_id] = created_at
    return held


@dataclass
class _Lines:
    """What recording a batch writes: history and pressure lines to insert, and changed
    columns of messages by primary key."""

    history: list[dict[str, Any]] = field(default_factory=list)
    sends: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)


class _Current(NamedTuple):
    """A claimed message's columns that may have moved since the claim."""

    status: str
    provider_id: str | None
    attempts: int


async def _current_rows(
    session: AsyncSession, channel: ChannelAccount, jobs: list[_Job]
) -> dict[str, _Current]:
    scope = Scope(session, channel.workspace_id)
    rows = await session.execute(
        scope.columns(
            Message, Message.id, Message.status, Message.provider_id, Message.attempts
        ).where(Message.id.in_([job.message_id for job in jobs]))
    )
    return {
        id_: _Current(status, provider_id, attempts)
        for id_, status, provider_id, attempts in rows.all()
    }


def _postponed(job: _Job, wait: float, row: _Current, now: datetime) -> dict[str, Any]:
    """Held for the pair limit, never sent: queued again, the attempt not counted."""
    return {
        "id": job.message_id,
        "status": MessageState.QUEUED,
        "attempts": max(0, row.attempts - 1),
        "next_attempt_at": now + timedelta(seconds=wait),
        "claimed_until": None,
    }


async def _write_lines(session: AsyncSession, lines: _Lines) -> None:
    # Many rows each: multi-row inserts, and the changes as plain executemany UPDATEs by
    # primary key, one per set of changed columns. Only changed columns are written, as an
    # ORM flush would; the ORM's own bulk UPDATE cost as much CPU as its flush (measured).
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for change in lines.changes:
        groups.setdefault(tuple(sorted(change)), []).append(change)
    table = cast(Table, Message.__table__)
    for columns, changes in groups.items():
        written = [c for c in columns if c != "id"]
        stmt = (
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values({c: bindparam(f"new_{c}") for c in written})
        )
        rows = [{"row_id": ch["id"], **{f"new_{c}": ch[c] for c in written}} for ch in changes]
        await session.execute(stmt, rows)
    await messages.add_history_many(session, lines.history)
    if lines.sends:
        await session.execute(insert(PressureEvent), lines.sends)


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
        """The channel's runtime, kept across calls: a bucket or pair limiter made afresh
        for each call would forget the sends just made and a throttle's cooldown. A changed
        limit gets a new bucket, changed credentials a new client."""
        adapter = registry.adapter(channel.kind)
        access = access_of(self.box, channel)
        runtime = self._runtimes.get(channel.id)
        if runtime is None:
            interval = adapter.type.pair_interval_seconds
            runtime = _ChannelRuntime(
                adapter.client(self.http, access),
                access,
                TokenBucket(channel.throughput_mps),
                PairLimiter(interval=interval) if interval else None,
            )
            self._runtimes[channel.id] = runtime
        if runtime.bucket.limit != channel.throughput_mps:
            runtime.bucket = TokenBucket(channel.throughput_mps)
        if runtime.access != access:
            runtime.client, runtime.access = adapter.client(self.http, access), access
        return runtime

    async def dispatch_channel(self, channel_id: str) -> int:
        """Up to `max_batches` × `batch_size` messages for one channel, pipelined: while one
        batch is on the wire, the next is claimed and the previous one recorded. The first
        claim is small and each next one twice the size, so the first sends leave after a
        short claim instead of a full batch's (about 0.3 s for 500 here, with the number
        idle). Returns sends attempted."""
        budget = self.config.max_batches * self.config.batch_size
        size = min(budget, max(1, self.config.batch_size // FIRST_CLAIM_SHARE))
        claimed = await self._claim(channel_id, size)
        if claimed is None or not claimed[1]:
            return 0
        channel, jobs = claimed
        runtime = self._runtime(channel)
        attempted = 0
        recording: asyncio.Task[None] | None = None
        while True:
            budget -= len(jobs)
            size = min(self.config.batch_size, 2 * size, budget)
            sending = asyncio.create_task(self._send(runtime, jobs))
            next_claim = asyncio.create_task(self._claim(channel_id, size)) if size > 0 else None
            await sending
            if recording is not None:
                await recording
            recording = asyncio.create_task(self._record(channel_id, jobs))
            attempted += sum(1 for job in jobs if job.outcome is not None)
            following = await next_claim if next_claim is not None else None
            if following is None or not following[1]:
                break
            jobs = following[1]
        await recording
        return attempted

    async def _send(self, runtime: _ChannelRuntime, jobs: list[_Job]) -> None:
        """Start each send when the bucket gives it a token, a slice at a time: before a
        slice starts, its contacts' consent is looked at again, so a STOP processed while
        the batch is on the wire stops the sends it still holds."""
        semaphore = asyncio.Semaphore(self.config.concurrency)
        started: list[asyncio.Task[None]] = []

        async def send(job: _Job) -> None:
            try:
                job.outcome = await runtime.client.send(job.body)
            finally:
                semaphore.release()
            if job.outcome.error_class is ErrorClass.THROTTLE:
                runtime.bucket.slow_down()
            elif job.outcome.error_class is ErrorClass.PAIR_LIMIT and runtime.pairs:
                runtime.pairs.penalise(job.recipient)

        for first in range(0, len(jobs), CONSENT_CHECK_EVERY):
            piece = jobs[first : first + CONSENT_CHECK_EVERY]
            changed = await self._consent_changed(piece)
            for job in piece:
                if job.message.contact_id in changed:
                    job.postponed_for = 0.0  # queued again: the next claim decides anew
                    continue
                wait = runtime.pairs.wait_for(job.recipient) if runtime.pairs else 0.0
                if wait > 0:
                    job.postponed_for = wait
                    continue
                await semaphore.acquire()
                await runtime.bucket.acquire()
                started.append(asyncio.create_task(send(job)))
        await asyncio.gather(*started)

    async def _consent_changed(self, jobs: list[_Job]) -> set[str]:
        """Contacts whose consent ledger changed since their send was allowed: a STOP that
        came during a broadcast stops the messages already claimed, not only queued ones."""
        if not jobs:
            return set()
        async with self.sessions() as session:
            lengths = await consent.ledger_lengths(
                session, jobs[0].message.workspace_id, {job.message.contact_id for job in jobs}
            )
        return {
            job.message.contact_id
            for job in jobs
            if lengths.get(job.message.contact_id, 0) != job.ledger
        }

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

    async def _claim(self, channel_id: str, size: int) -> tuple[ChannelAccount, list[_Job]] | None:
        now = self.clock.now()
        if not await self._hold(channel_id, now):
            return None
        async with transaction_for(self.sessions) as session:
            channel = await session.get(ChannelAccount, channel_id)
            if channel is None:
                return None
            workspace = await session.get(Workspace, channel.workspace_id)
            assert workspace is not None
            due = await self._due(session, channel, now, size)
            # Read before the policy reads consent, so a line it saw is counted no later.
            ledgers = await consent.ledger_lengths(
                session, workspace.id, {m.contact_id for m in due}
            )
            jobs = await self._recheck(session, workspace, channel, due, now)
            for job in jobs:
                job.ledger = ledgers.get(job.message.contact_id, 0)
            session.expunge(channel)
            return channel, jobs

    async def _due(
        self, session: AsyncSession, channel: ChannelAccount, now: datetime, size: int
    ) -> list[Message]:
        """The oldest due message of each contact that nothing holds back, up to `size`.

        A page of due messages, then, in a second query, their contacts' messages that hold
        them back, rather than one statement with a correlated NOT EXISTS: PostgreSQL planned
        that one, on statistics taken before a broadcast was queued, as a nested loop reading
        the channel's whole outbox once per candidate (14.5 s for 6,000 queued messages,
        measured); a contact IN list on the (channel, contact, status) index has no such plan
        to fall into."""
        chosen: dict[str, Message] = {}
        after: Message | None = None
        for _ in range(CLAIM_PAGES):
            stmt = self._due_page(session, channel, now, after).limit(size + PAGE_SLACK)
            page = list(await session.scalars(stmt))
            held = await _held_back(session, channel, page, now)
            for message in page:
                if not held.blocks(message):
                    chosen.setdefault(message.contact_id, message)
            if len(chosen) >= size or len(page) < size + PAGE_SLACK:
                break
            after = page[-1]
        return list(chosen.values())[:size]

    @staticmethod
    def _due_page(
        session: AsyncSession, channel: ChannelAccount, now: datetime, after: Message | None
    ) -> Select[Message]:
        """Due messages of the channel in creation order, after `after` when given."""
        stmt = (
            Scope(session, channel.workspace_id)
            .select(Message)
            .where(
                Message.channel_id == channel.id,
                Message.direction == "out",
                or_(
                    Message.status.in_(CLAIMABLE) & (Message.next_attempt_at <= now),
                    (Message.status == MessageState.SENDING) & (Message.claimed_until < now),
                ),
            )
            .order_by(Message.created_at, Message.id)
        )
        if after is not None:
            stmt = stmt.where(
                or_(
                    Message.created_at > after.created_at,
                    (Message.created_at == after.created_at) & (Message.id > after.id),
                )
            )
        if session.bind is not None and session.bind.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return stmt

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
        jobs = await self._render(session, channel, decided, tokens, now)
        await self._mark_sending(session, channel, jobs, now)
        return jobs

    @staticmethod
    async def _render(
        session: AsyncSession,
        channel: ChannelAccount,
        decided: list[tuple[Message, Basis, bool]],
        tokens: dict[str, str],
        now: datetime,
    ) -> list[_Job]:
        """The request body of each allowed message; one that cannot be rendered fails."""
        adapter = registry.adapter(channel.kind)
        threads: dict[str, tuple[str | None, str | None]] = {}
        if adapter.type.capabilities.subjects:
            threads = await messages.reply_threads(session, channel, [m for m, _b, _i in decided])
        jobs: list[_Job] = []
        for message, basis, business_initiated in decided:
            reply_to, subject = threads.get(message.id, (message.reply_to, None))
            envelope = Envelope(
                to=stored_urn(message.address).path,
                basis=basis,
                purpose=message.purpose or "service",
                reply_to=reply_to,
                subject=subject,
                callback_data=message.id,
                subscription_token=tokens.get(message.contact_id),
                ttl_seconds=fallback.ttl_to_set(Channel(channel.kind), message),
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
            jobs.append(_Job(message, envelope.to, body, business_initiated))
        return jobs

    async def _mark_sending(
        self, session: AsyncSession, channel: ChannelAccount, jobs: list[_Job], now: datetime
    ) -> None:
        """The batch is on its way: one UPDATE for all of it, not an ORM flush of each
        changed object (about four times the CPU, measured with 500-message batches)."""
        if not jobs:
            return
        await session.execute(
            Scope(session, channel.workspace_id)
            .update(Message)
            .where(Message.id.in_([job.message_id for job in jobs]))
            .values(
                status=MessageState.SENDING,
                attempts=Message.attempts + 1,
                claimed_until=now + self.config.lease,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )

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
        """Every outcome of a batch in one transaction. The rows' status, provider id and
        attempts are read afresh (a status webhook may have moved them meanwhile) as plain
        columns, and written back by primary key in one bulk UPDATE; only a rejected send,
        whose failure may change the contact too, is loaded as an ORM object. Loading and
        flushing every message of the batch took about half the record's CPU (measured)."""
        now = self.clock.now()
        async with transaction_for(self.sessions) as session:
            channel = await session.get(ChannelAccount, channel_id)
            assert channel is not None
            lines = _Lines()
            current = await _current_rows(session, channel, jobs)
            rejected: list[tuple[_Job, SendOutcome]] = []
            for job in jobs:
                row = current.get(job.message_id)
                if row is None:
                    continue  # gone meanwhile: the contact was erased
                if job.postponed_for is not None:
                    lines.changes.append(_postponed(job, job.postponed_for, row, now))
                    continue
                outcome = job.outcome
                assert outcome is not None
                if outcome.ok:
                    self._accepted(channel, job, outcome, row, now, lines)
                elif outcome.outcome_unknown:
                    self._reconciling(job, now, lines)
                else:
                    rejected.append((job, outcome))
            await self._record_rejected(session, channel, rejected, now, lines)
            await _write_lines(session, lines)

    async def _record_rejected(
        self,
        session: AsyncSession,
        channel: ChannelAccount,
        rejected: list[tuple[_Job, SendOutcome]],
        now: datetime,
        lines: _Lines,
    ) -> None:
        if not rejected:
            return
        scope = Scope(session, channel.workspace_id)
        ids = [job.message_id for job, _ in rejected]
        by_id = await scope.keyed(Message, Message.id, ids)
        for job, outcome in rejected:
            message = by_id.get(job.message_id)
            if message is not None:
                await self._rejected(session, channel, message, outcome, now, lines)

    @staticmethod
    def _accepted(
        channel: ChannelAccount,
        job: _Job,
        outcome: SendOutcome,
        row: _Current,
        now: datetime,
        lines: _Lines,
    ) -> None:
        """The platform took the send: its id, and the send counted against the pressure."""
        change: dict[str, Any] = {"id": job.message_id, "claimed_until": None}
        if row.provider_id is None:
            change["provider_id"] = outcome.provider_id
        after = states.moved(row.status, MessageState.ACCEPTED)
        if after is not None:
            change["status"] = after
        lines.changes.append(change)
        lines.history.append(
            messages.history_row(
                job.message, MessageState.ACCEPTED, now, detail=outcome.message_status
            )
        )
        if job.message.kind != "mark_read":
            lines.sends.append(_pressure_row(channel, job.message, job, now))

    def _reconciling(self, job: _Job, now: datetime, lines: _Lines) -> None:
        """Maybe sent: wait for a status webhook carrying our id before sending again."""
        lines.changes.append(
            {"id": job.message_id, "claimed_until": now + self.config.reconcile_grace}
        )
        lines.history.append(
            messages.history_row(
                job.message,
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
        """Every channel's outbox, the channels side by side: each is paced by its own
        limit, so one number's backlog does not wait for another's (one after the other,
        four numbers went no faster than one)."""
        async with self.sessions() as session:
            ids = list(await session.scalars(select(ChannelAccount.id)))
        slots = asyncio.Semaphore(self.config.parallel_channels)

        async def one(channel_id: str) -> int:
            async with slots:
                return await self.dispatch_channel(channel_id)

        # Each channel runs to its end even when another fails, so none is left running
        # into the next call; the first failure is raised once all are done.
        done = await asyncio.gather(*(one(c) for c in ids), return_exceptions=True)
        failures = [outcome for outcome in done if isinstance(outcome, BaseException)]
        for extra in failures[1:]:
            log.error("dispatching another channel failed too", exc_info=extra)
        if failures:
            raise failures[0]
        return sum(outcome for outcome in done if isinstance(outcome, int))


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
