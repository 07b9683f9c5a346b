"""HTTP calls to the Cloud API (or the emulator: only the base URL differs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from threadline.channels.events import ErrorDetail
from threadline.channels.whatsapp.errors import ErrorClass, classify


@dataclass(frozen=True, slots=True)
class SendOutcome:
    provider_id: str | None = None
    message_status: str | None = None  # accepted | held_for_quality_assessment
    error: ErrorDetail | None = None
    error_class: ErrorClass | None = None
    http_status: int | None = None
    # The request may or may not have reached the platform (timeout, dropped connection):
    # the sender must reconcile before retrying, or it risks a duplicate.
    outcome_unknown: bool = False

    @property
    def ok(self) -> bool:
        return self.provider_id is not None


def _error_from(response: httpx.Response) -> SendOutcome:
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or "code" not in error:
        # No Graph error body: a proxy or an outage. Retry.
        detail = ErrorDetail(code=-response.status_code, title=f"HTTP {response.status_code}")
        return SendOutcome(
            error=detail, error_class=ErrorClass.RETRY, http_status=response.status_code
        )
    data = error.get("error_data") if isinstance(error.get("error_data"), dict) else {}
    detail = ErrorDetail(
        code=int(error["code"]),
        title=str(error.get("message", "")),
        message=str(error.get("message", "")),
        details=(data or {}).get("details"),
    )
    return SendOutcome(
        error=detail, error_class=classify(detail.code), http_status=response.status_code
    )


class WhatsAppClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        api_version: str,
        phone_number_id: str,
        access_token: str,
    ) -> None:
        self._http = http
        self._root = f"{base_url.rstrip('/')}/{api_version}"
        self._phone_number_id = phone_number_id
        self._headers = {"Authorization": f"Bearer {access_token}"}

    async def send(self, body: dict[str, Any]) -> SendOutcome:
        url = f"{self._root}/{self._phone_number_id}/messages"
        try:
            response = await self._http.post(url, json=body, headers=self._headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # Never connected: the platform did not see the request, a retry is safe.
            detail = ErrorDetail(code=-1, title=f"connection failed: {type(exc).__name__}")
            return SendOutcome(error=detail, error_class=ErrorClass.RETRY)
        except httpx.TransportError as exc:
            detail = ErrorDetail(code=-2, title=f"no answer: {type(exc).__name__}")
            return SendOutcome(error=detail, error_class=ErrorClass.RETRY, outcome_unknown=True)
        if response.status_code >= 400:
            return _error_from(response)
        payload = response.json()
        sent = (payload.get("messages") or [{}])[0]
        if not sent.get("id"):
            detail = ErrorDetail(code=-3, title="accepted without a message id")
            return SendOutcome(error=detail, error_class=ErrorClass.RETRY, outcome_unknown=True)
        return SendOutcome(
            provider_id=str(sent["id"]),
            message_status=sent.get("message_status"),
            http_status=response.status_code,
        )

    async def media_info(self, media_id: str) -> dict[str, Any]:
        """`GET /{media_id}` → url (short-lived), mime_type, sha256, file_size."""
        response = await self._http.get(f"{self._root}/{media_id}", headers=self._headers)
        response.raise_for_status()
        info: dict[str, Any] = response.json()
        return info

    async def download_media(self, media_id: str) -> tuple[bytes, str]:
        info = await self.media_info(media_id)
        response = await self._http.get(str(info["url"]), headers=self._headers)
        response.raise_for_status()
        return response.content, str(info.get("mime_type", "application/octet-stream"))
