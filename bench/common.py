"""What the benchmarks share: a workspace with one WhatsApp number, in the caller's session."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels import service as channels
from threadline.channels.models import ChannelAccount
from threadline.kit.crypto import SecretBox
from threadline.workspaces.service import create_workspace

PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
SECRET_KEY = "bench-secret-key"


async def workspace_with_number(
    session: AsyncSession, now: datetime, *, app_secret: str = "s", **number: Any
) -> ChannelAccount:
    """A fresh "bench" workspace and its number (extra options go to whatsapp_number)."""
    workspace = (await create_workspace(session, "bench", now)).workspace
    spec = channels.whatsapp_number(
        PHONE_NUMBER_ID,
        WABA_ID,
        access_token="t",
        app_secret=app_secret,
        verify_token="v",
        **number,
    )
    return await channels.add(session, workspace.id, spec, SecretBox(SECRET_KEY), now)
