"""The flows' clockwork, run by the worker: waits that ran out, webhook calls to make (outside
any transaction, so a slow business system never holds the database), scheduled starts."""

from __future__ import annotations

import json
import logging
from datetime import datetime, time, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from threadline.flows import automations, runner
from threadline.flows import service as flows
from threadline.flows.format import Schedule
from threadline.flows.models import FlowSession, FlowVersion
from threadline.flows.state import FlowStatus, Timeout, WebhookDone
from threadline.kit.clock import Clock
from threadline.kit.crypto import SecretBox
from threadline.kit.db import transaction
from threadline.kit.errors import ThreadlineError
from threadline.secrets import service as secrets
from threadline.workspaces.models import Workspace

log = logging.getLogger("threadline.flows")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Sessions with a deadline that times them out.
TIMED = frozenset({FlowStatus.WAITING, FlowStatus.WEBHOOK, FlowStatus.CALLING})


async def tick_once(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    http: httpx.AsyncClient,
    box: SecretBox,
    limit: int = 100,
) -> int:
    worked = await _timeouts(sessions, clock, limit)
    worked += await _webhooks(sessions, clock, http, box, limit)
    worked += await _schedules(sessions, clock)
    return worked


async def _feed(
    sessions: async_sessionmaker[AsyncSession],
    session_id: str,
    event: Timeout | WebhookDone,
    expected: frozenset[FlowStatus],
    now: datetime,
) -> bool:
    async with transaction(sessions) as db:
        row = await db.get(FlowSession, session_id)
        if row is None or row.status not in expected:
            return False  # someone else moved it on meanwhile
        if isinstance(event, Timeout) and not await runner.take_lane(db, row, now):
            return True  # the person is in another conversation: put off, not lost
        workspace = await db.get(Workspace, row.workspace_id)
        assert workspace is not None
        await runner.advance(db, workspace, row, event, now)
    return True


async def _timeouts(sessions: async_sessionmaker[AsyncSession], clock: Clock, limit: int) -> int:
    now = clock.now()
    async with transaction(sessions) as db:
        due = list(
            await db.scalars(
                select(FlowSession.id)
                .where(
                    FlowSession.status.in_(TIMED),
                    FlowSession.deadline <= now,
                )
                .order_by(FlowSession.deadline)
                .limit(limit)
            )
        )
    done = 0
    for session_id in due:
        try:
            done += await _feed(sessions, session_id, Timeout(), TIMED, now)
        except Exception:
            log.exception("timing out flow session %s failed", session_id)
    return done


async def _claim(sessions: async_sessionmaker[AsyncSession], session_id: str) -> bool:
    async with transaction(sessions) as db:
        result = await db.execute(
            update(FlowSession)
            .where(FlowSession.id == session_id, FlowSession.status == FlowStatus.WEBHOOK)
            .values(status=FlowStatus.CALLING)
        )
        return bool(getattr(result, "rowcount", 0))


async def call(http: httpx.AsyncClient, pending: dict[str, Any]) -> WebhookDone:
    try:
        response = await http.request(
            pending["method"],
            pending["url"],
            headers=pending.get("headers") or None,
            json=pending.get("body"),
            timeout=float(pending.get("timeout_seconds", 5)),
        )
    except httpx.HTTPError as exc:
        return WebhookDone(status=None, error=f"{type(exc).__name__}: {exc}")
    try:
        body: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = response.text[:2000]
    return WebhookDone(status=response.status_code, body=body)


async def _webhooks(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    http: httpx.AsyncClient,
    box: SecretBox,
    limit: int,
) -> int:
    async with transaction(sessions) as db:
        waiting = list(
            await db.execute(
                select(FlowSession.id, FlowSession.workspace_id, FlowSession.state)
                .where(FlowSession.status == FlowStatus.WEBHOOK)
                .limit(limit)
            )
        )
    done = 0
    for session_id, workspace_id, state in waiting:
        pending = (state or {}).get("pending_call")
        if not pending or not await _claim(sessions, session_id):
            continue
        async with transaction(sessions) as db:
            request, missing = await secrets.reveal(db, box, workspace_id, pending)
        if missing:
            result = WebhookDone(status=None, error=f"no workspace secret {', '.join(missing)}")
        else:
            result = await call(http, request)
        try:
            done += await _feed(
                sessions, session_id, result, frozenset({FlowStatus.CALLING}), clock.now()
            )
        except Exception:
            log.exception("webhook answer for flow session %s failed", session_id)
    return done


def last_due(schedule: Schedule, now: datetime) -> datetime:
    """The latest time at or before `now` this schedule was due (UTC)."""
    hour, minute = map(int, schedule.at.split(":"))
    if schedule.every == "hour":
        due = now.replace(minute=minute, second=0, microsecond=0)
        return due if due <= now else due - timedelta(hours=1)
    due = datetime.combine(now.date(), time(hour, minute), tzinfo=now.tzinfo)
    if schedule.every == "day":
        return due if due <= now else due - timedelta(days=1)
    due -= timedelta(days=(now.weekday() - WEEKDAYS.index(schedule.weekday)) % 7)
    return due if due <= now else due - timedelta(days=7)


async def _schedules(sessions: async_sessionmaker[AsyncSession], clock: Clock) -> int:
    now = clock.now()
    async with transaction(sessions) as db:
        versions = list(await db.scalars(select(FlowVersion).where(FlowVersion.active.is_(True))))
        started = 0
        for version in versions:
            schedules = [t.schedule for t in flows.compiled(version).file.triggers if t.schedule]
            since = version.last_scheduled_at or version.created_at
            due = [sch for sch in schedules if since < last_due(sch, now)]
            if not due:
                continue
            version.last_scheduled_at = now
            try:
                async with db.begin_nested():
                    started += await automations.start_scheduled(db, version, due, now)
            except ThreadlineError as exc:  # e.g. a segment naming a field since removed
                log.error("schedule of flow %s could not run: %s", version.key, exc)
    return started
