"""The checkout's opt-in box posted by the shop, and the growth report that counts every
way in: per source, ref and day, with opt-outs charged to where the subscriber came from."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import Tenant
from threadline.kit.clock import FrozenClock

CHECKOUT = {
    "channels": ["sms"],
    "phone": "+5511999990000",
    "disclosure_text": "Text me offers from Workspace A. Not a condition of purchase.",
    "disclosure_version": "checkout-2026-01",
    "order_ref": "order-1001",
    "page_url": "https://shop.example/checkout",
    "ip": "203.0.113.9",
    "user_agent": "Mozilla/5.0 (checkout)",
}


async def _checkout(tenant: Tenant, **extra: Any) -> Any:
    return await tenant.client.post("/api/v1/growth/checkout-optins", json={**CHECKOUT, **extra})


async def test_a_ticked_checkout_box_grants_with_the_checkout_evidence(tenant: Tenant) -> None:
    r = await _checkout(tenant, checked=True)
    assert r.status_code == 201, r.text
    (granted,) = r.json()["granted"]
    assert granted["channel"] == "sms"
    (confirmation,) = r.json()["confirmations"]
    assert confirmation["status"] == "not_sent"  # this workspace has no SMS number yet
    history = await tenant.client.get(f"/api/v1/contacts/{granted['contact_id']}/consent/history")
    (line,) = history.json()
    assert (line["source"], line["disclosure_version"], line["actor"]) == (
        "checkout_checkbox",
        "checkout-2026-01",
        "checkout",
    )
    assert line["evidence"]["order_ref"] == "order-1001"
    assert line["evidence"]["ip"] == "203.0.113.9"


async def test_an_unticked_checkout_box_grants_nothing_and_says_so(tenant: Tenant) -> None:
    r = await _checkout(tenant, checked=False)
    assert r.status_code == 422
    assert r.json()["where"] == "checked"
    assert "not ticked" in r.json()["message"]
    contacts = await tenant.client.get("/api/v1/contacts")
    assert contacts.json()["items"] == [], "nothing at all was written"
    no_phone = await _checkout(tenant, checked=True, phone="")
    assert no_phone.status_code == 422 and no_phone.json()["where"] == "phone"


async def test_growth_per_source_and_day_with_opt_outs_charged_to_their_source(
    tenant: Tenant, clock: FrozenClock
) -> None:
    first = await _checkout(tenant, checked=True)
    checkout_contact = first.json()["granted"][0]["contact_id"]
    await _checkout(tenant, checked=True, phone="+5511999990001")
    # The same person ticking the box again is no new subscriber.
    await _checkout(tenant, checked=True)
    clock.advance(timedelta(days=1))
    stop = await tenant.client.post(
        f"/api/v1/contacts/{checkout_contact}/inbound",
        json={"channel": "sms", "text": "STOP", "timestamp": clock.now().isoformat()},
    )
    assert stop.status_code == 200, stop.text

    r = await tenant.client.get(
        "/api/v1/reports/growth", params={"from": "2026-03-10", "to": "2026-03-11"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rows"] == [
        {
            "day": "2026-03-10",
            "source": "checkout_checkbox",
            "ref": None,
            "opt_ins": 2,
            "opt_outs": 0,
            "net": 2,
        },
        {
            "day": "2026-03-11",
            "source": "checkout_checkbox",
            "ref": None,
            "opt_ins": 0,
            "opt_outs": 1,
            "net": -1,
        },
    ]
    assert body["total"] == {"opt_ins": 2, "opt_outs": 1, "net": 1}
    csv = await tenant.client.get(
        "/api/v1/reports/growth",
        params={"from": "2026-03-10", "to": "2026-03-11", "format": "csv"},
    )
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines() == [
        "day,source,ref,opt_ins,opt_outs,net",
        "2026-03-10,checkout_checkbox,,2,0,2",
        "2026-03-11,checkout_checkbox,,0,1,-1",
    ]
    backwards = await tenant.client.get(
        "/api/v1/reports/growth", params={"from": "2026-03-11", "to": "2026-03-10"}
    )
    assert backwards.status_code == 422
