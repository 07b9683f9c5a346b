"""Instagram comments on the account's posts (`changes` with field `comments` or
`live_comments`) become Comment events with the author, the text and the post; a broken one is
Malformed and the rest of the delivery still counts; Messenger (`object: page`) reads none."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from threadline.channels import codec
from threadline.channels.events import ChannelEvent, Comment, Malformed, Sender, Unhandled
from threadline.channels.meta.messaging import parse

ACCOUNT = "17841400000000001"
AUTHOR = "9123000000000022"
TIME = 1_796_000_000  # seconds, as the entry's `time` of a feed change


def comment_value(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "from": {"id": AUTHOR, "username": "ana.souza"},
        "media": {"id": "17900000000000001", "media_product_type": "FEED"},
        "id": "17865799348089039",
        "text": "Do you ship to Recife?",
    }
    value.update(changes)
    return value


def notification(*changes: dict[str, Any], time: Any = TIME, obj: str = "instagram") -> Any:
    return {"object": obj, "entry": [{"id": ACCOUNT, "time": time, "changes": list(changes)}]}


def parsed(*changes: dict[str, Any], **kw: Any) -> list[ChannelEvent]:
    payload = notification(*changes, **kw)
    return parse(payload, expected_object=kw.get("obj", "instagram"))


def test_a_comment_names_its_author_post_and_words() -> None:
    change = {"field": "comments", "value": comment_value()}
    (event,) = parsed(change)
    assert event == Comment(
        account=ACCOUNT,
        comment_id="17865799348089039",
        sender=Sender(address=AUTHOR, username="ana.souza"),
        timestamp=datetime.fromtimestamp(TIME, tz=UTC),
        text="Do you ship to Recife?",
        media_id="17900000000000001",
        raw=change,
    )
    assert event.dedupe_key == "comment:17865799348089039"
    assert codec.load(codec.dump(event)) == event


def test_a_reply_under_another_comment_keeps_its_parent() -> None:
    (event,) = parsed({"field": "comments", "value": comment_value(parent_id="17800000000000007")})
    assert isinstance(event, Comment) and event.parent_id == "17800000000000007"


def test_a_comment_during_a_live_broadcast_is_a_comment_too() -> None:
    (event,) = parsed({"field": "live_comments", "value": comment_value()})
    assert isinstance(event, Comment)


def test_the_accounts_own_public_answer_is_not_a_persons_comment() -> None:
    own = comment_value(**{"from": {"id": ACCOUNT, "username": "shop"}})
    assert parsed({"field": "comments", "value": own}) == [
        Unhandled("comments", "the account's own comment")
    ]


BROKEN: dict[str, tuple[dict[str, Any], Any, str]] = {
    "value-not-an-object": (
        {"field": "comments", "value": "hi"},
        TIME,
        "comment value is not an object",
    ),
    "no-id": ({"field": "comments", "value": comment_value(id=None)}, TIME, "needs its id"),
    "no-author": (
        {"field": "comments", "value": comment_value(**{"from": None})},
        TIME,
        "from.id",
    ),
    "author-not-numeric": (
        {"field": "comments", "value": comment_value(**{"from": {"id": "ana"}})},
        TIME,
        "from.id",
    ),
    "no-time": ({"field": "comments", "value": comment_value()}, None, "no valid time"),
    "bool-time": ({"field": "comments", "value": comment_value()}, True, "no valid time"),
}


@pytest.mark.parametrize(("change", "time", "reason"), BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_comment_is_malformed_and_the_good_one_beside_it_counts(
    change: dict[str, Any], time: Any, reason: str
) -> None:
    good = {"field": "comments", "value": comment_value(id="17865799348089040")}
    events = parsed(change, good, time=time)
    assert isinstance(events[0], Malformed) and reason in events[0].reason
    if time is TIME:
        assert isinstance(events[1], Comment) and events[1].comment_id == "17865799348089040"


def test_messenger_reads_no_comments() -> None:
    feed = {"field": "comments", "value": comment_value()}
    assert parsed(feed, obj="page") == [Unhandled("comments", "comments change")]
