"""The provider's REST API for one number: `POST /{version}/Accounts/{sid}/Messages.json`
(HTTP basic auth: Account SID and auth token) sends, media URLs of inbound MMS download.

The renderer's fields go as they are, with the account's `From` and, when Threadline has a
public URL, the `StatusCallback` the provider posts delivery statuses to (`/webhooks/sms`;
its signature covers that exact URL). Twilio answers 201 with the message resource
(`sid`, `status`) or an error `{"code", "message", "more_info", "status"}`."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import aiohttp

from threadline.channels.adapter import AccountAccess
from threadline.channels.errors import ErrorClass
from threadline.channels.events import ErrorDetail
from threadline.channels.http import accepted_without_id
from threadline.channels.outcome import SendOutcome
from threadline.channels.sms.errors import TABLE
from threadline.channels.sms.http_form import Fields, post_form

WEBHOOK_PATH = "/webhooks/sms"


def basic_auth(user: str, password: str) -> str:
    """HTTP basic credentials (the Account SID and the auth token) as a header value."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def status_callback(settings: Mapping[str, Any]) -> str | None:
    """Where the provider posts statuses: the public URL's /webhooks/sms, if one is set."""
    public = str(settings.get("public_url") or "").rstrip("/")
    return f"{public}{WEBHOOK_PATH}" if public else None


def form_fields(
    body: Mapping[str, Any], sender: str, callback: str | None
) -> list[tuple[str, str]]:
    """The rendered body as form fields (a list value repeats its name), with From and
    StatusCallback added."""
    fields: list[tuple[str, str]] = [("To", str(body["To"])), ("From", sender)]
    for name, value in body.items():
        if name == "To":
            continue
        values = value if isinstance(value, list) else [value]
        fields.extend((name, str(item)) for item in values)
    if callback:
        fields.append(("StatusCallback", callback))
    return fields


def error_outcome(status: int, payload: Any) -> SendOutcome:
    """A refused send: the provider's code when it gave one, else what the status says."""
    code = payload.get("code") if isinstance(payload, dict) else None
    if isinstance(code, int) or (isinstance(code, str) and code.isdigit()):
        message = str(payload.get("message", ""))
        more = payload.get("more_info")
        detail = ErrorDetail(
            code=int(code), title=message, message=message, details=str(more) if more else None
        )
        error_class = TABLE.classify(detail.code)
        return SendOutcome(error=detail, error_class=error_class, http_status=status)
    detail = ErrorDetail(code=-status, title=f"HTTP {status}")
    return SendOutcome(error=detail, error_class=_without_code(status), http_status=status)


def _without_code(status: int) -> ErrorClass:
    """No error body (a proxy, an outage): the status is all there is."""
    if status == 429:
        return ErrorClass.THROTTLE
    if status >= 500:
        return ErrorClass.RETRY
    if status in (401, 403):
        return ErrorClass.AUTH
    return ErrorClass.INVALID_REQUEST


class SmsClient:
    def __init__(self, http: aiohttp.ClientSession, access: AccountAccess) -> None:
        self._http = http
        root = f"{access.base_url.rstrip('/')}/{access.api_version}"
        self._url = f"{root}/Accounts/{access.account_id}/Messages.json"
        self._headers = {"Authorization": basic_auth(access.account_id, access.access_token)}
        self._sender = access.address
        self._callback = status_callback(access.settings)

    def fields(self, body: Mapping[str, Any]) -> Fields:
        """What `send` posts for this rendered body."""
        return form_fields(body, self._sender, self._callback)

    async def send(self, body: dict[str, Any]) -> SendOutcome:
        answer = await post_form(self._http, self._url, self.fields(body), self._headers)
        if isinstance(answer, SendOutcome):
            return answer
        status, payload = answer
        if status >= 400:
            return error_outcome(status, payload)
        sid = payload.get("sid") if isinstance(payload, dict) else None
        if not sid:
            return accepted_without_id(status)
        state = payload.get("status")
        return SendOutcome(
            provider_id=str(sid),
            message_status=str(state) if state else None,
            http_status=status,
        )

    async def fetch_media(self, media: Mapping[str, Any]) -> tuple[bytes, str]:
        """An inbound MMS attachment: its URL answers with the file (after a redirect to
        storage) for the account's credentials."""
        async with self._http.get(str(media["url"]), headers=self._headers) as response:
            response.raise_for_status()
            mime = response.headers.get("Content-Type", "application/octet-stream")
            return await response.read(), str(media.get("mime_type") or mime)
