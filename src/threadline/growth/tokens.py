"""The public form's protection against cross-site requests: a signed token in the form
and a random nonce in a cookie (double submit). Another site can make a browser post the
form, but it can neither read our cookie nor sign a token naming another nonce.

The token also carries what the form showed (page, disclosure version, ref), so the grant
records the words on the screen, not whatever the page says when the post arrives."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from threadline.kit.errors import InvalidInput

COOKIE = "tl_join"
# Long enough to read the disclosure and type a number; short enough that a leaked token
# is soon worthless.
LIFETIME = timedelta(hours=2)


@dataclass(frozen=True)
class FormToken:
    page_id: str
    version: int
    ref: str | None
    nonce: str
    issued_at: int  # seconds since the epoch


def _key(secret: str) -> bytes:
    # A key of its own, so a form token can never pass for anything else signed with the
    # application secret.
    return hmac.new(secret.encode(), b"threadline growth form", hashlib.sha256).digest()


def _sign(secret: str, payload: str) -> str:
    return hmac.new(_key(secret), payload.encode(), hashlib.sha256).hexdigest()


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


def issue(
    secret: str, *, page_id: str, version: int, ref: str | None, nonce: str, now: datetime
) -> str:
    body = {"p": page_id, "v": version, "r": ref, "n": nonce, "t": int(now.timestamp())}
    payload = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()
    return f"{payload}.{_sign(secret, payload)}"


def verify(secret: str, token: str, cookie: str | None, now: datetime) -> FormToken:
    """The token's contents, or InvalidInput saying why the form must be reloaded."""
    payload, _, signature = token.partition(".")
    if not payload or not hmac.compare_digest(signature, _sign(secret, payload)):
        raise InvalidInput("this form was not issued by us; reload the page", where="token")
    try:
        body = json.loads(base64.urlsafe_b64decode(payload.encode()))
        found = FormToken(
            page_id=str(body["p"]),
            version=int(body["v"]),
            ref=body["r"] if isinstance(body["r"], str) else None,
            nonce=str(body["n"]),
            issued_at=int(body["t"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput("this form is damaged; reload the page", where="token") from exc
    if not cookie or not hmac.compare_digest(cookie, found.nonce):
        raise InvalidInput(
            "this form was sent without its cookie; allow cookies and reload the page",
            where="token",
        )
    age = now.timestamp() - found.issued_at
    if age > LIFETIME.total_seconds() or age < -300:
        raise InvalidInput("this form has expired; reload the page", where="token")
    return found
