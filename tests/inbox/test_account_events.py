"""Account-level notifications: template status, category and quality; the number's quality
and messaging limit; platform errors outside any message."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.whatsapp.harness import (
    PHONE_NUMBER_ID,
    Stack,
    notification,
    post_signed,
    whatsapp_stack,
)
from threadline.channels.models import ChannelAccount
from threadline.templates.models import Template


async def notify(stack: Stack, field: str, value: dict[str, Any]) -> None:
    r = await post_signed(stack.base_url, notification(field, value))
    assert r.status_code == 200, r.text
    await stack.work()


async def template(sessions: async_sessionmaker[AsyncSession], name: str) -> Template:
    async with sessions() as s:
        found = await s.scalar(select(Template).where(Template.name == name))
    assert found is not None
    return found


async def test_template_webhooks_update_status_category_and_quality(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await stack.add_template("order_update", "UTILITY", "Order {{1}} shipped")
        await stack.sync_templates()
        synced = await template(sessions, "order_update")
        assert (synced.status, synced.category) == ("approved", "utility")
        base = {
            "message_template_id": int(synced.provider_id or 0),
            "message_template_name": "order_update",
            "message_template_language": "en_US",
        }
        await notify(
            stack,
            "message_template_status_update",
            {**base, "event": "PAUSED", "reason": "LOW_QUALITY"},
        )
        assert (await template(sessions, "order_update")).status == "paused"
        await notify(stack, "template_category_update", {**base, "new_category": "MARKETING"})
        assert (await template(sessions, "order_update")).category == "marketing"
        await notify(
            stack,
            "message_template_quality_update",
            {**base, "previous_quality_score": "GREEN", "new_quality_score": "RED"},
        )
        assert (await template(sessions, "order_update")).quality == "red"


async def test_number_flagged_red_pauses_marketing_and_limit_tier_is_recorded(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        r = await stack.emulator.post(
            f"/_emulator/numbers/{PHONE_NUMBER_ID}", json={"quality": "RED", "tier": 2000}
        )
        assert r.status_code == 200

        async def flagged() -> bool:
            async with sessions() as s:
                channel = await s.get(ChannelAccount, stack.channel_id)
            return channel is not None and channel.config["quality"] == "red"

        await stack.until(flagged)
        async with sessions() as s:
            channel = await s.get(ChannelAccount, stack.channel_id)
        assert channel is not None and channel.config["messaging_limit"] == 2000
        await stack.add_template("spring_sale", "MARKETING", "Sale: {{1}}")
        await stack.sync_templates()
        created = await stack.api.post(
            "/api/v1/contacts", json={"urns": ["whatsapp:+5511944443333"]}
        )
        contact_id = created.json()["id"]
        await stack.grant(contact_id)
        promo = await stack.send(
            contact_id, "marketing", {"type": "template", "name": "spring_sale", "body": ["20%"]}
        )
        assert promo["status"] == "refused"
        assert promo["reason"] == "quality_paused"


async def test_platform_errors_outside_messages_are_kept_on_the_channel(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await notify(
            stack,
            "messages",
            {
                "messaging_product": "whatsapp",
                "metadata": {
                    "display_phone_number": "15550783881",
                    "phone_number_id": PHONE_NUMBER_ID,
                },
                "errors": [{"code": 131000, "title": "Something went wrong"}],
            },
        )
        async with sessions() as s:
            channel = await s.get(ChannelAccount, stack.channel_id)
        assert channel is not None
        assert channel.config["last_platform_errors"][0]["code"] == 131000
