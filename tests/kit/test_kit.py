"""The kit: secrets at rest, API keys and passwords, redacted logs, settings, ids, clocks."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from threadline.config import DEFAULT_DEV_SECRET, Settings, normalise_database_url
from threadline.kit.clock import FrozenClock
from threadline.kit.crypto import (
    SecretBox,
    hash_api_key,
    hash_password,
    new_api_key,
    verify_password,
)
from threadline.kit.ids import new_id
from threadline.kit.logs import RedactingFilter, configure_logging, redact

# --- SecretBox -------------------------------------------------------------------------------


def test_secretbox_round_trip_and_ciphertext_hides_the_plaintext() -> None:
    box = SecretBox("a long random production key")
    secret = "EAAG-whatsapp-token-ünïcode"

    first, second = box.encrypt(secret), box.encrypt(secret)

    assert box.decrypt(first) == secret
    assert box.decrypt(second) == secret
    assert first != second  # a fresh nonce each time: equal secrets are not recognisable
    assert secret not in first
    assert "whatsapp-token" not in first
    assert SecretBox("a long random production key").decrypt(first) == secret


def test_secretbox_with_the_wrong_key_says_which_setting_is_wrong() -> None:
    token = SecretBox("the key it was written with").encrypt("app-secret")

    with pytest.raises(ValueError, match="cannot be decrypted with this THREADLINE_SECRET_KEY"):
        SecretBox("another key").decrypt(token)
    with pytest.raises(ValueError, match="THREADLINE_SECRET_KEY"):
        SecretBox("the key it was written with").decrypt(token[:-4] + "AAAA")


# --- API keys and passwords ------------------------------------------------------------------


def test_api_keys_have_the_prefix_enough_entropy_and_a_stable_hash() -> None:
    keys = [new_api_key() for _ in range(200)]

    assert all(re.fullmatch(r"tl_[A-Za-z0-9_-]{43}", key) for key in keys)  # 256 bits
    assert len(set(keys)) == len(keys)
    key = keys[0]
    assert hash_api_key(key) == hashlib.sha256(key.encode()).hexdigest()
    assert hash_api_key(key) == hash_api_key(key)
    assert hash_api_key(key) != hash_api_key(keys[1])
    assert key not in hash_api_key(key)


def test_passwords_are_hashed_with_argon2_and_verified() -> None:
    stored = hash_password("correct horse battery staple")

    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert hash_password("correct horse battery staple") != stored  # salted
    assert verify_password(stored, "correct horse battery staple") is True
    assert verify_password(stored, "correct horse battery stapler") is False
    assert verify_password(stored, "") is False
    assert verify_password("not-a-hash", "correct horse battery staple") is False
    assert verify_password("", "anything") is False


# --- redaction -------------------------------------------------------------------------------

API_KEY = "tl_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer EAAGm0PX4ZCpsBA.x-y_z", "EAAGm0PX4ZCpsBA"),
        ("authorization: bearer abc.def.ghi", "abc.def.ghi"),
        (f"request with key {API_KEY} refused", API_KEY[3:]),
        ("GET /v19.0/me?access_token=EAAB123xyz&fields=id", "EAAB123xyz"),
        ('{"app_secret": "f00dfeed1234", "app_id": "42"}', "f00dfeed1234"),
        ("login failed: password=hunter22 user=ana", "hunter22"),
        ('{"password": "correct horse battery staple"}', "horse battery staple"),
        ("token: 'abc xyz'", "xyz"),
    ],
)
def test_redact_hides_secrets(text: str, secret: str) -> None:
    cleaned = redact(text)

    assert secret not in cleaned
    assert "[redacted]" in cleaned


def test_redact_keeps_what_is_not_secret() -> None:
    harmless = '{"app_id": "42", "fields": "id,name"}'
    assert redact(harmless) == harmless
    assert redact("GET /me?access_token=EAAB123&fields=id") == (
        "GET /me?access_token=[redacted]&fields=id"
    )
    assert redact('{"password": "p w", "user": "ana"}') == (
        '{"password": "[redacted]", "user": "ana"}'
    )


@pytest.fixture
def redacting_caplog(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    redactor = RedactingFilter()
    caplog.handler.addFilter(redactor)
    caplog.set_level(logging.INFO)
    yield caplog
    caplog.handler.removeFilter(redactor)


def test_redacting_filter_cleans_log_records(redacting_caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("threadline.test")

    log.info("sending with %s", f"Authorization: Bearer {API_KEY}")
    log.warning("webhook body %s", {"app_secret": "f00dfeed1234"})
    log.info("nothing secret about %d contacts", 3)

    assert API_KEY[3:] not in redacting_caplog.text
    assert "f00dfeed1234" not in redacting_caplog.text
    messages = [record.getMessage() for record in redacting_caplog.records]
    assert messages == [
        "sending with Authorization: Bearer [redacted]",
        "webhook body {'app_secret': '[redacted]'}",
        "nothing secret about 3 contacts",
    ]


def test_configure_logging_redacts_what_reaches_the_log(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging("info")
        logging.getLogger("threadline.channels").info("token=%s", "s3cr3t-value")
        logging.getLogger("threadline.channels").debug("not shown at INFO")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)

    err = capsys.readouterr().err
    assert "INFO threadline.channels: token=[redacted]" in err
    assert "s3cr3t-value" not in err
    assert "not shown" not in err


# --- settings --------------------------------------------------------------------------------


def test_settings_from_an_explicit_mapping_ignore_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("THREADLINE_DATABASE_URL", "postgresql://leak@db.example/prod")
    monkeypatch.setenv("THREADLINE_SECRET_KEY", "leaked-secret")
    monkeypatch.setenv("THREADLINE_DEFAULT_COUNTRY", "BR")

    settings = Settings.from_env({})

    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.database_url.endswith("threadline.db")
    assert settings.secret_key.get_secret_value() == DEFAULT_DEV_SECRET
    assert settings.default_country == "US"
    assert Settings().database_url == settings.database_url  # no hidden env reading either


def test_settings_read_the_given_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREADLINE_LOG_LEVEL", "ERROR")

    settings = Settings.from_env(
        {
            "THREADLINE_DATABASE_URL": "postgresql://app@db/threadline",
            "THREADLINE_SECRET_KEY": "s3cr3t-from-mapping",
            "THREADLINE_DEFAULT_COUNTRY": "BR",
            "DATABASE_URL": "sqlite:///not-ours.db",
        }
    )

    assert settings.database_url == "postgresql://app@db/threadline"
    assert settings.secret_key.get_secret_value() == "s3cr3t-from-mapping"
    assert settings.default_country == "BR"
    assert settings.log_level == "INFO"
    assert "s3cr3t-from-mapping" not in repr(settings)


def test_settings_default_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREADLINE_DATABASE_URL", "sqlite:///from-env.db")

    assert Settings.from_env().database_url == "sqlite:///from-env.db"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///relative.db", "sqlite+aiosqlite:///relative.db"),
        ("sqlite:////var/lib/threadline.db", "sqlite+aiosqlite:////var/lib/threadline.db"),
        ("postgresql://u:p@db:5432/tl", "postgresql+asyncpg://u:p@db:5432/tl"),
        ("postgres://u@db/tl", "postgresql+asyncpg://u@db/tl"),
        ("postgresql+asyncpg://u@db/tl", "postgresql+asyncpg://u@db/tl"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_normalise_database_url_picks_the_async_driver(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected


# --- ids and clocks --------------------------------------------------------------------------


def test_new_ids_are_prefixed_unique_and_sort_in_creation_order() -> None:
    ids = [new_id("con") for _ in range(10_000)]

    assert all(re.fullmatch(r"con_[0-9a-f]{26}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert sorted(ids) == ids
    assert len(new_id("ws")) <= 40  # fits the String(40) id columns


def test_frozen_clock_needs_aware_times_and_moves_only_when_told() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FrozenClock(datetime(2026, 3, 10, 15, 0))

    clock = FrozenClock(datetime(2026, 3, 10, 12, 0, tzinfo=timezone(timedelta(hours=-3))))
    assert clock.now() == datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    assert clock.now().utcoffset() == timedelta(0)
    assert clock.now() == clock.now()

    clock.advance(timedelta(hours=25))
    assert clock.now() == datetime(2026, 3, 11, 16, 0, tzinfo=UTC)

    clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=UTC))
    assert clock.now() == datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2026, 4, 2, 9, 0))  # naive: would be read as local time
    assert clock.now() == datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
