"""The emulator speaks Instagram Direct through the Messenger Platform: the same Send API
route and Page token, Instagram's own window error (10/2534022), its tighter limits, reactions
only with "love", no subscription tokens, `object: "instagram"` webhooks with reads as
`messaging_seen`, and the person's story mentions, likes, unsends and reactions.

The harness (in-process emulator, webhook receiver on a real port) is the Messenger tests'."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.emulator.test_emulator_messenger import (
    ANA,
    APP_ID,
    DAY,
    HOUR,
    IG,
    PAGE,
    SECRET,
    TOKEN,
    Meta,
    covers,
    echo_of,
    fixture,
    meta_emulator,
    refusal,
)

IGSID = "6543000000000001"


@pytest.fixture
async def instagram() -> AsyncIterator[Meta]:
    async with meta_emulator("instagram") as m:
        await m.add_person(IGSID, name="Bia")
        yield m


def item(payload: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = payload["entry"][0]["messaging"][0]
    return event


async def test_a_person_writes_and_the_account_gets_an_instagram_webhook(
    instagram: Meta,
) -> None:
    body = await instagram.says(IGSID, "Hello World")
    await instagram.receiver.wait_for(lambda i: "message" in i)
    assert instagram.receiver.payloads() == [body]  # signed with the app secret, as posted
    assert body["object"] == "instagram" and body["entry"][0]["id"] == IG
    assert item(body)["sender"] == {"id": IGSID} and item(body)["recipient"] == {"id": IG}
    assert covers(body, fixture("instagram", "hello_msg"))
    image = {"type": "image", "url": "https://image-url/foo.png"}
    assert covers(await instagram.says(IGSID, attachment=image), fixture("instagram", "attachment"))


async def test_after_25_hours_a_reply_is_refused_with_10_2534022(instagram: Meta) -> None:
    await instagram.says(IGSID)
    await instagram.advance(23 * HOUR)
    assert (await instagram.reply(IGSID)).status_code == 200
    await instagram.advance(25 * HOUR)
    assert refusal(await instagram.reply(IGSID)) == (10, 2534022)


async def test_human_agent_is_allowed_on_day_6_and_refused_on_day_8(instagram: Meta) -> None:
    await instagram.says(IGSID)
    agent = {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    await instagram.advance(6 * DAY)
    assert (await instagram.reply(IGSID, **agent)).status_code == 200
    await instagram.advance(2 * DAY)
    assert refusal(await instagram.reply(IGSID, **agent)) == (10, 2534022)


async def test_an_ad_referral_opens_seven_days(instagram: Meta) -> None:
    await instagram.says(IGSID, "Price?", referral={"source": "ADS", "ad_id": "120", "ref": "x"})
    await instagram.advance(6 * DAY + 23 * HOUR)
    assert (await instagram.reply(IGSID)).status_code == 200


@pytest.mark.parametrize(
    ("message", "accepted"),
    [
        ({"text": "x" * 1000}, True),
        ({"text": "x" * 1001}, False),
        ({"attachment": {"type": "file", "payload": {"url": "https://x/y.pdf"}}}, False),
        ({"attachment": {"type": "like_heart"}}, True),
        ({"text": "Email?", "quick_replies": [{"content_type": "user_email"}]}, False),
    ],
)
async def test_instagram_limits(instagram: Meta, message: dict[str, Any], accepted: bool) -> None:
    await instagram.says(IGSID)
    body = {"recipient": {"id": IGSID}, "messaging_type": "RESPONSE", "message": message}
    r = await instagram.send(body)
    if accepted:
        assert r.status_code == 200, r.text
    else:
        assert refusal(r) == (100, None)


async def test_instagram_has_no_subscription_tokens(instagram: Meta) -> None:
    await instagram.control(f"/pages/{IG}/people/{IGSID}/optin", {"title": "Deals"}, status=400)
    body = {"recipient": {"notification_messages_token": "1"}, "message": {"text": "Deal"}}
    assert refusal(await instagram.send(body)) == (100, None)


async def test_the_account_reacts_only_with_love(instagram: Meta) -> None:
    said = await instagram.says(IGSID, "Got it!")
    mid = item(said)["message"]["mid"]

    async def react(reaction: str, message_id: str = mid) -> Any:
        payload = {"message_id": message_id, "reaction": reaction}
        return await instagram.send(
            {"recipient": {"id": IGSID}, "sender_action": "react", "payload": payload}
        )

    assert refusal(await react("like")) == (100, None)
    assert refusal(await react("love", "m_not_here")) == (100, None)
    r = await react("love")
    assert r.status_code == 200 and r.json() == {"recipient_id": IGSID}
    (entry,) = await instagram.inbox(IGSID)
    assert entry["sender_action"] == "react" and entry["mid"] is None
    assert entry["payload"] == {"message_id": mid, "reaction": "love"}


async def test_echo_then_messaging_seen_and_no_delivery(instagram: Meta) -> None:
    await instagram.says(IGSID)
    r = await instagram.reply(IGSID, "Thanks", message={"metadata": "case:7"})
    mid = r.json()["message_id"]
    (echo,) = await instagram.receiver.wait_for(echo_of(mid))
    assert echo["sender"] == {"id": IG} and echo["recipient"] == {"id": IGSID}
    assert echo["message"]["metadata"] == "case:7" and echo["message"]["app_id"] == int(APP_ID)
    (seen,) = await instagram.receiver.wait_for(lambda i: "read" in i)
    assert seen["read"] == {"mid": mid} and seen["sender"] == {"id": IGSID}
    assert [i for i in instagram.receiver.items() if "delivery" in i] == []
    assert any(covers(p, fixture("instagram", "echo")) for p in instagram.receiver.payloads()[1:])


async def test_story_mentions_likes_story_replies_unsends_and_reactions(
    instagram: Meta,
) -> None:
    mention = await instagram.person(IGSID, "story_mention", {"url": "https://story-url"})
    assert covers(mention, fixture("instagram", "story_mention"))
    assert covers(await instagram.person(IGSID, "like_heart"), fixture("instagram", "like_heart"))
    story = {"id": "17890000", "url": "https://cdn/story.mp4"}
    replied = await instagram.says(IGSID, "Love this", reply_to_story=story)
    assert item(replied)["message"]["reply_to"] == {"story": story}
    mid = item(replied)["message"]["mid"]
    unsent = await instagram.person(IGSID, "unsend", {"mid": mid})
    assert item(unsent)["message"] == {"mid": mid, "is_deleted": True}
    assert covers(unsent, fixture("instagram", "unsent_msg"))
    await instagram.control(f"/pages/{IG}/people/{IGSID}/unsend", {"mid": "m_other"}, status=404)
    reacted = await instagram.person(IGSID, "react", {"mid": mid, "emoji": "❤️"})
    assert item(reacted)["reaction"] == {
        "mid": mid,
        "action": "react",
        "reaction": "love",
        "emoji": "❤️",
    }
    removed = await instagram.person(IGSID, "react", {"mid": mid})
    assert item(removed)["reaction"] == {"mid": mid, "action": "unreact"}
    tapped = await instagram.person(
        IGSID, "postback", {"title": "icebreaker question", "payload": "get_started"}
    )
    assert covers(tapped, fixture("instagram", "icebreaker_get_started"))


async def test_a_person_who_turned_messages_off_gets_551(instagram: Meta) -> None:
    await instagram.says(IGSID)
    await instagram.control(f"/pages/{IG}/people/{IGSID}", {"accepts_messages": False})
    assert refusal(await instagram.reply(IGSID)) == (551, 1545041)


async def test_one_page_token_reaches_the_page_and_its_instagram_account() -> None:
    """The linked Page and IG account share the Page token: the recipient picks the account."""
    async with meta_emulator("instagram") as m:
        page = {"kind": "messenger", "id": PAGE, "access_token": TOKEN, "app_secret": SECRET}
        await m.control("/pages", page)
        await m.add_person(IGSID)
        await m.control(f"/pages/{PAGE}/people", {"id": ANA})
        await m.says(IGSID)
        await m.control(f"/pages/{PAGE}/people/{ANA}/send", {"text": "Hi"})
        assert (await m.reply(IGSID)).status_code == 200
        assert (await m.reply(ANA, "x" * 1500)).status_code == 200  # Messenger's 2000 applies
        assert [r["body"]["recipient"]["id"] for r in await m.get(f"/pages/{IG}/requests")] == [
            IGSID
        ]
        assert len(await m.get(f"/pages/{PAGE}/requests")) == 1
