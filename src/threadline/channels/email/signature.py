"""The inbound webhook's signature: what a relay posting mail to /webhooks/email sends.

`X-Threadline-Signature: sha256=<hex>`, the HMAC-SHA256 of the exact raw body (the RFC 5322
message) under the receiving account's signing secret (its `app_secret`)."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Threadline-Signature"
PREFIX = "sha256="


def signature(secret: str, body: bytes) -> str:
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def valid(secret: str, body: bytes, header: str | None) -> bool:
    if not secret or not header or not header.startswith(PREFIX):
        return False
    return hmac.compare_digest(signature(secret, body).encode(), header.strip().encode())
