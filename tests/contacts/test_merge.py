"""Contact merge keeps every row: whatever points at the merged contact moves to the kept one
(the database would CASCADE-delete anything left behind), within one workspace only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.conftest import T0, Tenant, channel_row
from threadline.channels.kinds import Channel
from threadline.commerce.models import PaymentLink
from threadline.consent.models import ConsentEvent
from threadline.contacts import merge as merging
from threadline.contacts.models import ContactEvent, ContactTag, ContactURN
from threadline.conversations.models import Conversation
from threadline.flows.models import FlowSession, FlowVersion
from threadline.flows.state import ContactView, FlowState, Wait
from threadline.growth.models import OptInPage, PendingOptIn
from threadline.kit.ids import new_id
from threadline.messages.models import Message
from threadline.policy.models import PressureEvent
from threadline.tickets.models import Ticket

BR = "5511999990000"
BR_2 = "5511999990001"

# --- rows -------------------------------------------------------------------------------------


@dataclass
class Place:
    """Where test rows go: a workspace, one contact, and the parents some rows need."""

    workspace_id: str
    contact_id: str
    channel_id: str
    flow_id: str


async def add_parents(session: AsyncSession, workspace_id: str) -> tuple[str, str]:
    """A channel (messages need one) and a flow version (flow sessions need one)."""
    channel = channel_row(workspace_id)
    flow = FlowVersion(
        id=new_id("flw"),
        workspace_id=workspace_id,
        key="welcome",
        version=1,
        name="Welcome",
        bundle={"main": "format: 1"},
        checksum="0" * 64,
        triggers=[],
        created_at=T0,
    )
    session.add_all([channel, flow])
    await session.flush()
    return channel.id, flow.id


def message(p: Place, text: str, minutes: int = 0) -> Message:
    at = T0 - timedelta(hours=1) + timedelta(minutes=minutes)
    return Message(
        id=new_id("msg"),
        workspace_id=p.workspace_id,
        contact_id=p.contact_id,
        channel_id=p.channel_id,
        direction="in",
        address=f"whatsapp:{p.contact_id}",
        kind="text",
        content={"type": "text", "body": text},
        text=text,
        status="received",
        created_at=at,
        updated_at=at,
    )


def flow_session(p: Place, *, active: bool, minutes: int = 0) -> FlowSession:
    started = T0 - timedelta(hours=2) + timedelta(minutes=minutes)
    state = FlowState(
        flow="welcome",
        channel=Channel.WHATSAPP,
        contact=ContactView(),
        trigger="api",
        started_at=started,
        expires_at=started + timedelta(days=1),
        status="waiting" if active else "ended",
        node="ask",
        wait=Wait(node="ask", kind="ask", deadline=T0 + timedelta(hours=1)) if active else None,
        answers={"first": "yes"},
        path=("start", "ask"),
        outcome=None if active else "resolved",
        ended_at=None if active else started + timedelta(minutes=5),
    )
    return FlowSession(
        id=new_id("fls"),
        workspace_id=p.workspace_id,
        contact_id=p.contact_id,
        active_contact_id=p.contact_id if active else None,
        flow_id=p.flow_id,
        flow_key="welcome",
        status=state.status,
        node=state.node,
        trigger="api",
        state=state.to_json(),
        deadline=state.wait.deadline if state.wait else None,
        outcome=state.outcome,
        started_at=started,
        updated_at=started,
        ended_at=state.ended_at,
    )


def ticket(p: Place, *, open_: bool) -> Ticket:
    return Ticket(
        id=new_id("tkt"),
        workspace_id=p.workspace_id,
        contact_id=p.contact_id,
        open_contact_id=p.contact_id if open_ else None,
        team="support",
        status="open" if open_ else "resolved",
        summary="needs a human",
        resolution=None if open_ else "closed",
        history=[{"at": T0.isoformat(), "event": "opened", "by": "bot"}],
        opened_at=T0 - timedelta(days=1),
        updated_at=T0 - timedelta(days=1),
        resolved_at=None if open_ else T0 - timedelta(hours=20),
    )


def _urn(p: Place) -> ContactURN:
    return ContactURN(
        id=new_id("urn"),
        workspace_id=p.workspace_id,
        contact_id=p.contact_id,
        scheme="mailto",
        urn=f"mailto:{p.contact_id}@example.com",
        created_at=T0,
    )


def _event(p: Place) -> ContactEvent:
    return ContactEvent(
        id=new_id("evt"),
        workspace_id=p.workspace_id,
        contact_id=p.contact_id,
        kind="custom",
        name="visit",
        properties={},
        idempotency_key=f"visit-{p.contact_id}",
        occurred_at=T0,
        created_at=T0,
    )


def _consent(p: Place) -> ConsentEvent:
    return ConsentEvent(
        id=new_id("cev"),
        workspace_id=p.workspace_id,
        contact_id=p.contact_id,
        action="grant",
        channel="whatsapp",
        topic="marketing",
        source="widget",
        evidence={},
        actor="api",
        occurred_at=T0,
        recorded_at=T0,
    )


def _conversation(p: Place) -> Conversation:
    return Conversation(
        id=new_id("cnv"),
        workspace_id=p.workspace_id,
        contact_id=p.contact_id,
        channel="whatsapp",
        last_inbound_at=T0 - timedelta(hours=1),
        created_at=T0,
        updated_at=T0,
    )


def _pressure(p: Place) -> PressureEvent:
    return PressureEvent(
        id=new_id("prs"),
        workspace_id=p.workspace_id,
        contact_id=p.contact_id,
        channel="whatsapp",
        purpose="marketing",
        business_initiated=True,
        sent_at=T0 - timedelta(days=1),
    )


def _payment_link(p: Place) -> PaymentLink:
    return PaymentLink(
        id=new_id("pay"),
        workspace_id=p.workspace_id,
        contact_id=p.contact_id,
        order_ref="A-1",
        amount=Decimal("12.50"),
        currency="EUR",
        items=[],
        status="open",
        url="https://pay.example/l/1",
        provider_link_id=new_id("plink"),
        created_at=T0,
        updated_at=T0,
    )


def _pending_optin(p: Place) -> list[Any]:
    """A JOIN waiting for its YES, with the opt-in page it answers (a parent row)."""
    page = OptInPage(
        id=new_id("page"),
        workspace_id=p.workspace_id,
        topic=f"news-{new_id('t')[-6:]}",
        title="News",
        keyword="JOIN",
        channels=["whatsapp"],
        confirmation_text="Welcome!",
        created_at=T0,
        updated_at=T0,
    )
    pending = PendingOptIn(
        id=new_id("pop"),
        workspace_id=p.workspace_id,
        contact_id=p.contact_id,
        page_id=page.id,
        channel="whatsapp",
        topic=page.topic,
        version=1,
        prompt_text="Reply YES to confirm.",
        source="keyword",
        request={},
        asked_at=T0,
        expires_at=T0,
    )
    return [page, pending]


# A row for every table that references contacts. A table missing here fails the first test
# by name: add a row for it, and the test shows whether merge moves it.
ROWS: dict[str, Callable[[Place], list[Any]]] = {
    "contact_urns": lambda p: [_urn(p)],
    "contact_tags": lambda p: [
        ContactTag(id=new_id("tag"), workspace_id=p.workspace_id, contact_id=p.contact_id, tag=t)
        for t in ("vip", "lead")
    ],
    "contact_events": lambda p: [_event(p)],
    "consent_events": lambda p: [_consent(p)],
    "conversations": lambda p: [_conversation(p)],
    "pressure_events": lambda p: [_pressure(p)],
    "messages": lambda p: [message(p, "hello"), message(p, "anyone?", minutes=1)],
    "flow_sessions": lambda p: [flow_session(p, active=True), flow_session(p, active=False)],
    "tickets": lambda p: [ticket(p, open_=True), ticket(p, open_=False)],
    "commerce_payment_links": lambda p: [_payment_link(p)],
    "pending_optins": _pending_optin,
}


# --- counting, from the database itself -------------------------------------------------------


async def contact_foreign_keys(engine: AsyncEngine) -> list[tuple[str, str]]:
    """(table, column) of every foreign key to contacts.id in the migrated database, read
    with the database's own inspector: a table the models do not know still shows up."""

    def read(connection: sa.Connection) -> list[tuple[str, str]]:
        inspector = sa.inspect(connection)
        found: list[tuple[str, str]] = []
        for table in sorted(inspector.get_table_names()):
            for fk in inspector.get_foreign_keys(table):
                if fk["referred_table"] == "contacts":
                    assert fk["referred_columns"] == ["id"], (table, fk)
                    found.extend((table, column) for column in fk["constrained_columns"])
        return found

    async with engine.connect() as connection:
        return await connection.run_sync(read)


async def count(engine: AsyncEngine, table: str, column: str | None, value: str | None) -> int:
    """Rows of `table` (with `column` == `value`, when given), without the models."""
    target = sa.table(table, *([sa.column(column)] if column else []))
    stmt = sa.select(sa.func.count()).select_from(target)
    if column:
        stmt = stmt.where(target.c[column] == value)
    async with engine.connect() as connection:
        return int((await connection.execute(stmt)).scalar_one())


async def snapshot(
    engine: AsyncEngine, refs: list[tuple[str, str]], contact_ids: list[str]
) -> dict[tuple[str, str], int]:
    """Per table: all rows, and the rows pointing at each contact."""
    counts: dict[tuple[str, str], int] = {}
    for table, column in refs:
        counts[(table, "*")] = await count(engine, table, None, None)
        for contact_id in contact_ids:
            counts[(table, contact_id)] = await count(engine, table, column, contact_id)
    return counts


async def create(client: httpx.AsyncClient, **body: Any) -> str:
    response = await client.post("/api/v1/contacts", json=body)
    assert response.status_code == 201, response.text
    contact_id: str = response.json()["id"]
    return contact_id


async def merge(client: httpx.AsyncClient, keep_id: str, merge_id: str) -> httpx.Response:
    return await client.post(
        "/api/v1/contacts/merge", json={"keep_id": keep_id, "merge_id": merge_id}
    )


# --- tests ------------------------------------------------------------------------------------


async def test_merge_moves_a_row_of_every_table_that_references_contacts(
    tenant: Tenant, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    refs = await contact_foreign_keys(engine)
    tables = {table for table, _ in refs}
    # The inspector really sees the schema (else this test would check nothing).
    assert {"messages", "flow_sessions", "tickets", "contact_events"} <= tables
    unknown = sorted(tables - ROWS.keys())
    if unknown:
        pytest.fail(f"tables referencing contacts with no test row here: {unknown}")
    keep = await create(tenant.client, name="Ana")
    gone = await create(tenant.client, name="Ana S.")
    async with sessions() as session, session.begin():
        channel_id, flow_id = await add_parents(session, tenant.id)
        place = Place(tenant.id, gone, channel_id, flow_id)
        for table in sorted(tables):
            session.add_all(ROWS[table](place))
    before = await snapshot(engine, refs, [keep, gone])

    merged = await merge(tenant.client, keep, gone)

    assert merged.status_code == 200, merged.text
    moved = merged.json()["moved"]
    after = await snapshot(engine, refs, [keep, gone])
    for table, column in refs:
        left = after[(table, gone)]
        assert left == 0, f"{table}.{column}: {left} rows still point at the merged contact"
        assert before[(table, gone)] > 0, f"{table}: the test made no row for the loser"
        assert after[(table, "*")] == before[(table, "*")], f"{table}: rows were lost"
        assert after[(table, keep)] == before[(table, keep)] + before[(table, gone)], table
        assert moved.get(table) == before[(table, gone)], f"{table}: moved count is wrong"
    assert await count(engine, "contacts", "id", gone) == 0
    assert merged.json()["combined"] == {"contact_tags": 0, "conversations": 0}


async def _history(sessions: async_sessionmaker[AsyncSession], p: Place, q: Place) -> None:
    """Both contacts with a past: messages, an active and an ended flow session each, the
    same tag, a conversation on the same channel, and a resolved ticket of the loser's."""
    async with sessions() as session, session.begin():
        for who, offset in ((p, 0), (q, 30)):
            session.add_all(
                [
                    message(who, f"{who.contact_id} first", minutes=offset),
                    message(who, f"{who.contact_id} second", minutes=offset + 1),
                    flow_session(who, active=True, minutes=offset),
                    flow_session(who, active=False, minutes=offset - 60),
                    ContactTag(
                        id=new_id("tag"),
                        workspace_id=who.workspace_id,
                        contact_id=who.contact_id,
                        tag="customer",
                    ),
                    _conversation(who),
                    _event(who),
                ]
            )
        session.add(ticket(q, open_=False))


async def test_merge_keeps_messages_sessions_and_tickets_of_both(
    tenant: Tenant, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    client = tenant.client
    keep = await create(client, name="Ana", urns=[f"whatsapp:+{BR}"])
    gone = await create(client, name="Ana S.", urns=[f"whatsapp:+{BR_2}"], tags=["vip"])
    async with sessions() as session, session.begin():
        channel_id, flow_id = await add_parents(session, tenant.id)
    mine, theirs = (Place(tenant.id, c, channel_id, flow_id) for c in (keep, gone))
    await _history(sessions, mine, theirs)
    # Both hand over to a person: their active sessions pause, each with an open ticket.
    for contact_id in (keep, gone):
        opened = await client.post(
            f"/api/v1/contacts/{contact_id}/tickets", json={"summary": f"help {contact_id}"}
        )
        assert opened.status_code == 201, opened.text
    refs = await contact_foreign_keys(engine)
    before = await snapshot(engine, refs, [keep, gone])
    old_threads = [
        (await client.get(f"/api/v1/contacts/{c}/messages")).json() for c in (keep, gone)
    ]
    old_sessions = (await client.get(f"/api/v1/contacts/{gone}/flow-sessions")).json()

    merged = await merge(client, keep, gone)

    assert merged.status_code == 200, merged.text
    answer = merged.json()
    assert answer["contact"]["id"] == keep
    assert answer["contact"]["tags"] == ["customer", "vip"]
    assert {t: n for t, n in answer["moved"].items() if n} == {
        "messages": 2,
        "flow_sessions": 2,
        "tickets": 2,
        "contact_events": 1,
        "contact_urns": 1,
        "contact_tags": 1,  # vip; its "customer" was the kept contact's already
    }
    assert answer["combined"] == {"contact_tags": 1, "conversations": 1}
    after = await snapshot(engine, refs, [keep, gone])
    for table, _ in refs:
        folded = answer["combined"].get(table, 0)
        assert after[(table, gone)] == 0, table
        assert after[(table, "*")] == before[(table, "*")] - folded, f"{table}: rows lost"

    thread = (await client.get(f"/api/v1/contacts/{keep}/messages")).json()
    assert sorted(m["id"] for m in thread) == sorted(
        m["id"] for m in old_threads[0] + old_threads[1]
    )
    assert [m["created_at"] for m in thread] == sorted(m["created_at"] for m in thread)
    events = (await client.get(f"/api/v1/contacts/{keep}/events")).json()
    assert {e["idempotency_key"] for e in events} == {f"visit-{keep}", f"visit-{gone}"}
    await _check_sessions_and_tickets(client, sessions, keep, gone, old_sessions)


async def _check_sessions_and_tickets(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    keep: str,
    gone: str,
    old_sessions: list[dict[str, Any]],
) -> None:
    runs = {r["id"]: r for r in (await client.get(f"/api/v1/contacts/{keep}/flow-sessions")).json()}
    assert len(runs) == 4
    assert {r["contact_id"] for r in runs.values()} == {keep}
    (their_active,) = [r for r in old_sessions if r["status"] != "ended"]
    ended = runs[their_active["id"]]
    assert (ended["status"], ended["outcome"]) == ("ended", "abandoned")
    assert ended["end_reason"] == merging.MERGED_REASON
    assert ended["answers"] == their_active["answers"]  # the loser's history is kept
    still = [r for r in runs.values() if r["status"] != "ended"]
    assert [r["status"] for r in still] == ["handoff"]  # the kept contact's, untouched
    async with sessions() as session:
        active = list(
            await session.scalars(
                sa.select(FlowSession.id).where(FlowSession.active_contact_id == keep)
            )
        )
        stored = await session.get(FlowSession, their_active["id"])
    assert active == [still[0]["id"]]
    assert stored is not None and stored.state["merged_from"] == gone
    tickets = (await client.get("/api/v1/tickets", params={"contact_id": keep})).json()
    assert len(tickets) == 3
    by_summary = {t["summary"]: t for t in tickets if t["summary"].startswith("help")}
    theirs, mine = by_summary[f"help {gone}"], by_summary[f"help {keep}"]
    assert (theirs["status"], theirs["resolution"]) == ("resolved", "merged")
    assert theirs["history"][-1]["continued_in"] == mine["id"]
    assert mine["status"] == "open"
    assert mine["history"][-1]["merged_ticket"] == theirs["id"]
    reopened = await client.post(f"/api/v1/contacts/{keep}/tickets", json={"summary": "again"})
    assert reopened.json()["id"] == mine["id"]  # still the one open ticket of the contact


async def test_a_lone_active_session_and_open_ticket_follow_the_contact(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    keep = await create(tenant.client, name="Ana")
    gone = await create(tenant.client, name="Ana S.")
    async with sessions() as session, session.begin():
        channel_id, flow_id = await add_parents(session, tenant.id)
        theirs = Place(tenant.id, gone, channel_id, flow_id)
        run, handoff = flow_session(theirs, active=True), ticket(theirs, open_=True)
        session.add_all([run, handoff])
    async with sessions() as session, session.begin():
        result = await merging.merge(session, tenant.id, keep, gone, T0)
    assert result.moved["flow_sessions"] == 1 and result.moved["tickets"] == 1
    async with sessions() as session:
        stored_run = await session.get(FlowSession, run.id)
        stored_ticket = await session.get(Ticket, handoff.id)
    assert stored_run is not None and stored_ticket is not None
    # Still going, now as the kept contact's one active session and open ticket.
    assert (stored_run.status, stored_run.active_contact_id) == ("waiting", keep)
    assert (stored_ticket.status, stored_ticket.open_contact_id) == ("open", keep)
    assert stored_ticket.history[-1]["merged_from"] == gone


async def test_merging_across_workspaces_is_not_found_and_moves_nothing(
    tenant: Tenant,
    other_tenant: Tenant,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    mine = await create(tenant.client, name="Ana", tags=["vip"])
    theirs = await create(other_tenant.client, name="Bruno", tags=["vip"])
    async with sessions() as session, session.begin():
        for workspace_id, contact_id in ((tenant.id, mine), (other_tenant.id, theirs)):
            channel_id, flow_id = await add_parents(session, workspace_id)
            place = Place(workspace_id, contact_id, channel_id, flow_id)
            for table, rows in ROWS.items():
                if table != "contact_tags":  # already tagged "vip" each
                    session.add_all(rows(place))
    refs = await contact_foreign_keys(engine)
    before = await snapshot(engine, refs, [mine, theirs])
    mine_before = (await tenant.client.get(f"/api/v1/contacts/{mine}")).json()

    for keep_id, merge_id in ((mine, theirs), (theirs, mine)):
        refused = await merge(tenant.client, keep_id, merge_id)
        assert refused.status_code == 404, refused.text
        assert refused.json()["where"] == "contact_id"

    assert await snapshot(engine, refs, [mine, theirs]) == before
    assert (await tenant.client.get(f"/api/v1/contacts/{mine}")).json() == mine_before
    assert (await other_tenant.client.get(f"/api/v1/contacts/{theirs}")).status_code == 200
