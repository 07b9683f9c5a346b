"""What the benchmarks share: a workspace with one WhatsApp number, in the caller's session,
and the one way a goal is printed (bench/run_all.py gathers these lines)."""

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
    session: AsyncSession,
    now: datetime,
    *,
    app_secret: str = "s",
    workspace: str = "bench",
    phone_number_id: str = PHONE_NUMBER_ID,
    **number: Any,
) -> ChannelAccount:
    """A fresh workspace and its number (extra options go to whatsapp_number)."""
    created = (await create_workspace(session, workspace, now)).workspace
    spec = channels.whatsapp_number(
        phone_number_id,
        WABA_ID,
        access_token="t",
        app_secret=app_secret,
        verify_token="v",
        **number,
    )
    return await channels.add(session, created.id, spec, SecretBox(SECRET_KEY), now)


def goal(what: str, met: bool) -> str:
    """A goal line: `goal: <what>: met` or `NOT met`."""
    return f"goal: {what}: {'met' if met else 'NOT met'}"
