"""Instagram's handler: the shared Meta messaging adapter with Instagram's facts."""

from __future__ import annotations

from threadline.channels.instagram.declaration import INSTAGRAM
from threadline.channels.meta.adapter import MetaMessagingAdapter

ADAPTER = MetaMessagingAdapter(INSTAGRAM, webhook_object="instagram")
