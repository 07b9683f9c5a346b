"""Shared steps of the growth tests: a page made through the API, the public form read
and posted as a browser does (cookie and token included)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.conftest import Tenant

DISCLOSURE = (
    "Yes, Workspace A may send me offers by the channels I chose, up to 4 a month. "
    "Consent is not a condition of purchase. Reply STOP to opt out, HELP for help."
)


async def make_page(tenant: Tenant, **extra: Any) -> dict[str, Any]:
    body = {"topic": "marketing", "title": "Offers and news", "disclosure": DISCLOSURE}
    r = await tenant.client.post("/api/v1/growth/pages", json={**body, **extra})
    assert r.status_code == 201, r.text
    page: dict[str, Any] = r.json()
    return page


def form_token(page_html: str) -> str:
    found = re.search(r'name="token" value="([^"]+)"', page_html)
    assert found, page_html
    return found.group(1)


async def open_form(browser: httpx.AsyncClient, path: str) -> str:
    r = await browser.get(path)
    assert r.status_code == 200, r.text
    return form_token(r.text)


async def post_form(
    browser: httpx.AsyncClient, path: str, token: str, **fields: Any
) -> httpx.Response:
    data: dict[str, Any] = {"token": token, **fields}
    return await browser.post(
        path,
        data=data,
        headers={"User-Agent": "Mozilla/5.0 (test phone)"},
    )


def browser_for(app_client: httpx.AsyncClient) -> httpx.AsyncClient:
    """A client of its own, so its cookie jar is one visitor's."""
    return httpx.AsyncClient(transport=app_client._transport, base_url=app_client.base_url)
