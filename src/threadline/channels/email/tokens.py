"""Unsubscribe tokens: what an unsubscribe link carries, signed so nobody can unsubscribe
someone else by guessing.

A token is `<payload>.<mac>`, both base64url without padding: the payload is the sending
address, the person's address and our message id, newline-separated (UTF-8); the mac is the
HMAC-SHA256 of the payload under the account's signing secret (`app_secret`), checked in
constant time. Tokens do not expire: CAN-SPAM wants the link to work for at least 30 days,
and unsubscribing twice is harmless. The sending address travels in the clear so the
endpoint can find the account (and its secret) without trying every one."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

_CONTEXT = b"threadline-email-unsubscribe-v1\n"
_SEPARATOR = "\n"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("unsubscribe token is not base64url") from exc


def _mac(secret: str, payload: bytes) -> bytes:
    return hmac.new(secret.encode(), _CONTEXT + payload, hashlib.sha256).digest()


def unsubscribe_token(secret: str, address: str, message_ref: str, *, sender: str = "") -> str:
    """The token of an unsubscribe link for `address` (lower-cased), about our message
    `message_ref`, sent from `sender` (our From address; "" leaves it out)."""
    if not secret:
        raise ValueError("an unsubscribe token needs the account's signing secret")
    parts = (sender.lower(), address.lower(), message_ref)
    if any(_SEPARATOR in part for part in parts):
        raise ValueError("addresses and message ids cannot contain a newline")
    payload = _SEPARATOR.join(parts).encode()
    return f"{_b64(payload)}.{_b64(_mac(secret, payload))}"


def _split(token: str) -> tuple[bytes, bytes]:
    payload_part, dot, mac_part = token.partition(".")
    if not dot or not payload_part or not mac_part:
        raise ValueError("unsubscribe token is malformed")
    return _unb64(payload_part), _unb64(mac_part)


def _fields(payload: bytes) -> tuple[str, str, str]:
    try:
        sender, address, message_ref = payload.decode().split(_SEPARATOR)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError("unsubscribe token is malformed") from exc
    return sender, address, message_ref


def token_sender(token: str) -> str:
    """The sending address a token claims, unverified: which account's secret to check it
    with ("" when the token does not say)."""
    payload, _ = _split(token)
    return _fields(payload)[0]


def read_token(secret: str, token: str) -> tuple[str, str]:
    """(address, message_ref) of a token signed with `secret`; ValueError if it is
    malformed or was not signed with that secret."""
    payload, mac = _split(token)
    if not secret or not hmac.compare_digest(_mac(secret, payload), mac):
        raise ValueError("unsubscribe token is not valid")
    _, address, message_ref = _fields(payload)
    if not address:
        raise ValueError("unsubscribe token names no address")
    return address, message_ref
