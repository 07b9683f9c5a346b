"""`make demo`: the seeded workspace carries the example flows and three channels (WhatsApp,
Messenger, Instagram), and the whole demo (emulator process, app with worker, simulated
people) gets conversations through the flows on every channel."""

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
from threadline.contacts.service import field_types, find_by_urn
from threadline.demo import (
    DEMO_IG_ID,
    DEMO_PAGE_ID,
    DEMO_PHONE_NUMBER_ID,
    FLOW_FIELDS,
    seed_demo,
)
from threadline.demo_people import answer_for, meta_answer_for
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


async def test_seeding_registers_whatsapp_messenger_and_instagram_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as db:
        info = await seed_demo(db, T0, 5, graph_url="http://127.0.0.1:9911")
    async with transaction(sessions) as db:
        again = await seed_demo(db, T0, 5, graph_url="http://127.0.0.1:9922")
        registered = await channels.for_workspace(db, info.workspace_id)
        ana = await find_by_urn(db, info.workspace_id, f"messenger:{info.psids[0]}")
        ida = await find_by_urn(db, info.workspace_id, f"instagram:{info.igsids[0]}")
        people = [
            await find_by_urn(db, info.workspace_id, f"{kind}:{person}")
            for kind, ids in (("messenger", again.psids), ("instagram", again.igsids))
            for person in ids
        ]
    by_kind = {c.kind: c for c in registered}
    assert sorted(c.kind for c in registered) == ["instagram", "messenger", "whatsapp"]
    assert by_kind["whatsapp"].address == DEMO_PHONE_NUMBER_ID
    assert by_kind["messenger"].address == DEMO_PAGE_ID
    assert by_kind["instagram"].address == DEMO_IG_ID
    assert by_kind["instagram"].config["page_id"] == DEMO_PAGE_ID
    assert (again.messenger_channel_id, again.instagram_channel_id) == (
        info.messenger_channel_id,
        info.instagram_channel_id,
    )
    assert {c.base_url for c in registered} == {"http://127.0.0.1:9922"}  # re-pointed
    assert info.psids and info.igsids and again.psids == info.psids
    assert ana is not None and ana.name and ida is not None and ida.name
    assert all(p is not None for p in people)  # once each: a re-seed makes no duplicates
    assert again.contacts == info.contacts == 5 + len(info.psids) + len(info.igsids)


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


def test_the_demo_runs_conversations_through_the_example_flows_on_every_channel(
    tmp_path: Path,
) -> None:
    port, emulator_port = free_port(), free_port()
    env = {
        **os.environ,
        "THREADLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "THREADLINE_LOG_LEVEL": "WARNING",
    }
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "threadline.cli",
            "demo",
            "--port",
            str(port),
            "--emulator-port",
            str(emulator_port),
            "--contacts",
            "40",
        ],
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
        assert re.search(r"channels\s+WhatsApp .*Messenger .*Instagram ", banner), banner
        api = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {key.group(1)}"},
            timeout=10,
        )
        emulator = httpx.Client(base_url=f"http://127.0.0.1:{emulator_port}", timeout=10)
        kinds = ("whatsapp", "messenger", "instagram")
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
            stored = _messages_by_channel(tmp_path / "demo.db")
            both_ways = all(stored.get((k, d), 0) > 0 for k in kinds for d in ("in", "out"))
            if started >= 3 and both_ways and all(accepted.values()):
                break
        assert started >= 3, "the simulated people started no conversations with the flows"
        for kind in kinds:
            assert stored.get((kind, "in"), 0) > 0, f"nobody wrote on {kind}: {stored}"
            assert stored.get((kind, "out"), 0) > 0, f"no reply went out on {kind}: {stored}"
        assert all(accepted.values()), f"the emulator accepted no Meta sends: {accepted}"
    finally:
        demo.terminate()
        demo.wait(timeout=20)
