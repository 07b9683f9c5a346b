"""DKIM: a message composed for an account with a key and a selector is signed (rsa-sha256,
relaxed/relaxed) over the headers that matter, List-Unsubscribe included (RFC 8058), and it
verifies against the public key as a receiver would look it up in DNS."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from threadline.channels import messages as m
from threadline.channels.adapter import AccountAccess, Envelope, RenderError
from threadline.channels.email.mime import POLICY, as_bytes, compose
from threadline.channels.email.render import render

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def dns_for(key: rsa.RSAPrivateKey, name: bytes) -> Callable[..., bytes | None]:
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    asked: list[bytes] = []

    def lookup(qname: bytes, timeout: int = 5) -> bytes | None:
        asked.append(qname)
        return record if qname == name else None

    return lookup


def access(key: rsa.RSAPrivateKey, **settings: str) -> AccountAccess:
    return AccountAccess(
        base_url="smtp://relay.example.com:587",
        api_version="",
        address="shop@example.com",
        access_token="",
        account_id="example.com",
        signing_secret="secret",
        private_key=pem(key),
        settings={
            "from_name": "Corner Shop",
            "postal_address": "1 Main Street",
            "public_url": "https://crm.example.com",
            "dkim_selector": "s2026",
            **settings,
        },
    )


def signature_tags(raw: bytes) -> dict[str, str]:
    header = raw.split(b"\r\nFrom:", 1)[0].decode()
    assert header.startswith("DKIM-Signature:")
    value = "".join(header.removeprefix("DKIM-Signature:").split())
    return dict(tag.split("=", 1) for tag in value.split(";") if tag)


def test_marketing_is_signed_over_the_unsubscribe_headers_and_verifies(
    key: rsa.RSAPrivateKey,
) -> None:
    envelope = Envelope(
        to="ana@example.net",
        purpose="marketing",
        callback_data="msg_7",
        reply_to="CAB1@mail.example.net",
        subject="Sale",
    )
    draft = render(m.Text(body="Olá! 20% off " + "long line " * 20), envelope)
    msg = compose(draft, access(key), NOW)
    raw = as_bytes(msg)
    tags = signature_tags(raw)
    assert tags["a"] == "rsa-sha256"
    assert tags["c"] == "relaxed/relaxed"
    assert tags["d"] == "example.com"
    assert tags["s"] == "s2026"
    assert tags["h"].split(":") == [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "mime-version",
        "content-type",
    ]
    assert dkim.verify(raw, dnsfunc=dns_for(key, b"s2026._domainkey.example.com."))


def test_the_signed_message_serialises_to_what_was_signed(key: rsa.RSAPrivateKey) -> None:
    """The message is parsed back from the signed bytes: serialising it again (as the
    client does, and as a relay re-reading it would) changes nothing."""
    draft = render(m.Text(body="Hello " * 40), Envelope(to="ana@example.net", callback_data="m1"))
    msg = compose(draft, access(key), NOW)
    raw = as_bytes(msg)
    assert as_bytes(msg) == raw
    again = BytesParser(_class=EmailMessage, policy=POLICY).parsebytes(raw)
    assert isinstance(again, EmailMessage)
    assert as_bytes(again) == raw
    assert raw.startswith(b"DKIM-Signature: v=1; a=rsa-sha256;")
    assert dkim.verify(as_bytes(again), dnsfunc=dns_for(key, b"s2026._domainkey.example.com."))


def test_tampering_breaks_the_signature(key: rsa.RSAPrivateKey) -> None:
    envelope = Envelope(to="ana@example.net", purpose="marketing", callback_data="m2")
    raw = as_bytes(compose(render(m.Text(body="Sale"), envelope), access(key), NOW))
    dns = dns_for(key, b"s2026._domainkey.example.com.")
    assert dkim.verify(raw, dnsfunc=dns)
    # A relay that strips or rewrites the unsubscribe header: the receiver sees it.
    forged = raw.replace(b"mailto:shop@example.com", b"mailto:evil@example.org")
    assert not dkim.verify(forged, dnsfunc=dns)
    assert not dkim.verify(raw.replace(b"Sale", b"Scam"), dnsfunc=dns)


def test_no_selector_or_no_key_means_no_signature(key: rsa.RSAPrivateKey) -> None:
    draft = render(m.Text(body="Hi"), Envelope(to="ana@example.net"))
    without_selector = access(key)
    settings = {k: v for k, v in without_selector.settings.items() if k != "dkim_selector"}
    assert "DKIM-Signature" not in compose(draft, replace(without_selector, settings=settings), NOW)
    assert "DKIM-Signature" not in compose(draft, replace(access(key), private_key=""), NOW)


def test_a_broken_key_is_a_clear_error(key: rsa.RSAPrivateKey) -> None:
    draft = render(m.Text(body="Hi"), Envelope(to="ana@example.net"))
    with pytest.raises(RenderError) as caught:
        compose(draft, replace(access(key), private_key="not a key"), NOW)
    assert caught.value.where == "private_key"
