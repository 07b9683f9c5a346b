"""`threadline calendar` as a user runs it: a table per day with something on it, the
warnings of segments past a cap, and one readable line for a range it cannot show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from tests.broadcasts.population import text_broadcast
from tests.segments.test_cli import seed
from tests.test_cli import assert_one_error_line, migrated_db, run_cli, sqlite_url
from threadline.calendar.cli import show

pytestmark = pytest.mark.db


def test_the_calendar_of_a_month_with_one_broadcast(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    url = sqlite_url(db)
    workspace_id = migrated_db(db, "Acme")["Acme"]
    sid = ["--account-sid", "AC" + "ab" * 16, "--auth-token", "t"]
    added = run_cli(
        ["channels", "add", "sms", "-w", "Acme", "--from", "+14155550100", *sid], url, cwd=tmp_path
    )
    assert added.returncode == 0, added.stderr
    seed(db, workspace_id, ["+12125550101", "+12125550102"])
    spec = tmp_path / "offer.json"
    spec.write_text(json.dumps(text_broadcast(name="Big offer")))
    created = run_cli(["broadcasts", "create", str(spec), "-w", "Acme"], url, cwd=tmp_path)
    assert created.returncode == 0, created.stderr

    shown = run_cli(["calendar", "-w", "Acme", "--json"], url, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert all(not day["broadcasts"] for day in json.loads(shown.stdout)["days"])  # a draft

    bad = run_cli(["calendar", "-w", "Acme", "--from", "2026-01-01", "--to", "2026-12-31"], url,
                  cwd=tmp_path)  # fmt: skip
    assert_one_error_line(bad, "the calendar shows at most 92")


def test_the_table_shows_each_day_and_the_warnings() -> None:
    console = Console(record=True, width=120)
    entry = {
        "name": "Spring sale", "status": "scheduled", "time": "10:00", "local_time": True,
        "recipients": {"sms": 9}, "recipients_basis": "estimate",
    }  # fmt: skip
    show(
        {
            "from": "2026-03-01", "to": "2026-03-31", "zone": "UTC",
            "days": [
                {"date": "2026-03-16", "weekday": "Mon", "broadcasts": [entry],
                 "automations": {"whatsapp": 2.0}, "automations_basis": "projected",
                 "totals": {"sms": 9, "whatsapp": 2}},
                {"date": "2026-03-17", "weekday": "Tue", "broadcasts": [], "automations": {},
                 "automations_basis": "projected", "totals": {}},
            ],
            "segments": [{"over_cap": True, "warnings": ["members of 'vip' would get 4"]}],
        },
        console,
    )  # fmt: skip
    text = console.export_text()
    assert "Mon 2026-03-16" in text and "Tue 2026-03-17" not in text
    assert "10:00 local" in text and "sms ~9" in text and "whatsapp ~2.0" in text
    assert "members of 'vip' would get 4" in text
