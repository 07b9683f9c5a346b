"""The Messenger Platform Send API (Messenger and Instagram): `POST /{v}/me/messages` with
the Page token; answers `{"recipient_id", "message_id"}`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from threadline.channels.adapter import AccountAccess
from threadline.channels.errors import ErrorTable
from threadline.channels.http import accepted_without_id
from threadline.channels.meta.graph import error_outcome, post_json
from threadline.channels.outcome import SendOutcome


class MetaSendClient:
    def __init__(
        self, http: aiohttp.ClientSession, access: AccountAccess, errors: ErrorTable
    ) -> None:
        self._http = http
        self._url = f"{access.base_url.rstrip('/')}/{access.api_version}/me/messages"
        self._headers = {"Authorization": f"Bearer {access.access_token}"}
        self._errors = errors

    async def send(self, body: dict[str, Any]) -> SendOutcome:
        answer = await post_json(self._http, self._url, body, self._headers)
        if isinstance(answer, SendOutcome):
            return answer
        status, payload = answer
        if status >= 400:
            return error_outcome(status, payload, self._errors)
        message_id = payload.get("message_id") if isinstance(payload, dict) else None
        if not message_id:
            if isinstance(payload, dict) and "sender_action" in body:
                # Sender actions (typing, seen) are acknowledged without a message id.
                return SendOutcome(provider_id=f"action:{payload.get('recipient_id', '')}")
            return accepted_without_id()
        return SendOutcome(provider_id=str(message_id), http_status=status)

    async def fetch_media(self, media: Mapping[str, Any]) -> tuple[bytes, str]:
        """Messenger and Instagram attachments arrive as CDN URLs (they expire)."""
        url = str(media["url"])
        async with self._http.get(url, headers=self._headers) as response:
            response.raise_for_status()
            mime = response.headers.get("Content-Type", "application/octet-stream")
            return await response.read(), str(media.get("mime_type") or mime)
