"""Messenger's handler: the shared Meta messaging adapter with Messenger's facts."""

from __future__ import annotations

from threadline.channels.messenger.declaration import MESSENGER
from threadline.channels.meta.adapter import MetaMessagingAdapter

ADAPTER = MetaMessagingAdapter(MESSENGER, webhook_object="page")
