"""`make demo`: the seeded workspace carries the example flows, and the whole demo (emulator
process, app with worker, simulated people) gets conversations through them."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.whatsapp.harness import free_port
from tests.conftest import T0
from threadline.contacts.service import field_types
from threadline.demo import FLOW_FIELDS, seed_demo
from threadline.demo_people import answer_for
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


def test_the_demo_runs_conversations_through_the_example_flows(tmp_path: Path) -> None:
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
        api = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {key.group(1)}"},
            timeout=10,
        )
        started = 0
        while time.monotonic() < deadline and started < 3:
            time.sleep(1)
            try:
                listed = api.get("/api/v1/flows").json()
                started = sum(
                    api.get(f"/api/v1/flows/{f['id']}/analytics").json()["sessions"]["started"]
                    for f in listed
                )
            except httpx.HTTPError:
                continue
        assert started >= 3, "the simulated people started no conversations with the flows"
    finally:
        demo.terminate()
        demo.wait(timeout=20)
