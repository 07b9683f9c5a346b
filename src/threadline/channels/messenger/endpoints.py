"""GET/POST /webhooks/messenger on the shared Meta receiver (entry ids are page ids)."""

from __future__ import annotations

from threadline.channels.messenger.adapter import ADAPTER
from threadline.channels.meta.receiver import entry_ids, webhook_router

router = webhook_router(ADAPTER, referenced=entry_ids)
