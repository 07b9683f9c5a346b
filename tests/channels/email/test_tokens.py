"""Unsubscribe tokens and the inbound webhook signature: HMAC-SHA256, base64url, checked in
constant time; a forged, altered or foreign token is refused."""

from __future__ import annotations

import pytest

from threadline.channels.email import signature
from threadline.channels.email.tokens import read_token, token_sender, unsubscribe_token

SECRET = "account-secret"


def test_a_token_reads_back_to_the_address_and_message() -> None:
    token = unsubscribe_token(SECRET, "Ana@Example.NET", "msg_1", sender="Shop@Example.com")
    assert read_token(SECRET, token) == ("ana@example.net", "msg_1")
    assert token_sender(token) == "shop@example.com"
    assert "=" not in token and "/" not in token and "+" not in token
    assert token == unsubscribe_token(SECRET, "ana@example.net", "msg_1", sender="shop@example.com")


def test_a_token_without_sender_or_message() -> None:
    token = unsubscribe_token(SECRET, "ana@example.net", "")
    assert token_sender(token) == ""
    assert read_token(SECRET, token) == ("ana@example.net", "")


def _flip(text: str, index: int) -> str:
    swapped = "A" if text[index] != "A" else "B"
    return text[:index] + swapped + text[index + 1 :]


GOOD = unsubscribe_token(SECRET, "ana@example.net", "msg_1", sender="shop@example.com")
PAYLOAD, MAC = GOOD.split(".")
FORGED = unsubscribe_token("someone-else", "ben@example.net", "msg_1", sender="shop@example.com")


@pytest.mark.parametrize(
    "token",
    [
        FORGED,  # signed with another secret
        f"{FORGED.split('.')[0]}.{MAC}",  # another person, our signature
        f"{PAYLOAD}.{_flip(MAC, 3)}",  # an altered signature
        f"{_flip(PAYLOAD, 2)}.{MAC}",  # an altered payload
        PAYLOAD,  # no signature
        f"{PAYLOAD}.",
        ".",
        "",
        "not base64!.???",
        f"{PAYLOAD}.{MAC}.extra",
    ],
)
def test_bad_tokens_are_refused(token: str) -> None:
    with pytest.raises(ValueError):
        read_token(SECRET, token)


def test_a_token_needs_a_secret_and_clean_fields() -> None:
    with pytest.raises(ValueError):
        unsubscribe_token("", "ana@example.net", "m")
    with pytest.raises(ValueError):
        unsubscribe_token(SECRET, "ana@example.net\nben@example.net", "m")
    with pytest.raises(ValueError):
        read_token("", GOOD)


def test_the_webhook_signature() -> None:
    body = b"From: ana@example.net\r\n\r\nhi\r\n"
    header = signature.signature(SECRET, body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert signature.valid(SECRET, body, header)
    assert not signature.valid(SECRET, body + b"x", header)
    assert not signature.valid("other", body, header)
    assert not signature.valid(SECRET, body, None)
    assert not signature.valid(SECRET, body, header.removeprefix("sha256="))
    assert not signature.valid(SECRET, body, "sha256=é")
    assert not signature.valid("", body, signature.signature("", body))
