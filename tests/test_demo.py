"""`make demo`: the seeded workspace carries the example flows and six channels (WhatsApp,
Messenger, Instagram, SMS, email, Apple Messages for Business), and the whole demo (emulator
process, app with worker, simulated people) gets conversations through the flows on every
channel."""

from __future__ import annotations

import os
import random
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.whatsapp.harness import free_port
from tests.conftest import T0
from threadline.channels import service as channels
from threadline.consent.service import ledger
from threadline.contacts.service import field_types, find_by_urn
from threadline.demo import (
    DEMO_APPLE_BUSINESS_ID,
    DEMO_EMAIL,
    DEMO_IG_ID,
    DEMO_PAGE_ID,
    DEMO_PHONE_NUMBER_ID,
    DEMO_POSTAL_ADDRESS,
    DEMO_SMS_NUMBER,
    FLOW_FIELDS,
    DemoInfo,
    person_ids,
    seed_demo,
)
from threadline.demo_people import answer_for, apple_answer_for, email_text, meta_answer_for
from threadline.flows import service as flows
from threadline.kit.db import transaction

ROOT = Path(__file__).resolve().parents[1]


async def test_seeding_uploads_the_example_flows_once_and_points_lookups_at_the_emulator(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as db:
        info = await seed_demo(db, T0, 12, graph_url="http://127.0.0.1:9911")
    keys = sorted(entry.split()[0] for entry in info.flows)
    assert {"product_finder", "support_triage", "lead_qualification", "order_status"} <= set(keys)
    assert all(entry.endswith(" v1") for entry in info.flows)
    async with transaction(sessions) as db:
        again = await seed_demo(db, T0, 12, graph_url="http://127.0.0.1:9911")
        declared = await field_types(db, info.workspace_id)
        order = await flows.find(db, info.workspace_id, "order_status")
    assert again.flows == info.flows  # unchanged files are not new versions
    assert {key for key, _ in FLOW_FIELDS} <= set(declared)
    assert "http://127.0.0.1:9911/_emulator/shop" in order.bundle["main"]


SIX = ["apple", "email", "instagram", "messenger", "sms", "whatsapp"]
SCHEMES = {"sms": "tel", "email": "mailto", "apple": "apple"}


def _direct_people(info: DemoInfo) -> dict[str, list[str]]:
    return {"sms": info.phones, "email": info.mailboxes, "apple": info.apple_ids}


async def test_seeding_registers_all_six_channels_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as db:
        info = await seed_demo(db, T0, 5, graph_url="http://127.0.0.1:9911")
    async with transaction(sessions) as db:
        again = await seed_demo(
            db,
            T0,
            5,
            graph_url="http://127.0.0.1:9922",
            smtp_url="smtp://127.0.0.1:2626",
            app_url="http://127.0.0.1:8123",
        )
        registered = await channels.for_workspace(db, info.workspace_id)
        ana = await find_by_urn(db, info.workspace_id, f"messenger:{info.psids[0]}")
        ida = await find_by_urn(db, info.workspace_id, f"instagram:{info.igsids[0]}")
        people = [
            await find_by_urn(db, info.workspace_id, f"{kind}:{person}")
            for kind, ids in (("messenger", again.psids), ("instagram", again.igsids))
            for person in ids
        ]
    by_kind = {c.kind: c for c in registered}
    assert sorted(c.kind for c in registered) == SIX
    assert by_kind["whatsapp"].address == DEMO_PHONE_NUMBER_ID
    assert by_kind["messenger"].address == DEMO_PAGE_ID
    assert by_kind["instagram"].address == DEMO_IG_ID
    assert by_kind["instagram"].config["page_id"] == DEMO_PAGE_ID
    assert by_kind["sms"].address == DEMO_SMS_NUMBER
    assert by_kind["email"].address == DEMO_EMAIL
    assert by_kind["apple"].address == DEMO_APPLE_BUSINESS_ID
    assert (again.messenger_channel_id, again.instagram_channel_id) == (
        info.messenger_channel_id,
        info.instagram_channel_id,
    )
    assert (again.sms_channel_id, again.email_channel_id, again.apple_channel_id) == (
        info.sms_channel_id,
        info.email_channel_id,
        info.apple_channel_id,
    )
    # Re-pointed at this run's emulator, its SMTP relay and Threadline's URL.
    assert {c.base_url for c in registered if c.kind != "email"} == {"http://127.0.0.1:9922"}
    assert by_kind["email"].base_url == "smtp://127.0.0.1:2626"
    assert by_kind["sms"].config["public_url"] == "http://127.0.0.1:8123"
    assert by_kind["email"].config["public_url"] == "http://127.0.0.1:8123"
    assert by_kind["email"].config["postal_address"] == DEMO_POSTAL_ADDRESS
    assert again.email_secret and again.email_secret == info.email_secret
    assert info.psids and info.igsids and again.psids == info.psids
    assert ana is not None and ana.name and ida is not None and ida.name
    assert all(p is not None for p in people)  # once each: a re-seed makes no duplicates
    on_direct = sum(len(ids) for ids in _direct_people(info).values())
    assert _direct_people(again) == _direct_people(info)
    assert again.contacts == info.contacts == 5 + len(info.psids) + len(info.igsids) + on_direct


async def test_people_on_sms_email_and_apple_opted_in_there_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as db:
        info = await seed_demo(db, T0, 3)
    async with transaction(sessions) as db:
        await seed_demo(db, T0, 3)
        for kind, ids in _direct_people(info).items():
            assert ids == person_ids(kind) and len(ids) >= 3
            for n, person in enumerate(ids):
                contact = await find_by_urn(db, info.workspace_id, f"{SCHEMES[kind]}:{person}")
                assert contact is not None and contact.name, (kind, person)
                lines = await ledger(db, info.workspace_id, contact.id)
                if n == len(ids) - 1:
                    assert lines == []  # one person per channel never opted in
                    continue
                (grant,) = lines  # a re-seed records nothing again
                assert (grant.action, grant.channel, grant.topic) == ("grant", kind, "marketing")
                assert grant.address == person and grant.disclosure_text


def test_simulated_people_tap_what_they_are_shown_and_stop_at_statements() -> None:
    rng = random.Random(1)
    buttons = {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Pick"},
            "action": {
                "buttons": [{"type": "reply", "reply": {"id": "a", "title": "Alpha"}}],
            },
        },
    }
    assert answer_for(buttons, rng) == {"type": "button_reply", "payload": "a", "text": "Alpha"}
    numbered = {"type": "text", "text": {"body": "Pick one\n\n1. A\n2. B\n\nReply with a number."}}
    assert answer_for(numbered, rng) in (
        {"type": "text", "text": "1"},
        {"type": "text", "text": "2"},
    )
    email = answer_for({"type": "text", "text": {"body": "What is your email?"}}, rng)
    assert email is not None and email["type"] == "text"
    assert answer_for({"type": "text", "text": {"body": "Thanks, bye."}}, rng) is None


def test_people_on_messenger_and_instagram_tap_postbacks_and_quick_replies() -> None:
    rng = random.Random(1)
    template = {
        "type": "template",
        "payload": {
            "template_type": "button",
            "text": "Pick",
            "buttons": [{"type": "postback", "title": "Alpha", "payload": "a"}],
        },
    }
    assert meta_answer_for({"message": {"attachment": template}}, rng) == (
        "postback",
        {"title": "Alpha", "payload": "a"},
    )
    quick = {
        "text": "Pick",
        "quick_replies": [{"content_type": "text", "title": "B", "payload": "b"}],
    }
    assert meta_answer_for({"message": quick}, rng) == ("send", {"text": "B", "quick_reply": "b"})
    numbered = {"text": "Pick one\n\n1. A\n2. B\n\nReply with a number."}
    assert meta_answer_for({"message": numbered}, rng) in (
        ("send", {"text": "1"}),
        ("send", {"text": "2"}),
    )
    assert meta_answer_for({"message": {"text": "Thanks, bye."}}, rng) is None
    assert meta_answer_for({"sender_action": "typing_on"}, rng) is None


def test_people_in_messages_pick_from_pickers_and_email_readers_skip_the_footer() -> None:
    rng = random.Random(1)
    quick = {
        "type": "interactive",
        "interactiveData": {
            "data": {"quick-reply": {"items": [{"identifier": "a", "title": "Alpha"}]}}
        },
    }
    assert apple_answer_for(quick, rng) == {"select": ["a"]}
    picker = {
        "type": "interactive",
        "interactiveData": {
            "data": {"listPicker": {"sections": [{"items": [{"identifier": "b", "title": "B"}]}]}}
        },
    }
    assert apple_answer_for(picker, rng) == {"select": ["b"]}
    asked = apple_answer_for({"type": "text", "body": "What is your email?"}, rng)
    assert asked is not None and "text" in asked
    assert apple_answer_for({"type": "text", "body": "Thanks, bye."}, rng) is None
    mail = {"text": "Thanks, bye.\n\n---\nDemo Shop\nUnsubscribe: http://x/u?t=1"}
    assert email_text(mail) == "Thanks, bye."


def _messages_by_channel(db: Path) -> dict[tuple[str, str], int]:
    """(channel kind, direction) → messages stored, read straight from the demo's database;
    outbound ones count only once the emulator accepted them (they have its message id)."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT c.kind, m.direction, count(*) FROM messages m"
            " JOIN channels c ON c.id = m.channel_id"
            " WHERE m.direction = 'in' OR m.provider_id IS NOT NULL"
            " GROUP BY c.kind, m.direction"
        ).fetchall()
    return {(str(kind), str(direction)): int(n) for kind, direction, n in rows}


KINDS = ("whatsapp", "messenger", "instagram", "sms", "email", "apple")


def _traffic(
    api: httpx.Client, emulator: httpx.Client, db: Path, deadline: float
) -> tuple[int, dict[tuple[str, str], int], dict[str, int]]:
    """Until the flows started conversations, every channel has messages both ways and the
    emulator accepted Meta sends (or the deadline): flow sessions started, messages stored
    per (channel, direction), Meta sends accepted per account."""
    started = 0
    stored: dict[tuple[str, str], int] = {}
    accepted: dict[str, int] = {DEMO_PAGE_ID: 0, DEMO_IG_ID: 0}
    while time.monotonic() < deadline:
        time.sleep(1)
        try:
            listed = api.get("/api/v1/flows").json()
            started = sum(
                api.get(f"/api/v1/flows/{f['id']}/analytics").json()["sessions"]["started"]
                for f in listed
            )
            accepted = {
                account: sum(
                    r["result"] == "accepted"
                    for r in emulator.get(f"/_emulator/pages/{account}/requests").json()
                )
                for account in (DEMO_PAGE_ID, DEMO_IG_ID)
            }
        except httpx.HTTPError:
            continue
        stored = _messages_by_channel(db)
        both_ways = all(stored.get((k, d), 0) > 0 for k in KINDS for d in ("in", "out"))
        if started >= 3 and both_ways and all(accepted.values()):
            break
    return started, stored, accepted


def _assert_in_the_inbox(api: httpx.Client, kind: str, urn: str) -> None:
    """The person (everyone on SMS, email and Apple writes as the demo starts) is a contact
    with a conversation on that channel."""
    found = api.get("/api/v1/contacts", params={"urn": urn}).json()["items"]
    assert len(found) == 1, (urn, found)
    talks = api.get(f"/api/v1/contacts/{found[0]['id']}/conversations").json()
    assert any(t["channel"] == kind and t["last_inbound_at"] for t in talks), (urn, talks)


def test_the_demo_runs_conversations_through_the_example_flows_on_every_channel(
    tmp_path: Path,
) -> None:
    port, emulator_port = free_port(), free_port()
    env = {
        **os.environ,
        "THREADLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "THREADLINE_LOG_LEVEL": "WARNING",
    }
    args = f"demo --port {port} --emulator-port {emulator_port} --contacts 40".split()
    demo = subprocess.Popen(
        [sys.executable, "-m", "threadline.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = ""
        assert demo.stdout is not None
        deadline = time.monotonic() + 60
        while "API key" not in banner and time.monotonic() < deadline:
            banner += demo.stdout.readline()
        key = re.search(r"API key\s+(\S+)", banner)
        assert key, banner
        assert "product_finder v1" in banner
        assert re.search(
            r"channels\s+WhatsApp .*Messenger .*Instagram .*SMS .*email .*Apple ", banner, re.S
        ), banner
        api = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {key.group(1)}"},
            timeout=10,
        )
        emulator = httpx.Client(base_url=f"http://127.0.0.1:{emulator_port}", timeout=10)
        started, stored, accepted = _traffic(api, emulator, tmp_path / "demo.db", deadline)
        assert started >= 3, "the simulated people started no conversations with the flows"
        for kind in KINDS:
            assert stored.get((kind, "in"), 0) > 0, f"nobody wrote on {kind}: {stored}"
            assert stored.get((kind, "out"), 0) > 0, f"no reply went out on {kind}: {stored}"
        assert all(accepted.values()), f"the emulator accepted no Meta sends: {accepted}"
        for kind, scheme in SCHEMES.items():
            _assert_in_the_inbox(api, kind, f"{scheme}:{person_ids(kind)[0]}")
    finally:
        demo.terminate()
        demo.wait(timeout=20)
