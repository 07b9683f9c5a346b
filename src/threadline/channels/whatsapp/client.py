"""HTTP calls to the Cloud API (or the emulator: only the base URL differs).

Sending uses aiohttp: on this machine httpx's connection pool topped out at ~350 requests/s
against the emulator, aiohttp at ~2,400 (bench notes in docs/benchmarks.md), and the
dispatcher must sustain the platform's 1,000 msg/s per number."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from threadline.channels.http import accepted_without_id
from threadline.channels.meta.graph import error_outcome, post_json
from threadline.channels.outcome import SendOutcome
from threadline.channels.whatsapp.errors import TABLE


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
        answer = await post_json(self._http, url, body, self._headers)
        if isinstance(answer, SendOutcome):
            return answer
        status, payload = answer
        if status >= 400:
            return error_outcome(status, payload, TABLE)
        sent = ((payload or {}).get("messages") or [{}])[0] if isinstance(payload, dict) else {}
        if not sent.get("id"):
            return accepted_without_id()
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

    async def fetch_media(self, media: Mapping[str, Any]) -> tuple[bytes, str]:
        """WhatsApp media is fetched by id: the id gives a short-lived URL that needs the token."""
        return await self.download_media(str(media["media_id"]))

    async def download_media(self, media_id: str) -> tuple[bytes, str]:
        info = await self.media_info(media_id)
        async with self._http.get(str(info["url"]), headers=self._headers) as response:
            response.raise_for_status()
            return await response.read(), str(info.get("mime_type", "application/octet-stream"))
