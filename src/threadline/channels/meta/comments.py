"""Feed-style `changes` of a Meta notification: Instagram comments on the account's posts and
reels (`comments`, `live_comments`) become `Comment` events; other fields (mentions, the Page
feed) are kept for the record as Unhandled.

A comment change looks like
`{"field": "comments", "value": {"id", "text", "from": {"id", "username"},
"media": {"id", "media_product_type"}, "parent_id"?}}`, timed by the entry's `time` (seconds)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from threadline.channels.events import ChannelEvent, Comment, Malformed, Sender, Unhandled

COMMENT_FIELDS = frozenset({"comments", "live_comments"})


def parse_changes(account: str, entry: dict[str, Any], comments: bool) -> list[ChannelEvent]:
    """The events of `entry["changes"]`; `comments` says whether this type reads comments."""
    changes = entry.get("changes")
    if changes is None:
        return []
    if not isinstance(changes, list):
        return [Malformed("changes", "changes is not a list", {"changes": changes})]
    out: list[ChannelEvent] = []
    for change in changes:
        if not isinstance(change, dict):
            out.append(Malformed("changes", "change is not an object", {"change": change}))
            continue
        field = str(change.get("field") or "changes")
        if comments and field in COMMENT_FIELDS:
            out.append(_comment(account, entry.get("time"), change))
        else:
            out.append(Unhandled(field, f"{field} change"))
    return out


def _text_or_none(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


def _comment(account: str, time: Any, change: dict[str, Any]) -> ChannelEvent:
    value = change.get("value")
    if not isinstance(value, dict):
        return Malformed("comments", "comment value is not an object", change)
    comment_id = _text_or_none(value.get("id"))
    author = value.get("from")
    author = author if isinstance(author, dict) else {}
    author_id = _text_or_none(author.get("id"))
    if not comment_id or not author_id or not author_id.isdigit():
        return Malformed("comments", "a comment needs its id and from.id", change)
    if isinstance(time, bool) or not isinstance(time, int | float) or time <= 0:
        return Malformed("comments", "the entry has no valid time", change)
    if author_id == account:
        # The account answering in public shows up as a comment too: not a person's.
        return Unhandled("comments", "the account's own comment")
    media = value.get("media")
    return Comment(
        account=account,
        comment_id=comment_id,
        sender=Sender(address=author_id, username=_text_or_none(author.get("username"))),
        timestamp=datetime.fromtimestamp(time, tz=UTC),
        text=_text_or_none(value.get("text")),
        media_id=_text_or_none(media.get("id")) if isinstance(media, dict) else None,
        parent_id=_text_or_none(value.get("parent_id")),
        raw=change,
    )
