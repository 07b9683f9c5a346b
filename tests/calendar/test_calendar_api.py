"""GET /api/v1/calendar on a real database: broadcasts on their days with their recipients,
automation volume counted and projected, the pressure on each segment against the caps,
the range's limits, and the wall between workspaces (T0: Tuesday 10 March 2026, 15:00 UTC)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.broadcasts.population import QUERY, populate, text_broadcast
from tests.conftest import T0, Tenant, channel_row, contact_row
from threadline.broadcasts.runner import BroadcastWorker
from threadline.calendar.volume import WENT
from threadline.flows.models import FlowSession, FlowVersion
from threadline.kit.clock import FrozenClock
from threadline.kit.ids import new_id
from threadline.messages.models import Message

pytestmark = pytest.mark.db
WEEKLY_CAP = {"frequency_caps": [{"max_messages": 3, "hours": 168}]}


async def scheduled(tenant: Tenant, name: str, at: str, **extra: Any) -> str:
    body = text_broadcast(name=name, schedule={"kind": "at", "at": at}, **extra)
    r = await tenant.client.post("/api/v1/broadcasts", json=body)
    assert r.status_code == 201, r.text
    broadcast_id = str(r.json()["id"])
    r = await tenant.client.post(f"/api/v1/broadcasts/{broadcast_id}/send")
    assert r.status_code == 200, r.text
    return broadcast_id


async def calendar(tenant: Tenant, **params: str) -> dict[str, Any]:
    r = await tenant.client.get("/api/v1/calendar", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def day(found: dict[str, Any], iso: str) -> dict[str, Any]:
    return next(d for d in found["days"] if d["date"] == iso)


async def test_four_offers_in_a_week_put_the_segment_over_its_cap(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await populate(tenant, sessions)
    assert (await tenant.client.patch("/api/v1/workspace/settings", json=WEEKLY_CAP)).is_success
    for name, at in (
        ("Mon", "2026-03-16T10:00:00Z"),
        ("Wed", "2026-03-18T10:00:00Z"),
        ("Fri", "2026-03-20T10:00:00Z"),
        ("Sun", "2026-03-22T10:00:00Z"),
    ):
        await scheduled(tenant, name, at)  # fmt: skip
    # One person of the segment also gets a broadcast of their own.
    await scheduled(tenant, "Just one", "2026-03-17T10:00:00Z", audience='name = "allowed_1"')

    found = await calendar(tenant)
    assert (found["from"], found["to"], found["zone"]) == ("2026-03-01", "2026-03-31", "UTC")
    [monday] = day(found, "2026-03-16")["broadcasts"]
    # Ten members, nine with a phone number (the tenth has only an email address).
    assert monday["name"] == "Mon" and monday["time"] == "10:00"
    assert (monday["recipients"], monday["recipients_basis"]) == ({"sms": 9}, "estimate")
    assert monday["channels"] == ["sms"] and monday["status"] == "scheduled"
    assert day(found, "2026-03-16")["totals"] == {"sms": 9}

    by_audience = {s["audience"]: s for s in found["segments"]}
    spring = by_audience[QUERY]
    assert spring["members"] == 10 and spring["over_cap"]
    assert spring["warnings"] == [
        "members of 'tag(\"spring\")' would get 4 marketing messages in 7 days from "
        "2026-03-16 10:00 UTC; the cap is 3: the 4th will be suppressed for them"
    ]
    assert spring["also_reached_by"][0]["shared_members"] == 1
    assert spring["pressure"][0]["peak_with_overlaps"] == 5
    # The one person's segment is wholly inside the spring one: every offer reaches them.
    alone = by_audience['name = "allowed_1"']
    assert alone["members"] == 1 and alone["pressure"][0]["peak"] == 5


async def test_a_broadcast_sent_shows_its_messages_instead_of_an_estimate(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession], clock: FrozenClock
) -> None:
    await populate(tenant, sessions)
    r = await tenant.client.post("/api/v1/broadcasts", json=text_broadcast())
    broadcast_id = r.json()["id"]
    assert (await tenant.client.post(f"/api/v1/broadcasts/{broadcast_id}/send")).is_success
    await BroadcastWorker(sessions, clock).run_once()
    async with sessions() as session:
        went = await session.scalar(
            select(func.count()).where(Message.campaign_id == broadcast_id,
                                       Message.status.in_(WENT))
        )  # fmt: skip
    [entry] = day(await calendar(tenant), "2026-03-10")["broadcasts"]
    assert entry["recipients"] == {"sms": went} and went
    assert entry["recipients_basis"] in ("sending", "sent")


async def add_automation(
    session: AsyncSession, workspace_id: str, sends: dict[datetime, int], trigger: str = "event"
) -> None:
    """A flow, its sessions started by `trigger`, and `n` outbound messages at each moment."""
    channel, contact = channel_row(workspace_id), contact_row(workspace_id, "Ana")
    flow = FlowVersion(
        id=new_id("flw"), workspace_id=workspace_id, key=new_id("cart"), version=1, name="Cart",
        bundle={}, checksum="0" * 64, triggers=[], created_at=T0,
    )  # fmt: skip
    session.add_all([channel, contact, flow])
    await session.flush()
    for at, n in sends.items():
        run = FlowSession(
            id=new_id("fls"), workspace_id=workspace_id, contact_id=contact.id, flow_id=flow.id,
            flow_key="cart", status="ended", trigger=trigger, state={}, started_at=at,
            updated_at=at,
        )  # fmt: skip
        session.add(run)
        await session.flush()
        session.add_all(
            _message(workspace_id, contact.id, channel.id, run.id, at) for _ in range(n)
        )
    await session.flush()


def _message(
    workspace_id: str, contact_id: str, channel_id: str, run: str, at: datetime
) -> Message:
    return Message(
        id=new_id("msg"), workspace_id=workspace_id, contact_id=contact_id,
        channel_id=channel_id, direction="out", address="whatsapp:1", kind="text",
        content={"type": "text", "body": "Your cart"}, purpose="marketing", status="delivered",
        flow_session_id=run, created_at=at, updated_at=at,
    )  # fmt: skip


async def test_automations_counted_for_past_days_and_projected_for_the_rest(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    mondays = [T0 - timedelta(days=d, hours=5) for d in (1, 8, 15, 22)]  # 10:00 on Mondays
    async with sessions() as session, session.begin():
        await add_automation(session, tenant.id, dict(zip(mondays, (4, 2, 2, 0), strict=True)))
        await add_automation(session, tenant.id, {T0 - timedelta(hours=1): 1})
        # A flow a person started by writing to us is a conversation, not an automation.
        await add_automation(session, tenant.id, {mondays[0]: 5}, trigger="keyword")

    found = await calendar(tenant)
    last_monday = day(found, "2026-03-09")
    assert (last_monday["automations"], last_monday["automations_basis"]) == (
        {"whatsapp": 4},
        "actual",
    )
    assert day(found, "2026-03-02")["automations"] == {"whatsapp": 2}
    today = day(found, "2026-03-10")
    assert (today["automations"], today["automations_basis"]) == ({"whatsapp": 1}, "actual_so_far")
    for monday in ("2026-03-16", "2026-03-23", "2026-03-30"):
        ahead = day(found, monday)
        # (4 + 2 + 2 + 0) / 4 Mondays
        assert (ahead["automations"], ahead["automations_basis"]) == (
            {"whatsapp": 2.0},
            "projected",
        )
        assert ahead["totals"] == {"whatsapp": 2}
    # Today is not history yet: a day half over would drag its weekday's average down.
    assert day(found, "2026-03-17")["automations"] == {}

    r = await tenant.client.get("/api/v1/calendar", params={"format": "csv"})
    assert r.headers["content-type"].startswith("text/csv")
    lines = r.text.splitlines()
    assert lines[0] == "date,channel,broadcasts,automations,automations_basis,total"
    assert "2026-03-16,whatsapp,0,2,projected,2" in lines


async def test_days_follow_the_zone_asked_for(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        # 02:00 UTC on the 9th is still the 8th in New York.
        await add_automation(session, tenant.id, {datetime.fromisoformat("2026-03-09T02:00Z"): 3})
    utc = await calendar(tenant)
    new_york = await calendar(tenant, zone="America/New_York")
    assert day(utc, "2026-03-09")["automations"] == {"whatsapp": 3}
    assert day(new_york, "2026-03-08")["automations"] == {"whatsapp": 3}
    assert new_york["zone"] == "America/New_York"


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"from": "2026-01-01", "to": "2026-06-30"}, "to"),
        ({"from": "2026-03-10", "to": "2026-03-09"}, "to"),
        ({"zone": "Mars/Olympus"}, "zone"),
    ],
)
async def test_a_range_it_cannot_show_is_a_422(
    tenant: Tenant, params: dict[str, str], where: str
) -> None:
    r = await tenant.client.get("/api/v1/calendar", params=params)
    assert r.status_code == 422, r.text
    assert where in r.text
    r = await tenant.client.get("/api/v1/calendar", params={"from": "10/03/2026"})
    assert r.status_code == 422


async def test_a_quarter_is_allowed(tenant: Tenant) -> None:
    found = await calendar(tenant, **{"from": "2026-03-01", "to": "2026-05-31"})
    assert len(found["days"]) == 92


async def test_another_workspaces_broadcasts_and_automations_stay_there(
    tenant: Tenant, other_tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await populate(other_tenant, sessions)
    await scheduled(other_tenant, "Bravo secret", "2026-03-16T10:00:00Z")
    async with sessions() as session, session.begin():
        await add_automation(session, other_tenant.id, {T0 - timedelta(days=1): 3})
    theirs = await calendar(other_tenant)
    assert day(theirs, "2026-03-16")["broadcasts"] and theirs["segments"]

    mine = await calendar(tenant)
    assert all(not d["broadcasts"] and not d["totals"] for d in mine["days"])
    assert mine["segments"] == [] and mine["totals"] == {}
    assert "Bravo" not in str(mine)
