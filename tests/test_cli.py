"""The `threadline` command, run as a real process against its own SQLite file per test.

Subprocesses cost about a second each, so databases that a test merely needs are prepared
in-process (migrated, workspaces created) and only the command under test is run for real."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from tests.conftest import T0
from threadline import cli
from threadline.kit.crypto import verify_password
from threadline.kit.db import make_engine, make_sessionmaker, transaction
from threadline.kit.migrate import alembic_config, upgrade
from threadline.workspaces.service import create_workspace

_SCRIPT = Path(sys.executable).with_name("threadline")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "threadline.cli"]


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def run_cli(
    args: Sequence[str],
    database_url: str,
    *,
    cwd: Path,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `threadline ARGS` as a user would, without a terminal (80 columns assumed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    env.update({"THREADLINE_DATABASE_URL": database_url, "COLUMNS": "80"})
    return subprocess.run(
        [*COMMAND, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=180,
        check=False,
    )


def migrated_db(path: Path, *workspaces: str) -> dict[str, str]:
    """Migrate a fresh SQLite file and create `workspaces`; returns name -> workspace id."""
    url = sqlite_url(path)
    upgrade(url)

    async def create() -> dict[str, str]:
        engine = make_engine(url)
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                return {
                    name: (await create_workspace(session, name, T0)).workspace.id
                    for name in workspaces
                }
        finally:
            await engine.dispose()

    return asyncio.run(create())


def query(path: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchall()


def database_bytes(path: Path) -> bytes:
    """The database file and its WAL/journal, as they sit on disk."""
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


def assert_one_error_line(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def test_init_prints_json_and_stores_the_api_key_only_hashed(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    result = run_cli(["init", "--workspace", "Acme", "--json"], sqlite_url(db), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    key = out["api_key"]
    assert key.startswith("tl_") and len(key) >= 40
    assert out["workspace"] == "Acme"
    assert query(db, "SELECT id, name FROM workspaces") == [(out["workspace_id"], "Acme")]
    assert query(db, "SELECT workspace_id, key_hash FROM api_keys") == [
        (out["workspace_id"], hashlib.sha256(key.encode()).hexdigest())
    ]
    on_disk = database_bytes(db)
    assert key.encode() not in on_disk
    assert key[len("tl_") :].encode() not in on_disk


def test_second_init_with_the_same_name_fails_with_one_readable_line(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    migrated_db(db, "Acme")

    result = run_cli(["init", "--workspace", "Acme", "--json"], sqlite_url(db), cwd=tmp_path)

    assert_one_error_line(result, "a workspace named 'Acme' already exists")
    assert result.stdout == ""
    assert query(db, "SELECT count(*) FROM workspaces") == [(1,)]
    assert query(db, "SELECT count(*) FROM api_keys") == [(1,)]


def test_apikeys_create_prints_a_new_key_that_resolves_to_the_workspace(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    ids = migrated_db(db, "Acme", "Other")

    result = run_cli(["apikeys", "create", "-w", "Acme"], sqlite_url(db), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    key = result.stdout.strip()
    assert key.startswith("tl_") and "\n" not in key
    digest = hashlib.sha256(key.encode()).hexdigest()
    assert query(db, "SELECT workspace_id FROM api_keys WHERE key_hash = ?", digest) == [
        (ids["Acme"],)
    ]
    assert query(db, "SELECT count(*) FROM api_keys") == [(3,)]
    assert key.encode() not in database_bytes(db)


def test_users_add_stores_an_argon2_hash_and_never_the_password(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    ids = migrated_db(db, "Acme")
    password = "correct horse battery staple"

    result = run_cli(
        ["users", "add", "-w", "Acme", "--email", "A@B.co", "--role", "agent", "--password-stdin"],
        sqlite_url(db),
        cwd=tmp_path,
        stdin=password + "\n",
    )

    assert result.returncode == 0, result.stderr
    rows = query(db, "SELECT id, workspace_id, email, role, password_hash FROM users")
    assert len(rows) == 1
    user_id, workspace_id, email, role, stored = rows[0]
    assert result.stdout.strip() == user_id
    assert (workspace_id, email, role) == (ids["Acme"], "a@b.co", "agent")
    assert isinstance(stored, str) and stored.startswith("$argon2")
    assert verify_password(stored, password)
    assert password.encode() not in database_bytes(db)


def test_users_add_with_an_unknown_role_fails_readably(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    migrated_db(db, "Acme")

    result = run_cli(
        ["users", "add", "-w", "Acme", "--email", "a@b.co", "--role", "root", "--password-stdin"],
        sqlite_url(db),
        cwd=tmp_path,
        stdin="correct horse battery staple\n",
    )

    assert_one_error_line(result, "role must be one of owner, admin, agent, analyst")
    assert query(db, "SELECT count(*) FROM users") == [(0,)]


def test_unknown_workspace_is_named_verbatim_in_one_error_line(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    migrated_db(db, "Acme")

    # Square brackets must come out as typed (rich would read "[eu]" as markup).
    result = run_cli(["apikeys", "create", "-w", "Acme [eu]"], sqlite_url(db), cwd=tmp_path)

    assert_one_error_line(result, "no workspace named 'Acme [eu]'")
    assert result.stdout == ""
    assert query(db, "SELECT count(*) FROM api_keys") == [(1,)]


def test_db_upgrade_twice_is_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    url = sqlite_url(db)
    schema_sql = "SELECT type, name, sql FROM sqlite_master ORDER BY type, name"
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()

    first = run_cli(["db", "upgrade"], url, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    schema = query(db, schema_sql)
    second = run_cli(["db", "upgrade"], url, cwd=tmp_path)

    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stderr
    assert query(db, schema_sql) == schema
    assert query(db, "SELECT version_num FROM alembic_version") == [(head,)]
    assert len([row for row in schema if row[0] == "table"]) > 10


def test_unreachable_database_gives_one_error_line_and_no_traceback(tmp_path: Path) -> None:
    result = run_cli(["db", "upgrade"], "postgresql://nobody@127.0.0.1:1/x", cwd=tmp_path)

    # Longer than 80 columns: it must not be wrapped onto a second line either.
    assert_one_error_line(result, "THREADLINE_DEBUG")


def test_an_unforeseen_error_without_a_message_still_gives_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def silent_failure() -> None:
        raise TimeoutError()  # what a connection to a host that drops packets ends with

    monkeypatch.delenv("THREADLINE_DEBUG", raising=False)
    monkeypatch.setattr(cli, "app", silent_failure)

    with pytest.raises(SystemExit) as exited:
        cli.main()

    assert exited.value.code == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: TimeoutError")


def test_channels_add_whatsapp_stores_secrets_encrypted(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    migrated_db(db, "Acme")
    args = [
        "channels",
        "add",
        "whatsapp",
        "--workspace",
        "Acme",
        "--phone-number-id",
        "106540352242922",
        "--waba-id",
        "102290129340398",
        "--token",
        "EAAG-very-secret-token",
        "--app-secret",
        "app-secret-value",
        "--verify-token",
        "verify-token-value",
        "--graph-url",
        "http://127.0.0.1:8900",
    ]
    result = run_cli(args, sqlite_url(db), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    channel_id = result.stdout.strip()
    assert channel_id.startswith("chn_")
    rows = query(db, "SELECT address, account_id, base_url FROM channels WHERE id = ?", channel_id)
    assert rows == [("106540352242922", "102290129340398", "http://127.0.0.1:8900")]
    stored = database_bytes(db)
    for secret in (b"EAAG-very-secret-token", b"app-secret-value", b"verify-token-value"):
        assert secret not in stored
    again = run_cli(args, sqlite_url(db), cwd=tmp_path)
    assert_one_error_line(again, "already registered")


def test_channels_add_with_a_bad_phone_number_id_fails_readably(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    migrated_db(db, "Acme")
    result = run_cli(
        [
            "channels",
            "add",
            "whatsapp",
            "--workspace",
            "Acme",
            "--phone-number-id",
            "abc",
            "--waba-id",
            "1",
            "--token",
            "t",
            "--app-secret",
            "s",
            "--verify-token",
            "v",
        ],
        sqlite_url(db),
        cwd=tmp_path,
    )
    assert_one_error_line(result, "phone number id must be digits")


META_SECRETS = ["--token", "EAAG-page-token", "--app-secret", "page-app-secret"]


@pytest.mark.parametrize(
    ("kind", "ids", "stored"),
    [
        ("messenger", ["--page-id", "104242981234567"], ("104242981234567", "104242981234567")),
        (
            "instagram",
            ["--account-id", "17841400000000001", "--page-id", "104242981234567"],
            ("17841400000000001", "104242981234567"),
        ),
    ],
)
def test_channels_add_messenger_and_instagram_store_ids_and_encrypted_secrets(
    tmp_path: Path, kind: str, ids: list[str], stored: tuple[str, str]
) -> None:
    db = tmp_path / "cli.db"
    migrated_db(db, "Acme")
    args = ["channels", "add", kind, "--workspace", "Acme", *ids, *META_SECRETS]
    result = run_cli([*args, "--verify-token", "hub-verify"], sqlite_url(db), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    channel_id = result.stdout.strip()
    rows = query(db, "SELECT kind, address, account_id FROM channels WHERE id = ?", channel_id)
    assert rows == [(kind, *stored)]
    stored_bytes = database_bytes(db)
    for secret in (b"EAAG-page-token", b"page-app-secret", b"hub-verify"):
        assert secret not in stored_bytes


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["messenger", "--page-id", "my-page"], "page id must be digits"),
        (["instagram", "--account-id", "17841400000000001"], "--page-id"),
        (["telegram", "--page-id", "1"], "telegram"),
    ],
)
def test_channels_add_with_bad_meta_ids_fails_readably(
    tmp_path: Path, args: list[str], message: str
) -> None:
    db = tmp_path / "cli.db"
    migrated_db(db, "Acme")
    kind, *rest = args
    full = ["channels", "add", kind, "--workspace", "Acme", *rest, *META_SECRETS]
    result = run_cli([*full, "--verify-token", "v"], sqlite_url(db), cwd=tmp_path)
    assert_one_error_line(result, message)
    assert query(db, "SELECT count(*) FROM channels") == [(0,)]


def test_flows_upload_stores_versions_and_refuses_undeclared_fields_whole(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    migrated_db(db, "Shop")
    url = sqlite_url(db)
    examples = Path(__file__).resolve().parents[1] / "examples" / "flows"
    refused = run_cli(["flows", "upload", str(examples), "-w", "Shop"], url, cwd=tmp_path)
    assert_one_error_line(refused, "undeclared contact field")
    assert query(db, "SELECT count(*) FROM flows") == [(0,)]  # nothing half-uploaded

    flow = tmp_path / "hello.yaml"
    flow.write_text(
        "format: 1\nflow: hello\nname: Hello\ntriggers: [{keyword: [hi]}]\nstart: a\n"
        "nodes:\n  - {id: a, type: end, text: Hello!}\n",
        encoding="utf-8",
    )
    first = run_cli(["flows", "upload", str(flow), "-w", "Shop"], url, cwd=tmp_path)
    again = run_cli(["flows", "upload", str(flow), "-w", "Shop"], url, cwd=tmp_path)
    assert first.stdout.strip() == "hello v1 uploaded", first.stderr
    assert again.stdout.strip() == "hello v1 unchanged"
    flow.write_text(flow.read_text(encoding="utf-8").replace("Hello!", "Hi!"), encoding="utf-8")
    changed = run_cli(["flows", "upload", str(flow), "-w", "Shop"], url, cwd=tmp_path)
    assert changed.stdout.strip() == "hello v2 uploaded"
    assert query(db, "SELECT key, version, active FROM flows ORDER BY version") == [
        ("hello", 1, 0),
        ("hello", 2, 1),
    ]


SMS_ARGS = ["--account-sid", "AC" + "ab" * 16, "--auth-token", "sms-secret-token"]


def test_channels_add_sms_stores_the_number_and_the_token_encrypted(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    migrated_db(db, "Acme")
    args = ["channels", "add", "sms", "--workspace", "Acme", "--from", "+14155550100", *SMS_ARGS]
    result = run_cli([*args, "--pool", "marketing"], sqlite_url(db), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = query(db, "SELECT kind, address, account_id, config FROM channels")
    ((kind, address, account, config),) = rows
    assert (kind, address, account) == ("sms", "+14155550100", "AC" + "ab" * 16)
    assert '"pool": "marketing"' in str(config)
    assert b"sms-secret-token" not in database_bytes(db)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "4155550100", *SMS_ARGS], "from must be an E.164 number"),
        (["--from", "+14155550100", "--auth-token", "t"], "--account-sid"),
        (["--from", "+14155550100", *SMS_ARGS, "--pool", "bulk"], "pool"),
        (["--from", "+14155550100", *SMS_ARGS, "--postal-address", "1 Main St"], "email"),
    ],
)
def test_channels_add_sms_with_bad_options_fails_readably(
    tmp_path: Path, args: list[str], message: str
) -> None:
    db = tmp_path / "cli.db"
    migrated_db(db, "Acme")
    result = run_cli(
        ["channels", "add", "sms", "--workspace", "Acme", *args], sqlite_url(db), cwd=tmp_path
    )
    assert_one_error_line(result, message)
    assert query(db, "SELECT count(*) FROM channels") == [(0,)]


def test_channels_add_apple_keeps_the_msp_secret_encrypted(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    migrated_db(db, "Acme")
    secret = "c2VjcmV0LW9mLXRoZS1tc3A="  # Base64, as the MSP gives it
    args = ["channels", "add", "apple", "--workspace", "Acme", "--business-id", "biz-1"]
    result = run_cli([*args, "--msp-id", "msp-1", "--secret", secret], sqlite_url(db), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert query(db, "SELECT kind, address, account_id FROM channels") == [
        ("apple", "biz-1", "msp-1")
    ]
    assert secret.encode() not in database_bytes(db)
    refused = run_cli(
        [*args[:-1], "biz-2", "--msp-id", "msp-1", "--secret", "not base64!"],
        sqlite_url(db),
        cwd=tmp_path,
    )
    assert_one_error_line(refused, "secret must be the MSP's Base64")


def test_channels_add_email_makes_its_own_signing_secret(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    migrated_db(db, "Acme")
    key = tmp_path / "dkim.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nsecret-dkim-material\n-----END PRIVATE KEY-----\n")
    args = ["channels", "add", "email", "--workspace", "Acme", "--from", "Shop@Example.com"]
    options = ["--smtp-url", "smtp://mailer@relay.example:587", "--smtp-password", "pw-123"]
    options += ["--postal-address", "1 Main St", "--dkim-selector", "s1"]
    result = run_cli([*args, *options, "--dkim-key-file", str(key)], sqlite_url(db), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    ((kind, address, account, config),) = query(
        db, "SELECT kind, address, account_id, config FROM channels"
    )
    assert (kind, address, account) == ("email", "shop@example.com", "example.com")
    assert '"postal_address": "1 Main St"' in str(config)
    stored = database_bytes(db)
    assert b"pw-123" not in stored and b"secret-dkim-material" not in stored
    # The relay must sign inbound mail with the secret made here: shown once, never stored plain.
    (secret,) = re.findall(r"secret (\S+) \(shown once\)", result.stderr)
    assert secret.encode() not in stored
    bad = run_cli(
        [*args[:-1], "shop2@example.com", "--smtp-url", "http://relay"],
        sqlite_url(db),
        cwd=tmp_path,
    )
    assert_one_error_line(bad, "smtp url must start with smtp:// or smtps://")
    missing = run_cli(
        [
            *args[:-1],
            "shop3@example.com",
            "--dkim-key-file",
            str(tmp_path / "nope.pem"),
            "--smtp-url",
            "smtp://relay",
        ],
        sqlite_url(db),
        cwd=tmp_path,
    )
    assert_one_error_line(missing, "--dkim-key-file: cannot read it")
