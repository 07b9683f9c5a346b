"""HTTP calls to the Cloud API (or the emulator: only the base URL differs).

Sending uses aiohttp: on this machine httpx's connection pool topped out at ~350 requests/s
against the emulator, aiohttp at ~2,400 (bench notes in docs/benchmarks.md), and the
dispatcher must sustain the platform's 1,000 msg/s per number."""

from __future__ import annotations

from typing import Any

import aiohttp

from threadline.channels.errors import ErrorClass
from threadline.channels.events import ErrorDetail
from threadline.channels.outcome import SendOutcome
from threadline.channels.whatsapp.errors import classify


def _error_from(status: int, body: Any) -> SendOutcome:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or "code" not in error:
        # No Graph error body: a proxy or an outage. Retry.
        detail = ErrorDetail(code=-status, title=f"HTTP {status}")
        return SendOutcome(error=detail, error_class=ErrorClass.RETRY, http_status=status)
    data = error.get("error_data") if isinstance(error.get("error_data"), dict) else {}
    detail = ErrorDetail(
        code=int(error["code"]),
        title=str(error.get("message", "")),
        message=str(error.get("message", "")),
        details=(data or {}).get("details"),
    )
    return SendOutcome(error=detail, error_class=classify(detail.code), http_status=status)


def new_session(timeout: float = 10.0, connections: int = 32) -> aiohttp.ClientSession:
    # No total timeout: waiting for a pooled connection is not the platform being slow.
    # Connecting and reading are timed separately, so a connect timeout (request never
    # sent) can be retried safely while a read timeout (maybe sent) is reconciled.
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(
            total=None, sock_connect=min(timeout, 5.0), sock_read=timeout
        ),
        connector=aiohttp.TCPConnector(limit=connections),
    )


class WhatsAppClient:
    def __init__(
        self,
        http: aiohttp.ClientSession,
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
            async with self._http.post(url, json=body, headers=self._headers) as response:
                status = response.status
                try:
                    payload = await response.json(content_type=None)
                except ValueError:
                    payload = None
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # Never connected: the platform did not see the request, a retry is safe.
            detail = ErrorDetail(code=-1, title=f"connection failed: {type(exc).__name__}")
            return SendOutcome(error=detail, error_class=ErrorClass.RETRY)
        except (TimeoutError, aiohttp.ClientError) as exc:
            detail = ErrorDetail(code=-2, title=f"no answer: {type(exc).__name__}")
            return SendOutcome(error=detail, error_class=ErrorClass.RETRY, outcome_unknown=True)
        if status >= 400:
            return _error_from(status, payload)
        sent = ((payload or {}).get("messages") or [{}])[0] if isinstance(payload, dict) else {}
        if not sent.get("id"):
            detail = ErrorDetail(code=-3, title="accepted without a message id")
            return SendOutcome(error=detail, error_class=ErrorClass.RETRY, outcome_unknown=True)
        return SendOutcome(
            provider_id=str(sent["id"]),
            message_status=sent.get("message_status"),
            http_status=status,
        )

    async def media_info(self, media_id: str) -> dict[str, Any]:
        """`GET /{media_id}` → url (short-lived), mime_type, sha256, file_size."""
        async with self._http.get(f"{self._root}/{media_id}", headers=self._headers) as response:
            response.raise_for_status()
            info: dict[str, Any] = await response.json(content_type=None)
            return info

    async def download_media(self, media_id: str) -> tuple[bytes, str]:
        info = await self.media_info(media_id)
        async with self._http.get(str(info["url"]), headers=self._headers) as response:
            response.raise_for_status()
            return await response.read(), str(info.get("mime_type", "application/octet-stream"))
