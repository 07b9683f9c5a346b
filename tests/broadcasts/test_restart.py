"""A worker killed with SIGKILL in the middle of a 10,000-recipient broadcast's fan-out, then
started again: every recipient gets the message exactly once, counted where it lands (the
emulator), and the outbox holds one row per recipient."""

from __future__ import annotations

import collections
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.whatsapp.harness import PHONE_NUMBER_ID, Stack, whatsapp_stack
from tests.worker.test_reliability import kill_when, reached, run_until
from threadline.consent.models import ConsentEvent
from threadline.contacts.models import Contact, ContactURN
from threadline.contacts.urns import timezone_for_phone
from threadline.kit.ids import new_id
from threadline.messages.models import Message

pytestmark = pytest.mark.db
RECIPIENTS = 10_000


# Mobile ranges whose time zones, together, put one of them inside sending hours at any
# moment: the worker runs on the machine's real clock, and the legal 8:00-21:00 window of
# the recipient's zone (which no workspace setting widens) would otherwise defer a
# marketing broadcast whenever the suite happens to run at night in Rio.
# (prefix, digits of a whole number): Rio, Mexico City, Guernsey, India, Tokyo, Auckland.
RANGES = (("55219", 13), ("5255", 12), ("4478", 12), ("919", 12), ("8180", 12), ("64211", 11))


def numbers_in_sending_hours(now: datetime, count: int) -> list[str]:
    for prefix, digits in RANGES:
        numbers = [f"{prefix}{n:0{digits - len(prefix)}d}" for n in range(count)]
        zone = timezone_for_phone(f"+{numbers[0]}")
        assert zone is not None, f"{numbers[0]} has no time zone"
        if 9 <= now.astimezone(ZoneInfo(zone)).hour < 19:
            return numbers
    raise AssertionError(f"no range in sending hours at {now:%H:%M} UTC")


def test_some_range_is_in_sending_hours_at_every_hour() -> None:
    day = datetime(2026, 12, 8, tzinfo=UTC)
    for hour in range(24):
        assert numbers_in_sending_hours(day + timedelta(hours=hour, minutes=30), 1)


async def seed(stack: Stack, count: int) -> list[str]:
    """People with a WhatsApp number and a marketing opt-in, written in bulk (the API's
    one-by-one path is tested elsewhere); the emulator knows each of them."""
    now = stack.clock.now()
    wa_ids = numbers_in_sending_hours(datetime.now(UTC), count)
    contacts, urns, grants = [], [], []
    for n, wa_id in enumerate(wa_ids):
        contact_id = new_id("con")
        contacts.append(
            {"id": contact_id, "workspace_id": stack.workspace_id, "name": f"Person {n}",
             "fields": {}, "interests": [], "holdout_bucket": 5000, "created_at": now,
             "updated_at": now}
        )  # fmt: skip
        urns.append(
            {"id": new_id("urn"), "workspace_id": stack.workspace_id, "contact_id": contact_id,
             "scheme": "whatsapp", "urn": f"whatsapp:{wa_id}", "created_at": now}
        )  # fmt: skip
        grants.append(
            {"id": new_id("cev"), "workspace_id": stack.workspace_id, "contact_id": contact_id,
             "action": "grant", "channel": "whatsapp", "topic": "marketing", "source": "widget",
             "disclosure_text": "Offers on WhatsApp", "disclosure_version": "1", "evidence": {},
             "actor": "test", "occurred_at": now, "recorded_at": now}
        )  # fmt: skip
    async with stack.sessions() as session, session.begin():
        for table, rows in ((Contact, contacts), (ContactURN, urns), (ConsentEvent, grants)):
            for start in range(0, len(rows), 1000):
                await session.execute(insert(table), rows[start : start + 1000])
    for start in range(0, count, 5000):
        r = await stack.emulator.post(
            "/_emulator/users/bulk",
            json={"users": [{"wa_id": w, "read": 0} for w in wa_ids[start : start + 5000]]},
        )
        assert r.status_code == 200, r.text
    return wa_ids


async def outbox_rows(sessions: async_sessionmaker[AsyncSession], broadcast_id: str) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Message).where(Message.campaign_id == broadcast_id)
        )
    return int(count or 0)


def delivered_to(requests: list[dict[str, Any]]) -> collections.Counter[str]:
    """Accepted sends per recipient, as the platform saw them."""
    return collections.Counter(
        str(r["to"]) for r in requests if r["result"] == "accepted" and r.get("to")
    )


async def test_a_worker_killed_mid_fan_out_sends_each_recipient_exactly_one_message(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip(
            "several worker processes on 10,000 messages: PostgreSQL only, as in production "
            "(SQLite serialises every writer; the kill-and-restart of a worker on SQLite is "
            "tests/worker/test_reliability.py)"
        )
    async with whatsapp_stack(database_url, sessions, mps=1000, real_time=True) as stack:
        # The worker processes read the machine's clock: sending hours all day, so the
        # test does not depend on the hour it runs at.
        r = await stack.api.patch(
            "/api/v1/workspace/settings",
            json={"quiet_hours": {"start": "00:00", "end": "23:59:59"}, "frequency_caps": []},
        )
        assert r.status_code == 200, r.text
        r = await stack.emulator.post(
            f"/_emulator/numbers/{PHONE_NUMBER_ID}", json={"unlimited": True}
        )
        assert r.status_code == 200, r.text
        await stack.add_template("spring_sale", "MARKETING", body="Hello {{1}}, 20% off")
        await stack.sync_templates()
        wa_ids = await seed(stack, RECIPIENTS)
        template = {"type": "template", "name": "spring_sale", "language": "en_US",
                    "body": ["{{contact.name|friend}}"]}  # fmt: skip
        r = await stack.api.post(
            "/api/v1/broadcasts",
            json={"name": "Spring", "audience": "has(whatsapp)", "channels": ["whatsapp"],
                  "content": {"default": template}},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        broadcast_id = r.json()["id"]
        assert (await stack.api.post(f"/api/v1/broadcasts/{broadcast_id}/send")).is_success

        env = {
            **os.environ,
            "THREADLINE_DATABASE_URL": database_url,
            "THREADLINE_SECRET_KEY": stack.settings.secret_key.get_secret_value(),
            "THREADLINE_DISPATCH_LEASE_SECONDS": "4",
            "THREADLINE_RECONCILE_GRACE_SECONDS": "4",
            # Small dispatch batches: hundreds of sends in flight at once swamp the emulator,
            # which shares this process with the app receiving their status webhooks.
            "THREADLINE_DISPATCH_BATCH": "50",
        }
        command = [sys.executable, "-m", "threadline.cli", "worker"]

        async def fanned_out() -> int:
            return await outbox_rows(sessions, broadcast_id)

        await kill_when(command, env, lambda: reached(fanned_out, 2000), poll=0.01)
        assert await fanned_out() < RECIPIENTS, "the kill came after the fan-out: too late"

        async def accepted() -> int:
            # Read from the outbox while it runs: the emulator's whole log is fetched once,
            # at the end (fetching it in a loop would compete with the sends it records).
            async with sessions() as session:
                count = await session.scalar(
                    select(func.count())
                    .select_from(Message)
                    .where(Message.campaign_id == broadcast_id, Message.provider_id.is_not(None))
                )
            return int(count or 0)

        await run_until(command, env, lambda: reached(accepted, RECIPIENTS), 300, linger=3.0)
        per_recipient = delivered_to(await stack.requests())
        assert sorted(per_recipient) == sorted(wa_ids)
        assert set(per_recipient.values()) == {1}, "someone got the broadcast twice"
        assert await outbox_rows(sessions, broadcast_id) == RECIPIENTS
