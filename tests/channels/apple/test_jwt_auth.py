"""The MSP REST API's JWTs: ours to Apple (iss = MSP id, iat) and the checks on Apple's to us
(aud = MSP id; missing, forged, expired, stale or foreign tokens refused)."""

from __future__ import annotations

import base64
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning

from threadline.channels.apple.jwt_auth import (
    CLOCK_SKEW_SECONDS,
    MAX_AGE_SECONDS,
    bearer,
    token_for,
    verify,
)

KEY = bytes(range(32))
SECRET = base64.b64encode(KEY).decode()
OTHER_SECRET = base64.b64encode(bytes(range(1, 33))).decode()
MSP = "1a2b3c4d-msp"
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def apple_token(key: bytes = KEY, algorithm: str = "HS256", **claims: Any) -> str:
    claims.setdefault("aud", MSP)
    claims.setdefault("iat", int(NOW.timestamp()))
    kept = {k: v for k, v in claims.items() if v is not None}
    with warnings.catch_warnings():
        # HS512 with a 32-byte key (the point of that case) draws a key-length warning.
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return "Bearer " + jwt.encode(kept, key, algorithm=algorithm)


def test_token_for_apple_is_hs256_with_the_decoded_secret_iss_and_iat() -> None:
    token = token_for(SECRET, MSP, NOW)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, KEY, algorithms=["HS256"])
    assert claims == {"iss": MSP, "iat": int(NOW.timestamp())}


def test_token_for_refuses_a_secret_that_is_not_base64() -> None:
    with pytest.raises(ValueError, match="Base64"):
        token_for("not base64!", MSP, NOW)


def test_a_token_of_apple_for_this_msp_verifies() -> None:
    assert verify(SECRET, MSP, apple_token(), NOW)
    assert verify(SECRET, MSP, apple_token(aud=[MSP, "another"]), NOW)
    assert verify(SECRET, MSP, apple_token().replace("Bearer", "bearer"), NOW)


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (None, "missing"),
        ("", "empty"),
        ("Bearer", "no token"),
        ("Basic dXNlcjpwYXNz", "another scheme"),
        ("Bearer not.a.jwt", "not a JWT"),
        (apple_token(key=bytes(range(1, 33))), "signed with another secret"),
        (apple_token(aud="other-msp"), "for another MSP"),
        (apple_token(aud=None), "no audience"),
        (apple_token(algorithm="HS512"), "another algorithm"),
        (apple_token(iat=None), "no iat and no exp: its age is unknown"),
        (apple_token(iat="yesterday"), "iat is not a number"),
    ],
)
def test_a_bad_token_is_refused(header: str | None, why: str) -> None:
    assert not verify(SECRET, MSP, header, NOW), why


def test_an_unsigned_token_is_refused() -> None:
    unsigned = jwt.encode({"aud": MSP, "iat": int(NOW.timestamp())}, "", algorithm="none")
    assert not verify(SECRET, MSP, f"Bearer {unsigned}", NOW)


def test_tokens_are_judged_on_the_given_clock_with_a_little_skew() -> None:
    issued = int(NOW.timestamp())
    skew = CLOCK_SKEW_SECONDS
    # Issued a little in our future (their clock is ahead): fine; further: refused.
    assert verify(SECRET, MSP, apple_token(iat=issued + skew), NOW)
    assert not verify(SECRET, MSP, apple_token(iat=issued + skew + 5), NOW)
    # Without exp, a token is good for MAX_AGE after its iat.
    assert verify(SECRET, MSP, apple_token(iat=issued - MAX_AGE_SECONDS), NOW)
    assert not verify(SECRET, MSP, apple_token(iat=issued - MAX_AGE_SECONDS - skew - 1), NOW)


def test_exp_and_nbf_are_honoured_against_the_given_clock() -> None:
    stamp = int(NOW.timestamp())
    later = NOW + timedelta(hours=2)
    assert verify(SECRET, MSP, apple_token(exp=stamp + 3 * 3600), later)
    assert not verify(SECRET, MSP, apple_token(exp=stamp + 60), later)
    assert verify(SECRET, MSP, apple_token(exp=stamp + 60 - CLOCK_SKEW_SECONDS + 1), NOW)
    assert not verify(SECRET, MSP, apple_token(nbf=stamp + 3600), NOW)


def test_a_bad_stored_secret_or_empty_msp_verifies_nothing() -> None:
    assert not verify("not base64!", MSP, apple_token(), NOW)
    assert not verify(SECRET, "", apple_token(aud=""), NOW)
    assert not verify(OTHER_SECRET, MSP, apple_token(), NOW)


def test_bearer() -> None:
    assert bearer("Bearer abc") == "abc"
    assert bearer("  Bearer   abc ") == "abc"
    assert bearer("Token abc") is None
    assert bearer(None) is None
