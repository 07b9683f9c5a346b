"""The payment provider's callbacks: only a body signed with the workspace's secret, within
five minutes, is taken in; each provider event once; a link is paid (and `order_paid`
recorded) exactly once, whatever the provider repeats."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.whatsapp.harness import Stack
from tests.commerce.harness import SIGNING_SECRET, events, shop_stack
from tests.conftest import T0
from threadline.commerce.callbacks import BadCallback, BadSignature, verify
from threadline.commerce.models import PaymentEvent

BODY = b'{"id":"evt_1","type":"payment_link.paid","data":{}}'


def header(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


NOW = int(T0.timestamp())


@pytest.mark.parametrize(
    ("given", "error"),
    [
        (None, BadSignature),
        ("sha256=abc", BadCallback),
        (header("another-secret-0123456789", NOW, BODY), BadSignature),
        (header(SIGNING_SECRET, NOW, BODY + b" "), BadSignature),
        (header(SIGNING_SECRET, NOW - 301, BODY), BadCallback),
        (header(SIGNING_SECRET, NOW + 301, BODY), BadCallback),
    ],
)
def test_a_callback_not_signed_now_with_the_secret_is_refused(
    given: str | None, error: type[Exception]
) -> None:
    with pytest.raises(error):
        verify(SIGNING_SECRET, given, BODY, T0)


def test_a_rotated_secret_may_sign_beside_the_old_one() -> None:
    old = header("old-secret-0123456789abc", NOW - 299, BODY).partition(",")[2]
    verify(SIGNING_SECRET, f"{header(SIGNING_SECRET, NOW - 299, BODY)},{old}", BODY, T0)


async def _open_link(stack: Stack) -> tuple[str, dict[str, Any]]:
    await stack.add_user("5511988887777")
    await stack.user_says("5511988887777", "I'd like to pay")
    contact = await stack.contact_by_urn("whatsapp:5511988887777")
    r = await stack.api.post(
        "/api/v1/commerce/payment-links",
        json={"contact_id": contact, "order_ref": "A-7", "amount": "19.90", "currency": "EUR"},
    )
    assert r.status_code == 201, r.text
    return contact, r.json()


async def _provider_link(stack: Stack, link_id: str) -> str:
    links = (await stack.emulator.get("/_emulator/pay/links")).json()
    (found,) = [x["id"] for x in links if x["metadata"]["threadline_link_id"] == link_id]
    assert isinstance(found, str)
    return found


async def _post(stack: Stack, payload: dict[str, Any], **signing: Any) -> httpx.Response:
    body = json.dumps(payload).encode()
    timestamp = int((stack.clock.now() + signing.get("skew", timedelta())).timestamp())
    signed = header(signing.get("secret", SIGNING_SECRET), timestamp, body)
    async with httpx.AsyncClient(base_url=stack.base_url) as http:
        return await http.post(
            f"/webhooks/payments/{stack.workspace_id}",
            content=body,
            headers={"Payment-Signature": signed, "Content-Type": "application/json"},
        )


async def _stored(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(PaymentEvent)) or 0)


async def test_a_forged_or_stale_callback_changes_nothing(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with shop_stack(database_url, sessions) as stack:
        contact, link = await _open_link(stack)
        paid = {
            "id": "evt_forged",
            "type": "payment_link.paid",
            "data": {"payment_link": await _provider_link(stack, link["id"])},
        }
        forged = await _post(stack, paid, secret="not-the-secret-0123456789")
        assert (forged.status_code, forged.json()["error"]) == (401, "bad_signature")
        stale = await _post(stack, paid, skew=timedelta(minutes=-6))
        assert stale.status_code == 400
        async with httpx.AsyncClient(base_url=stack.base_url) as http:
            unsigned = await http.post(
                f"/webhooks/payments/{stack.workspace_id}", content=json.dumps(paid)
            )
        assert unsigned.status_code == 401
        assert await _stored(sessions) == 0
        got = (await stack.api.get(f"/api/v1/commerce/payment-links/{link['id']}")).json()
        assert got["status"] == "open"
        assert await events(stack, contact, "order_paid") == []


async def test_two_paid_events_for_one_link_pay_it_once(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with shop_stack(database_url, sessions) as stack:
        contact, link = await _open_link(stack)
        provider_link = await _provider_link(stack, link["id"])
        answers = [
            await _post(
                stack,
                {
                    "id": event_id,
                    "type": "payment_link.paid",
                    "data": {"payment_link": provider_link},
                },
            )
            for event_id in ("evt_a", "evt_a", "evt_b")
        ]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert [a.json()["duplicate"] for a in answers] == [False, True, False]
        assert await _stored(sessions) == 2
        (event,) = await events(stack, contact, "order_paid")
        assert event["properties"]["order_ref"] == "A-7"
        assert (event["value"], event["currency"]) == ("19.9000", "EUR")


async def test_an_expired_link_is_not_paid_and_records_nothing(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with shop_stack(database_url, sessions) as stack:
        contact, link = await _open_link(stack)
        provider_link = await _provider_link(stack, link["id"])
        expired = await stack.emulator.post(f"/_emulator/pay/checkout/{provider_link}/expire")
        assert expired.json()["callback_status"] == 200
        got = (await stack.api.get(f"/api/v1/commerce/payment-links/{link['id']}")).json()
        assert got["status"] == "expired"
        assert await events(stack, contact, "order_paid") == []
        listed = await stack.api.get(
            "/api/v1/commerce/payment-links", params={"contact_id": contact}
        )
        assert [x["id"] for x in listed.json()] == [link["id"]]


async def test_a_link_needs_a_provider_and_a_consistent_amount(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with shop_stack(database_url, sessions) as stack:
        contact, _link = await _open_link(stack)
        for body, where in (
            ({"amount": "10", "items": [{"retailer_id": "MUG-1", "quantity": 1}]}, "amount"),
            ({"items": [{"retailer_id": "NOPE", "quantity": 1}]}, "items[0]"),
            ({"amount": "10"}, "currency"),
        ):
            r = await stack.api.post(
                "/api/v1/commerce/payment-links",
                json={"contact_id": contact, "order_ref": "A-8", **body},
            )
            assert (r.status_code, r.json()["where"]) == (422, where), r.text
        key = {"contact_id": contact, "order_ref": "A-9", "amount": "5", "currency": "EUR"}
        first = await stack.api.post(
            "/api/v1/commerce/payment-links", json=key | {"idempotency_key": "pay-A-9"}
        )
        replay = await stack.api.post(
            "/api/v1/commerce/payment-links", json=key | {"idempotency_key": "pay-A-9"}
        )
        assert (first.status_code, replay.status_code) == (201, 200)
        assert replay.json()["id"] == first.json()["id"]
        assert len((await stack.emulator.get("/_emulator/pay/links")).json()) == 2
