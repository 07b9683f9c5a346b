"""Registering an email sender through the API: the inbound-mail secret is shown once, and
mail signed with it is taken in, mail signed otherwise refused."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from tests.conftest import Tenant
from threadline.channels.email.signature import HEADER, signature

pytestmark = pytest.mark.db


def mail_to(shop: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ana <ana@people.example>"
    msg["To"] = shop
    msg["Subject"] = "Opening hours?"
    msg["Message-ID"] = "<q1@people.example>"
    msg.set_content("Are you open on Sunday?")
    return msg.as_bytes()


async def test_the_inbound_secret_is_shown_once_and_signs_what_is_taken_in(
    tenant: Tenant,
) -> None:
    r = await tenant.client.post(
        "/api/v1/channels/email",
        json={"from": "Shop@Example.com", "smtp_url": "smtp://relay.example:587"},
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["address"] == "shop@example.com"
    secret = created["inbound_secret"]
    assert secret and len(secret) >= 32
    again = (await tenant.client.get(f"/api/v1/channels/{created['id']}")).json()
    assert again["inbound_secret"] is None

    raw = mail_to("shop@example.com")
    headers = {"Content-Type": "message/rfc822"}
    forged = await tenant.client.post(
        "/webhooks/email", content=raw, headers={**headers, HEADER: signature("other", raw)}
    )
    assert forged.status_code == 401
    taken = await tenant.client.post(
        "/webhooks/email", content=raw, headers={**headers, HEADER: signature(secret, raw)}
    )
    assert taken.status_code == 200, taken.text
    assert taken.json()["stored"] == 1


async def test_a_bad_smtp_url_is_refused_naming_the_field(tenant: Tenant) -> None:
    r = await tenant.client.post(
        "/api/v1/channels/email", json={"from": "shop@example.com", "smtp_url": "https://x"}
    )
    assert r.status_code == 422
    assert r.json()["where"] == "smtp_url"
