"""A short-lived in-memory view of the channels of each type, for the webhook receivers.

Every notification must be matched to its channel and verified with that channel's app
secret; reading and decrypting them per request cost more than everything else the receiver
does. Entries live for `ttl` seconds, so a new or changed channel is seen within that time
(and at once in the process that made the change, which calls `invalidate`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels import service as channels
from threadline.channels.kinds import Channel
from threadline.kit.crypto import SecretBox


@dataclass(frozen=True, slots=True)
class KnownChannel:
    id: str
    workspace_id: str
    kind: str
    address: str
    account_id: str
    app_secret: str
    verify_token: str
    config: dict[str, Any] = field(default_factory=dict)


class ChannelDirectory:
    def __init__(
        self, box: SecretBox, ttl: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._box = box
        self._ttl = ttl
        self._clock = clock
        self._loaded: dict[Channel, tuple[float, list[KnownChannel]]] = {}

    def invalidate(self) -> None:
        self._loaded.clear()

    async def of_kind(self, session: AsyncSession, kind: Channel) -> list[KnownChannel]:
        now = self._clock()
        cached = self._loaded.get(kind)
        if cached is not None and now - cached[0] <= self._ttl:
            return cached[1]
        known = []
        for row in await channels.all_of_kind(session, kind.value):
            secrets = channels.unseal(self._box, row)
            known.append(
                KnownChannel(
                    id=row.id,
                    workspace_id=row.workspace_id,
                    kind=row.kind,
                    address=row.address,
                    account_id=row.account_id,
                    app_secret=secrets.app_secret,
                    verify_token=secrets.verify_token,
                    config=dict(row.config or {}),
                )
            )
        self._loaded[kind] = (now, known)
        return known
