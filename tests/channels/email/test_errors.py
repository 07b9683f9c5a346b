"""SMTP replies → error classes: the enhanced status code decides when the table knows it,
else the reply code; the encoding of enhanced codes as integers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from threadline.channels.email.declaration import EMAIL, EmailConfig
from threadline.channels.email.errors import TABLE, dotted, enhanced, hard_bounce, reply_codes
from threadline.channels.errors import ErrorClass

CASES: list[tuple[str, ErrorClass]] = [
    ("550 5.1.1 <x@example.net>: user unknown", ErrorClass.UNDELIVERABLE),
    ("550 5.1.2 Host unknown", ErrorClass.UNDELIVERABLE),
    ("550 5.1.10 RESOLVER.ADR.RecipientNotFound; null MX", ErrorClass.UNDELIVERABLE),
    ("552 5.2.2 Mailbox full", ErrorClass.UNDELIVERABLE),
    ("452 4.2.2 Mailbox full, try later", ErrorClass.RETRY),
    ("450 4.2.1 The user is receiving mail too quickly", ErrorClass.PAIR_LIMIT),
    ("552 Message size exceeds fixed limit", ErrorClass.INVALID_REQUEST),
    ("552 5.3.4 Message too big for system", ErrorClass.INVALID_REQUEST),
    ("550 5.7.1 Relaying denied", ErrorClass.POLICY_BLOCK),
    ("550 5.7.26 This mail has been blocked because the sender is unauthenticated",
     ErrorClass.POLICY_BLOCK),
    ("530 5.7.0 Authentication required", ErrorClass.AUTH),
    ("535 5.7.8 Username and Password not accepted", ErrorClass.AUTH),
    ("535 Authentication failed", ErrorClass.AUTH),
    ("421 4.7.0 Try again later, closing connection", ErrorClass.THROTTLE),
    ("421 4.7.28 Unusual rate of unsolicited mail", ErrorClass.THROTTLE),
    ("451 4.3.0 Temporary local problem", ErrorClass.RETRY),
    ("471 something new and transient", ErrorClass.RETRY),
    ("554 Transaction failed: spam", ErrorClass.POLICY_BLOCK),
    ("501 Syntax error in parameters", ErrorClass.INVALID_REQUEST),
    ("599 nothing anyone knows", ErrorClass.INVALID_REQUEST),
]  # fmt: skip


@pytest.mark.parametrize(("reply", "error_class"), CASES, ids=[c[0][:24] for c in CASES])
def test_classification(reply: str, error_class: ErrorClass) -> None:
    code, subcode = reply_codes(reply)
    assert code is not None
    assert TABLE.classify(code, subcode) is error_class


def test_enhanced_codes_as_integers() -> None:
    assert enhanced("5.1.1") == 50101
    assert enhanced("5.7.26 (DMARC)") == 50726
    assert enhanced("4.2.2") == 40202
    assert enhanced("2.0.0") == 20000
    assert enhanced("5.1") is None
    assert enhanced("5.1.1.1") is None
    assert enhanced("5.100.1") is None
    assert enhanced("hello") is None
    assert dotted(50726) == "5.7.26" and dotted(40202) == "4.2.2"


def test_reply_codes() -> None:
    assert reply_codes("550 5.1.1 no such user") == (550, 50101)
    assert reply_codes("550-5.1.1 The email account does not exist") == (550, 50101)
    assert reply_codes("550 no such user") == (550, None)
    assert reply_codes("5.1.1 no such user") == (None, 50101)
    assert reply_codes("") == (None, None)


def test_hard_bounces_are_dead_addresses_only() -> None:
    assert hard_bounce(50101) and hard_bounce(50102) and hard_bounce(50110)
    assert not hard_bounce(50202)  # full: the address exists
    assert not hard_bounce(50701) and not hard_bounce(50726)  # about the sender
    assert not hard_bounce(40101) and not hard_bounce(None)


def test_the_declaration_uses_the_table() -> None:
    assert EMAIL.errors is TABLE
    assert EMAIL.webhook_path == "/webhooks/email"
    assert EMAIL.capabilities.buttons_max == 0 and not EMAIL.capabilities.interactive
    assert EMAIL.rules.service_window is not None


def test_the_config_model() -> None:
    config = EmailConfig(public_url="https://crm.example.com/", postal_address="1 Main St")
    assert config.public_url == "https://crm.example.com"
    with pytest.raises(ValidationError):
        EmailConfig(public_url="crm.example.com")
    with pytest.raises(ValidationError):
        EmailConfig.model_validate({"colour": "red"})
