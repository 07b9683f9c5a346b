"""GET/POST /webhooks/instagram on the shared Meta receiver (entry ids are Instagram
professional account ids)."""

from __future__ import annotations

from threadline.channels.instagram.adapter import ADAPTER
from threadline.channels.meta.receiver import entry_ids, webhook_router

router = webhook_router(ADAPTER, referenced=entry_ids)
