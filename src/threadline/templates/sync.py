"""Pull the templates that exist on the platform (made here or elsewhere) into the store."""

from __future__ import annotations

from datetime import datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels.models import ChannelAccount
from threadline.channels.service import unseal
from threadline.kit.crypto import SecretBox
from threadline.kit.errors import ThreadlineError
from threadline.templates import service


class SyncFailed(ThreadlineError):
    status_code = 502
    code = "platform_error"


async def sync_templates(
    session: AsyncSession,
    channel: ChannelAccount,
    box: SecretBox,
    http: httpx.AsyncClient,
    now: datetime,
) -> int:
    token = unseal(box, channel).access_token
    url: str | None = (
        f"{channel.base_url}/{channel.api_version}/{channel.account_id}/message_templates"
    )
    count = 0
    while url:
        try:
            response = await http.get(url, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise SyncFailed(f"template sync could not reach the platform: {exc}") from exc
        if response.status_code != 200:
            raise SyncFailed(
                f"template sync failed: HTTP {response.status_code} {response.text[:200]}"
            )
        page = response.json()
        for item in page.get("data", []):
            await service.upsert(
                session,
                channel.workspace_id,
                channel.account_id,
                name=item["name"],
                language=item["language"],
                category=item["category"],
                status=item["status"],
                provider_id=str(item.get("id")) if item.get("id") else None,
                components=item.get("components") or [],
                now=now,
            )
            count += 1
        url = (page.get("paging") or {}).get("next")
    return count
