"""The emulator's Instagram comments: a person comments on a post (a signed `comments` change,
no window opened), and the account may answer it once in private, addressed to the comment
(`recipient: {"comment_id"}`), within 7 days."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.emulator.test_emulator_messenger import DAY, HOUR, IG, Meta, meta_emulator, refusal

IGSID = "6543000000000002"


@pytest.fixture
async def instagram() -> AsyncIterator[Meta]:
    async with meta_emulator("instagram") as m:
        await m.add_person(IGSID, name="carla.shop")
        yield m


async def comment(m: Meta, text: str = "Is this in stock?") -> str:
    body = await m.person(IGSID, "comment", {"text": text, "media_id": "17900000000000009"})
    change = body["entry"][0]["changes"][0]
    comment_id: str = change["value"]["id"]
    return comment_id


async def private_reply(m: Meta, comment_id: str, text: str = "Yes! Size?") -> httpx.Response:
    return await m.send({"recipient": {"comment_id": comment_id}, "message": {"text": text}})


async def test_a_comment_posts_a_signed_comments_change_and_opens_no_window(
    instagram: Meta,
) -> None:
    body = await instagram.person(IGSID, "comment", {"text": "Love it", "media_id": "17900001"})
    for _ in range(250):
        if instagram.receiver.posts:
            break
        await asyncio.sleep(0.02)
    assert instagram.receiver.payloads() == [body]  # signed with the app secret, as posted
    entry = body["entry"][0]
    assert body["object"] == "instagram" and entry["id"] == IG
    assert isinstance(entry["time"], int) and entry["time"] < 10**11  # seconds
    (change,) = entry["changes"]
    assert change["field"] == "comments"
    value: dict[str, Any] = change["value"]
    assert value["from"] == {"id": IGSID, "username": "carla.shop"}
    assert value["media"] == {"id": "17900001", "media_product_type": "FEED"}
    assert value["text"] == "Love it" and value["id"].isdigit()
    # A comment is not a message: a DM to the person is still outside every window.
    assert refusal(await instagram.reply(IGSID)) == (10, 2534022)


async def test_one_private_reply_per_comment_reaches_the_person(instagram: Meta) -> None:
    comment_id = await comment(instagram)
    first = await private_reply(instagram, comment_id)
    assert first.status_code == 200, first.text
    assert first.json()["recipient_id"] == IGSID and first.json()["message_id"].startswith("m_")
    (entry,) = await instagram.inbox(IGSID)
    assert entry["via"] == "comment_id" and entry["comment_id"] == comment_id
    assert entry["message"] == {"text": "Yes! Size?"}
    second = await private_reply(instagram, comment_id, "Anything else?")
    assert refusal(second) == (10, None)
    assert "already has a private reply" in second.json()["error"]["message"]
    assert len(await instagram.inbox(IGSID)) == 1


async def test_a_comment_older_than_seven_days_cannot_be_answered(instagram: Meta) -> None:
    fresh, old = await comment(instagram, "first"), None
    await instagram.advance(6 * DAY + 23 * HOUR)
    assert (await private_reply(instagram, fresh)).status_code == 200
    old = await comment(instagram, "second")
    await instagram.advance(7 * DAY + HOUR)
    assert refusal(await private_reply(instagram, old)) == (10, 2534022)


async def test_an_unknown_comment_is_refused_with_100(instagram: Meta) -> None:
    assert refusal(await private_reply(instagram, "17999999999999999")) == (100, None)


async def test_only_instagram_people_comment() -> None:
    async with meta_emulator("messenger") as messenger:
        await messenger.add_person(IGSID)
        await messenger.control(
            f"/pages/{messenger.account}/people/{IGSID}/comment", {"text": "hi"}, status=400
        )
