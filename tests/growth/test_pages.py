"""Opt-in pages over HTTP: the marketer sets one up through the API, the public answers it
at /join/<slug> with a form and a QR code, and a sent form becomes a grant whose evidence
names the exact words shown, the browser and the page."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import Tenant
from tests.growth.helpers import DISCLOSURE, browser_for, make_page, open_form, post_form

BR_PHONE = "+5511999990000"


@pytest.fixture
async def browser(app_client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    async with browser_for(app_client) as client:
        yield client


async def _contact_by(tenant: Tenant, urn: str) -> dict[str, object] | None:
    r = await tenant.client.get("/api/v1/contacts", params={"urn": urn})
    items = r.json()["items"]
    return items[0] if items else None


async def _history(tenant: Tenant, contact_id: object) -> list[dict[str, object]]:
    r = await tenant.client.get(f"/api/v1/contacts/{contact_id}/consent/history")
    assert r.status_code == 200, r.text
    found: list[dict[str, object]] = r.json()
    return found


async def test_a_page_answers_at_join_slug_with_a_form_and_a_qr_code(
    tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    page = await make_page(tenant)
    assert page["slug"] == "workspace-a"
    assert page["keyword"] == "JOIN"
    assert page["urls"]["page"] == "http://threadline.test/join/workspace-a/marketing"
    r = await browser.get("/join/workspace-a")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    text = r.text
    assert "<form" in text and DISCLOSURE in text
    # The consent box is there and not ticked.
    assert 'type="checkbox" id="agree" name="agree" value="yes">' in text
    assert 'src="http://threadline.test/join/workspace-a/marketing/qr.svg"' in text
    assert r.headers["x-frame-options"] == "DENY"

    svg = await browser.get("/join/workspace-a/marketing/qr.svg")
    assert svg.status_code == 200
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.content.lstrip().startswith(b"<?xml") or b"<svg" in svg.content[:200]
    png = await browser.get("/join/workspace-a/qr.png")
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")

    missing = await browser.get("/join/nobody-here")
    assert missing.status_code == 404
    assert "no sign-up page" in missing.text


async def test_a_sent_form_grants_with_evidence_and_queues_the_confirmation(
    tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    page = await make_page(tenant)
    sms = await tenant.client.post(
        "/api/v1/channels/sms",
        json={"from": "+14155550111", "account_sid": "AC" + "ab" * 16, "auth_token": "t"},
    )
    assert sms.status_code == 201, sms.text
    token = await open_form(browser, "/join/workspace-a/marketing")
    r = await post_form(
        browser,
        "/join/workspace-a/marketing",
        token,
        channel=["sms", "email"],
        phone="+55 11 99999-0000",
        email="Ana@Example.com",
        agree="yes",
    )
    assert r.status_code == 200, r.text
    assert "signed up" in r.text
    assert "Text message (SMS)" in r.text  # the confirmation went by SMS

    contact = await _contact_by(tenant, f"tel:{BR_PHONE}")
    assert contact is not None
    assert await _contact_by(tenant, "mailto:Ana@example.com") == contact
    lines = await _history(tenant, contact["id"])
    assert {(e["action"], e["channel"], e["topic"], e["source"]) for e in lines} == {
        ("grant", "sms", "marketing", "widget"),
        ("grant", "email", "marketing", "widget"),
    }
    for line in lines:
        assert line["disclosure_text"] == DISCLOSURE
        assert line["disclosure_version"] == f"{page['id']}:v1"
        evidence = line["evidence"]
        assert isinstance(evidence, dict)
        assert evidence["user_agent"] == "Mozilla/5.0 (test phone)"
        assert evidence["page_url"] == "http://threadline.test/join/workspace-a/marketing"
        assert evidence["ip"]
    messages = await tenant.client.get(f"/api/v1/contacts/{contact['id']}/messages")
    sent = messages.json()
    bodies = [m.get("text") for m in (sent["items"] if isinstance(sent, dict) else sent)]
    assert any("you're subscribed to Marketing messages" in (b or "") for b in bodies), bodies


async def test_an_unticked_box_grants_nothing_and_says_why(
    tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    await make_page(tenant)
    token = await open_form(browser, "/join/workspace-a")
    r = await post_form(browser, "/join/workspace-a", token, channel="sms", phone=BR_PHONE)
    assert r.status_code == 422
    assert "tick the box to agree" in r.text
    assert f'value="{BR_PHONE}"' in r.text  # what they typed is still there
    assert await _contact_by(tenant, f"tel:{BR_PHONE}") is None

    bad = await post_form(
        browser, "/join/workspace-a", token, channel="sms", phone="12", agree="yes"
    )
    assert bad.status_code == 422
    assert "not a mobile number" in bad.text


async def test_a_form_without_its_cookie_or_with_a_forged_token_is_refused(
    tenant: Tenant, app_client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    await make_page(tenant)
    token = await open_form(browser, "/join/workspace-a")
    async with browser_for(app_client) as other_site:  # no cookie of ours
        r = await post_form(
            other_site, "/join/workspace-a", token, channel="sms", phone=BR_PHONE, agree="yes"
        )
    assert r.status_code == 403
    assert "cookie" in r.text
    forged = token[:-4] + ("0000" if not token.endswith("0000") else "1111")
    r = await post_form(
        browser, "/join/workspace-a", forged, channel="sms", phone=BR_PHONE, agree="yes"
    )
    assert r.status_code == 403
    assert await _contact_by(tenant, f"tel:{BR_PHONE}") is None


async def test_a_form_opened_before_an_edit_records_the_words_it_showed(
    tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    page = await make_page(tenant)
    token = await open_form(browser, "/join/workspace-a")
    new_words = DISCLOSURE.replace("up to 4 a month", "up to 8 a month")
    edited = await tenant.client.patch(
        f"/api/v1/growth/pages/{page['id']}", json={"disclosure": new_words}
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2
    assert edited.json()["disclosure"] == {"text": new_words, "version": f"{page['id']}:v2"}
    r = await post_form(
        browser, "/join/workspace-a", token, channel="sms", phone=BR_PHONE, agree="yes"
    )
    assert r.status_code == 200, r.text
    contact = await _contact_by(tenant, f"tel:{BR_PHONE}")
    assert contact is not None
    (line,) = await _history(tenant, contact["id"])
    assert (line["disclosure_text"], line["disclosure_version"]) == (
        DISCLOSURE,
        f"{page['id']}:v1",
    )


async def test_a_tracked_link_records_its_source_and_ref(
    tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    page = await make_page(tenant)
    link = await tenant.client.post(
        f"/api/v1/growth/pages/{page['id']}/links",
        json={"ref": "poster2", "source": "qr", "label": "Poster by the till"},
    )
    assert link.status_code == 201, link.text
    urls = link.json()["urls"]
    assert urls["page"].endswith("/join/workspace-a/marketing?ref=poster2")
    assert urls["qr_png"].endswith("/join/workspace-a/marketing/qr.png?ref=poster2")
    clash = await tenant.client.post(
        f"/api/v1/growth/pages/{page['id']}/links", json={"ref": "poster2"}
    )
    assert clash.status_code == 409
    token = await open_form(browser, "/join/workspace-a/marketing?ref=poster2")
    r = await post_form(
        browser, "/join/workspace-a/marketing", token, channel="sms", phone=BR_PHONE, agree="yes"
    )
    assert r.status_code == 200, r.text
    contact = await _contact_by(tenant, f"tel:{BR_PHONE}")
    assert contact is not None
    (line,) = await _history(tenant, contact["id"])
    assert line["source"] == "qr"
    evidence = line["evidence"]
    assert isinstance(evidence, dict) and evidence["ref"] == "poster2"


async def test_page_rules_slugs_keywords_and_topics(tenant: Tenant, other_tenant: Tenant) -> None:
    await make_page(tenant, slug="shop")
    taken = await other_tenant.client.post(
        "/api/v1/growth/pages",
        json={"topic": "marketing", "title": "B", "disclosure": "B words", "slug": "shop"},
    )
    assert taken.status_code == 409 and taken.json()["where"] == "slug"
    stop = await other_tenant.client.post(
        "/api/v1/growth/pages",
        json={"topic": "marketing", "title": "B", "disclosure": "B", "keyword": "STOP"},
    )
    assert stop.status_code == 422 and stop.json()["where"] == "keyword"
    unknown = await other_tenant.client.post(
        "/api/v1/growth/pages", json={"topic": "vip", "title": "B", "disclosure": "B"}
    )
    assert unknown.status_code == 422 and unknown.json()["where"] == "topic"
    twice = await tenant.client.post(
        "/api/v1/growth/pages", json={"topic": "marketing", "title": "again", "disclosure": "x"}
    )
    assert twice.status_code == 409
    listed = await tenant.client.get("/api/v1/growth/pages")
    assert [p["slug"] for p in listed.json()] == ["shop"]
    page_id = listed.json()[0]["id"]
    assert (await tenant.client.delete(f"/api/v1/growth/pages/{page_id}")).status_code == 204
    assert (await tenant.client.get(f"/api/v1/growth/pages/{page_id}")).status_code == 404
