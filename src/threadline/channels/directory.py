"""A short-lived in-memory view of the WhatsApp channels, for the webhook receiver.

Every notification must be matched to its channel and verified with that channel's app
secret; reading and decrypting them per request cost more than everything else the receiver
does. Entries live for `ttl` seconds, so a new or changed channel is seen within that time
(and at once in the process that made the change, which calls `invalidate`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels import service as channels
from threadline.kit.crypto import SecretBox


@dataclass(frozen=True, slots=True)
class KnownChannel:
    id: str
    workspace_id: str
    address: str
    account_id: str
    display_number: str
    app_secret: str
    verify_token: str


class ChannelDirectory:
    def __init__(
        self, box: SecretBox, ttl: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._box = box
        self._ttl = ttl
        self._clock = clock
        self._loaded_at: float | None = None
        self._channels: list[KnownChannel] = []

    def invalidate(self) -> None:
        self._loaded_at = None

    async def whatsapp(self, session: AsyncSession) -> list[KnownChannel]:
        now = self._clock()
        if self._loaded_at is None or now - self._loaded_at > self._ttl:
            rows = await channels.all_of_kind(session, "whatsapp")
            known = []
            for row in rows:
                secrets = channels.unseal(self._box, row)
                known.append(
                    KnownChannel(
                        id=row.id,
                        workspace_id=row.workspace_id,
                        address=row.address,
                        account_id=row.account_id,
                        display_number=row.display_number,
                        app_secret=secrets.app_secret,
                        verify_token=secrets.verify_token,
                    )
                )
            self._channels, self._loaded_at = known, now
        return self._channels
