"""Automations: flows that start on their own — on a contact event (cart updated, order
shipped, appointment booked) or a schedule (re-engagement) — with their entry rules carried
out: re-entry, the control group recorded as a ghost exposure, and the exits on events."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels.kinds import Channel
from threadline.contacts.models import Contact, ContactEvent, ContactTag
from threadline.contacts.service import get_contact
from threadline.flows import entry, runner, triggers
from threadline.flows import format as f
from threadline.flows import service as flows
from threadline.flows import state as s
from threadline.flows.engine import new_state
from threadline.flows.models import FlowSession, FlowVersion
from threadline.kit.errors import ThreadlineError
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope
from threadline.messages import service as messages
from threadline.segments import service as segments
from threadline.workspaces.models import Workspace

log = logging.getLogger("threadline.flows")
RUNNING = (s.FlowStatus.WAITING, s.FlowStatus.WEBHOOK, s.FlowStatus.CALLING, s.FlowStatus.HANDOFF)


async def running_sessions(
    session: AsyncSession, workspace_id: str, contact_id: str, flow_key: str | None = None
) -> list[FlowSession]:
    """The contact's sessions still alive (sleeping ones included), of one flow or all."""
    query = (
        Scope(session, workspace_id)
        .select(FlowSession)
        .where(FlowSession.contact_id == contact_id, FlowSession.status.in_(RUNNING))
    )
    if flow_key is not None:
        query = query.where(FlowSession.flow_key == flow_key)
    return list(await session.scalars(query.order_by(FlowSession.started_at)))


async def _facts(
    session: AsyncSession,
    workspace_id: str,
    contact: Contact,
    version: FlowVersion,
    now: datetime,
    trigger: str,
    params: dict[str, Any] | None,
) -> tuple[entry.Facts, list[FlowSession]]:
    scope = Scope(session, workspace_id)
    contact_id = contact.id
    running = await running_sessions(session, workspace_id, contact_id, version.key)
    last = await session.scalar(
        scope.columns(FlowSession, func.max(FlowSession.started_at)).where(
            FlowSession.contact_id == contact_id, FlowSession.flow_key == version.key
        )
    )
    holder = await runner.active_session(session, workspace_id, contact_id)
    busy = holder is not None and holder.id not in {r.id for r in running}
    facts = entry.Facts(
        contact_id=contact_id,
        running=bool(running),
        last_started_at=last,
        busy=busy,
        starts_asleep=busy
        and await runner.quiet_start(session, contact, version, now, trigger, params),
    )
    return facts, running


async def enter(
    session: AsyncSession,
    workspace: Workspace,
    contact: Contact,
    version: FlowVersion,
    now: datetime,
    *,
    trigger: str,
    params: dict[str, Any] | None = None,
) -> entry.Entry:
    """Take the contact into the automation, or say why not. May raise ThreadlineError when
    the contact cannot be reached on any channel."""
    facts, running = await _facts(session, workspace.id, contact, version, now, trigger, params)
    decided = entry.decide(flows.compiled(version).file, facts, now)
    if decided is entry.Entry.HELD_OUT:
        await _record_held_out(session, workspace, contact, version, now, trigger, params)
    elif decided in (entry.Entry.START, entry.Entry.RESTART):
        for row in running:
            await runner.advance(session, workspace, row, s.Exit("abandoned", "restarted"), now)
        await session.flush()  # the old session lets go of the conversation first
        await runner.begin(session, workspace, contact, version, now, trigger, params, None, None)
    return decided


async def _record_held_out(
    session: AsyncSession,
    workspace: Workspace,
    contact: Contact,
    version: FlowVersion,
    now: datetime,
    trigger: str,
    params: dict[str, Any] | None,
) -> None:
    """The ghost exposure: a session that ran no node, so that the control group's
    conversions can be read against the treated ones from the same moment."""
    channel, _address = await messages.channel_for(session, workspace.id, contact.id, None)
    flow = flows.compiled(version)
    state = replace(
        new_state(flow, s.ContactView(), Channel(channel.kind), now, trigger, params),
        status=s.FlowStatus.ENDED,
        outcome=f.HELD_OUT,
        end_reason="holdout",
        ended_at=now,
    )
    session.add(
        FlowSession(
            id=new_id("fss"),
            workspace_id=workspace.id,
            contact_id=contact.id,
            active_contact_id=None,
            flow_id=version.id,
            flow_key=version.key,
            channel_id=channel.id,
            status=s.FlowStatus.ENDED,
            trigger=trigger,
            state=state.to_json(),
            outcome=f.HELD_OUT,
            end_reason="holdout",
            steps=0,
            started_at=now,
            updated_at=now,
            ended_at=now,
        )
    )


async def _exit_on_event(
    session: AsyncSession, workspace: Workspace, event: ContactEvent, now: datetime
) -> None:
    for row in await running_sessions(session, workspace.id, event.contact_id):
        version = await session.get(FlowVersion, row.flow_id)
        assert version is not None
        rule = entry.exit_for_event(flows.compiled(version).file, event.kind, event.name)
        if rule is not None:
            reason = event.kind if event.kind != "custom" else f"custom:{event.name}"
            await runner.advance(session, workspace, row, s.Exit(rule.outcome, reason), now)


async def on_contact_event(
    session: AsyncSession, workspace: Workspace, event: ContactEvent, now: datetime
) -> entry.Entry | None:
    """A contact event ends the runs it is an exit of (a purchase ends the cart reminder),
    then may start a flow (event triggers). None when no flow starts on it."""
    await _exit_on_event(session, workspace, event, now)
    candidates, _ = await runner.flow_candidates(session, workspace.id)
    match = triggers.for_event(candidates, event.kind, event.name, event.properties or {})
    if match is None:
        return None
    version = await session.get(FlowVersion, match.flow_id)
    assert version is not None
    contact = await get_contact(session, workspace.id, event.contact_id)
    try:
        decided = await enter(
            session, workspace, contact, version, now, trigger="event", params=match.params
        )
    except ThreadlineError as exc:  # no channel, no address on it: nothing to start
        log.info("event %s did not start %s: %s", event.id, version.key, exc)
        return None
    log.info("event %s, flow %s, contact %s: %s", event.id, version.key, contact.id, decided)
    return decided


async def start_scheduled(
    session: AsyncSession, version: FlowVersion, schedules: list[f.Schedule], now: datetime
) -> int:
    """The audience of the schedules that are due (tagged contacts, segment members), each
    taken in by the entry rules. Returns how many sessions started."""
    workspace = await session.get(Workspace, version.workspace_id)
    assert workspace is not None
    scope = Scope(session, workspace.id)
    audience: ColumnElement[bool] = Contact.id.in_(
        scope.columns(ContactTag, ContactTag.contact_id).where(
            ContactTag.tag.in_({sch.tag for sch in schedules if sch.tag})
        )
    )
    for query in {sch.segment for sch in schedules if sch.segment is not None}:
        members = await segments.members(session, workspace.id, query, now)
        audience = audience | Contact.id.in_(members)
    started = 0
    for contact in await session.scalars(
        scope.select(Contact).where(audience).order_by(Contact.id)
    ):
        try:
            async with session.begin_nested():
                decided = await enter(session, workspace, contact, version, now, trigger="schedule")
        except ThreadlineError as exc:  # no address: skip this one
            log.info("schedule of %s skipped %s: %s", version.key, contact.id, exc)
            continue
        started += decided in (entry.Entry.START, entry.Entry.RESTART)
    return started
