"""`threadline broadcasts` as a user runs it: create from a file, send with a progress bar,
show the progress; a bad file or a wrong move exits non-zero with one readable line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.broadcasts.population import text_broadcast
from tests.segments.test_cli import seed
from tests.test_cli import assert_one_error_line, migrated_db, run_cli, sqlite_url

pytestmark = pytest.mark.db


def test_create_send_and_show_a_broadcast(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    url = sqlite_url(db)
    workspace_id = migrated_db(db, "Acme")["Acme"]
    sid = ["--account-sid", "AC" + "ab" * 16, "--auth-token", "t"]
    added = run_cli(
        ["channels", "add", "sms", "-w", "Acme", "--from", "+14155550100", *sid], url, cwd=tmp_path
    )
    assert added.returncode == 0, added.stderr
    seed(db, workspace_id, ["+12125550101", "+12125550102"])
    spec = tmp_path / "spring.json"
    spec.write_text(json.dumps(text_broadcast()))

    created = run_cli(["broadcasts", "create", str(spec), "-w", "Acme"], url, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    broadcast_id = created.stdout.strip()
    assert broadcast_id.startswith("bc_")

    sent = run_cli(["broadcasts", "send", broadcast_id, "-w", "Acme"], url, cwd=tmp_path)
    assert sent.returncode == 0, sent.stderr
    assert "fan-out" in sent.stderr and "2/2" in sent.stderr  # the progress bar
    assert "no_consent" in sent.stdout  # nobody opted in to texts

    shown = run_cli(["broadcasts", "show", broadcast_id, "-w", "Acme", "--json"], url, cwd=tmp_path)
    found = json.loads(shown.stdout)
    assert found["status"] == "sending" and found["audience"] == 2
    assert found["suppressed_by_reason"] == {"no_consent": 2}

    again = run_cli(["broadcasts", "resume", broadcast_id, "-w", "Acme"], url, cwd=tmp_path)
    assert_one_error_line(again, "cannot resume a sending broadcast")


def test_a_bad_spec_file_names_the_field(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    migrated_db(db, "Acme")
    spec = tmp_path / "bad.json"
    spec.write_text(json.dumps(text_broadcast(holdout_percent=80)))
    result = run_cli(
        ["broadcasts", "create", str(spec), "-w", "Acme"], sqlite_url(db), cwd=tmp_path
    )
    assert_one_error_line(result, "holdout_percent")
