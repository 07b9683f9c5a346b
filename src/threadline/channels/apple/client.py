"""Sending through Apple's MSP gateway (or the emulator: only the base URL differs).

`POST {base}/{api_version}/message` with the body as JSON and the ids again as headers:
`Authorization: Bearer <JWT iss=MSP id>`, `id` (the message's UUID), `source-id` (the
business), `destination-id` (the person's opaque id) and `auto-reply` when a bot writes.
The gateway answers 200 with no body; the message's id is the one we chose. Refusals carry
only the HTTP status, classified by the type's table."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp

from threadline.channels.adapter import AccountAccess
from threadline.channels.apple.errors import TABLE
from threadline.channels.apple.jwt_auth import token_for
from threadline.channels.errors import ErrorClass
from threadline.channels.events import ErrorDetail
from threadline.channels.http import (
    NEVER_CONNECTED_ERRORS,
    NO_ANSWER_ERRORS,
    never_connected,
    no_answer,
)
from threadline.channels.outcome import SendOutcome

# How much of a refusal's body is kept as its message.
ERROR_TEXT_MAX = 500


class AttachmentsNotBuilt(aiohttp.ClientError):
    """Apple attachments are encrypted: their download (`/v1/preDownload`, then decrypting
    with the message's key) is not built."""


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def _failed(code: int, title: str, error_class: ErrorClass, **extra: Any) -> SendOutcome:
    return SendOutcome(error=ErrorDetail(code=code, title=title), error_class=error_class, **extra)


class AppleClient:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        access: AccountAccess,
        *,
        clock: Callable[[], datetime] = _wall_clock,
    ) -> None:
        self._http = http
        root = access.base_url.rstrip("/")
        version = access.api_version.strip("/")
        self.url = f"{root}/{version}/message" if version else f"{root}/message"
        self._business = access.address
        self._msp = access.account_id
        self._secret = access.signing_secret or access.access_token
        self._auto_reply = bool(access.settings.get("auto_reply", False))
        # The JWT's iat: Apple judges it on its own (real) clock.
        self._clock = clock

    def request(self, body: Mapping[str, Any]) -> tuple[str, dict[str, Any], dict[str, str]]:
        """(message id, JSON body, headers) of one send. Raises ValueError when the MSP
        secret is not Base64."""
        destination = str(body.get("destinationId") or "")
        message_id = str(body.get("id") or str(uuid.uuid4()).upper())
        payload = {
            **body,
            "v": body.get("v", 1),
            "id": message_id,
            "sourceId": self._business,
            "destinationId": destination,
        }
        token = token_for(self._secret, self._msp, self._clock())
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "id": message_id,
            "source-id": self._business,
            "destination-id": destination,
        }
        if self._auto_reply:
            headers["auto-reply"] = "true"
        return message_id, payload, headers

    async def send(self, body: dict[str, Any]) -> SendOutcome:
        destination = body.get("destinationId")
        if not isinstance(destination, str) or not destination:
            return _failed(-4, "the body names no destinationId", ErrorClass.INVALID_REQUEST)
        try:
            message_id, payload, headers = self.request(body)
        except ValueError as exc:
            # The stored secret is not Base64: nothing signs until it is replaced.
            return _failed(-5, str(exc), ErrorClass.AUTH)
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            async with self._http.post(self.url, data=data, headers=headers) as response:
                text = await response.text(errors="replace")
                status = response.status
        except NEVER_CONNECTED_ERRORS as exc:
            return never_connected(exc)
        except NO_ANSWER_ERRORS as exc:
            return no_answer(exc)
        if 200 <= status < 300:
            return SendOutcome(provider_id=message_id, http_status=status)
        detail = ErrorDetail(
            code=status, title=f"HTTP {status}", message=text[:ERROR_TEXT_MAX].strip() or None
        )
        return SendOutcome(error=detail, error_class=TABLE.classify(status), http_status=status)

    async def fetch_media(self, media: Mapping[str, Any]) -> tuple[bytes, str]:
        raise AttachmentsNotBuilt(
            "Apple attachments are encrypted; downloading and decrypting them is not built"
        )
