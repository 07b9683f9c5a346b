"""The JWTs of the MSP REST API, both ways: HS256, signed with the MSP's Messaging API
secret (Base64, decoded to the key). A request to Apple carries `iss` = the MSP id and `iat`;
Apple's requests to the MSP carry `aud` = the MSP id. Each goes as `Authorization: Bearer`."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

import jwt

ALGORITHM = "HS256"
# How far the two clocks may disagree.
CLOCK_SKEW_SECONDS = 60
# A token without `exp` is taken this long after its `iat`; the JWT does not cover the body,
# so a captured token must not open the endpoint for long.
MAX_AGE_SECONDS = 10 * 60


def secret_key(secret_b64: str) -> bytes:
    """The signing key: the MSP secret, Base64-decoded."""
    try:
        key = base64.b64decode("".join(secret_b64.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the MSP secret is not Base64") from exc
    if not key:
        raise ValueError("the MSP secret is empty")
    return key


def token_for(secret_b64: str, msp_id: str, now: datetime) -> str:
    """A token for one request to Apple's gateway."""
    claims = {"iss": msp_id, "iat": int(now.timestamp())}
    return jwt.encode(claims, secret_key(secret_b64), algorithm=ALGORITHM)


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <jwt>` header."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} is not a number")
    return float(value)


def _fresh(claims: dict[str, Any], now: float) -> bool:
    try:
        issued = _number(claims, "iat")
        expires = _number(claims, "exp")
        not_before = _number(claims, "nbf")
    except ValueError:
        return False
    if expires is not None and now > expires + CLOCK_SKEW_SECONDS:
        return False
    if not_before is not None and now < not_before - CLOCK_SKEW_SECONDS:
        return False
    if issued is not None and issued > now + CLOCK_SKEW_SECONDS:
        return False
    if expires is None:
        # Nothing else says how old it may be: the issue time must, and be recent.
        return issued is not None and now - issued <= MAX_AGE_SECONDS + CLOCK_SKEW_SECONDS
    return True


def verify(secret_b64: str, msp_id: str, header: str | None, now: datetime) -> bool:
    """Whether an `Authorization` header of Apple's request is a token for this MSP: signed
    with its secret (HS256 only), `aud` naming it, and neither expired nor too old."""
    token = bearer(header)
    if token is None or not msp_id:
        return False
    try:
        key = secret_key(secret_b64)
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=msp_id,
            # Time is judged below against `now`, the app's clock, not the machine's.
            options={
                "require": ["aud"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except (jwt.InvalidTokenError, ValueError):
        return False
    return _fresh(claims, now.timestamp())
