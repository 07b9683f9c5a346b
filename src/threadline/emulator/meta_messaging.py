"""Messenger Pages and Instagram professional accounts, the people who write to them, and
the rules the platform applies to a Send API call: who may be addressed, in which window,
with which tag or subscription token, and how fast (platform reference §2, §3).

Self-contained on purpose: the emulator stands in for Meta, so nothing here knows Threadline.
Time is the emulator's clock (passed in), so tests move windows with `/_emulator/clock/advance`;
throughput uses wall time, as the WhatsApp side does, because a second is never "advanced"."""

from __future__ import annotations

import random
import string
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

Kind = Literal["messenger", "instagram"]
MESSENGER: Kind = "messenger"
INSTAGRAM: Kind = "instagram"

STANDARD_WINDOW = timedelta(hours=24)
AD_WINDOW = timedelta(days=7)  # the thread was opened from a Click-to-Messenger/Direct ad
HUMAN_AGENT_WINDOW = timedelta(days=7)
PRIVATE_REPLY_WINDOW = timedelta(days=7)  # a comment may be answered in private this long
# Recurring-notification tokens lived 6, 9 or 12 months depending on the frequency chosen.
TOKEN_LIFETIME = {
    "DAILY": timedelta(days=182),
    "WEEKLY": timedelta(days=273),
    "MONTHLY": timedelta(days=365),
}
WINDOW_SUBCODE: dict[Kind, int] = {MESSENGER: 2018278, INSTAGRAM: 2534022}
_WINDOW_MESSAGE: dict[Kind, str] = {
    MESSENGER: (
        "(#10) This message is sent outside of allowed window. Learn more about the new "
        "policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview"
    ),
    INSTAGRAM: "(#10) This message is sent outside of allowed window.",
}
MESSAGING_TYPES = frozenset({"RESPONSE", "UPDATE", "MESSAGE_TAG"})
HUMAN_AGENT = "HUMAN_AGENT"
# The reference lists these but marks their 2026 availability UNCERTAIN, and integrators
# report Messenger tags replaced by utility messages: refusing them keeps Threadline from
# depending on something the platform may no longer accept.
RETIRED_TAGS = frozenset({"CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE"})


class MetaRefusal(Exception):
    """A Send API call the platform refuses at once, with its Graph error code."""

    def __init__(self, code: int, message: str, subcode: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.subcode = subcode
        self.http_status = 400  # Graph answers 400 for all of these, 613 included


def invalid(message: str) -> MetaRefusal:
    """The platform's answer to a malformed parameter: code 100, no subcode."""
    return MetaRefusal(100, f"(#100) {message}")


@dataclass
class MetaAccount:
    kind: Kind
    id: str  # the Page id, or the Instagram professional account id
    access_token: str
    app_secret: str
    page_id: str | None = None  # Instagram: the linked Page
    callback_url: str | None = None
    verify_token: str | None = None
    mps: int = 40
    app_id: str = ""
    # Wall seconds from an accepted send to its echo, delivery and read webhooks.
    echo_delay: float = 0.05
    delivery_delay: float = 0.1
    read_delay: float = 0.2

    @property
    def object(self) -> str:
        return "page" if self.kind == MESSENGER else "instagram"


@dataclass
class MetaPerson:
    id: str  # PSID or IGSID
    name: str = ""
    accepts_messages: bool = True
    reads: bool = True
    last_action_at: datetime | None = None
    ad_entry_at: datetime | None = None
    mids: list[str] = field(default_factory=list)  # the person's own messages
    inbox: list[dict[str, Any]] = field(default_factory=list)  # what the business sent

    def window_open(self, now: datetime) -> bool:
        if self.last_action_at is not None and now < self.last_action_at + STANDARD_WINDOW:
            return True
        return self.ad_entry_at is not None and now < self.ad_entry_at + AD_WINDOW

    def human_agent_open(self, now: datetime) -> bool:
        return self.last_action_at is not None and now < self.last_action_at + HUMAN_AGENT_WINDOW

    def knows(self, mid: str) -> bool:
        """A message in this thread, from either side."""
        return mid in self.mids or any(item.get("mid") == mid for item in self.inbox)


@dataclass
class SubscriptionToken:
    token: str
    account_id: str
    person_id: str
    title: str
    frequency: str
    payload: str
    timezone: str
    issued_at: datetime
    expires_at: datetime
    stopped: bool = False


@dataclass
class PostComment:
    """A person's public comment on one of the account's posts: it allows one private reply
    (`recipient: {"comment_id"}`) within PRIVATE_REPLY_WINDOW, and opens no window."""

    id: str
    account_id: str
    person_id: str
    text: str
    media_id: str
    at: datetime
    replied: bool = False


@dataclass
class Recipient:
    """Who a Send API call addresses, once the account is known."""

    account: MetaAccount
    person: MetaPerson | None
    token: SubscriptionToken | None = None
    by_token: bool = False
    comment: PostComment | None = None


@dataclass
class MetaRequest:
    """One Send API call as the platform received it (token removed), and its answer."""

    at: str
    method: str
    path: str
    query: dict[str, str]
    auth: str | None  # "query", "header" or None
    body: Any
    status: int = 200
    result: str = "error"
    code: int | None = None
    error_subcode: int | None = None
    message_id: str | None = None


@dataclass
class Sent:
    """An accepted send: the inbox entry it made and its message id (None for actions)."""

    mid: str | None
    entry: dict[str, Any]
    at: datetime


class MetaState:
    def __init__(self, clock: Callable[[], datetime], seed: int = 0) -> None:
        self._clock = clock
        # Its own generator, so Meta traffic never shifts the WhatsApp side's seeded sequence.
        self.rng = random.Random(seed)
        self.accounts: dict[str, MetaAccount] = {}
        self.people: dict[str, dict[str, MetaPerson]] = defaultdict(dict)
        self.tokens: dict[str, SubscriptionToken] = {}
        self.comments: dict[str, PostComment] = {}
        self.requests: dict[str, list[MetaRequest]] = defaultdict(list)
        self._sends: dict[str, deque[float]] = defaultdict(deque)

    def now(self) -> datetime:
        return self._clock()

    # -- ids ----------------------------------------------------------------------------
    def _chars(self, n: int) -> str:
        alphabet = string.ascii_letters + string.digits
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def new_mid(self) -> str:
        return "m_" + self._chars(40)

    def new_comment_id(self) -> str:
        return "178" + "".join(self.rng.choice(string.digits) for _ in range(14))

    def fbtrace_id(self) -> str:
        return self._chars(11)

    # -- lookups ------------------------------------------------------------------------
    def accounts_for_token(self, token: str | None) -> list[MetaAccount]:
        found = [a for a in self.accounts.values() if token and a.access_token == token]
        if not found:
            raise MetaRefusal(190, "Invalid OAuth access token - Cannot parse access token")
        return found

    def pick(self, candidates: list[MetaAccount], body: Any) -> MetaAccount:
        """A Page token also works for the Instagram account linked to the Page: the
        recipient decides which of the token's accounts the call is for."""
        recipient = body.get("recipient") if isinstance(body, dict) else None
        if isinstance(recipient, dict):
            token = self.tokens.get(str(recipient.get("notification_messages_token")))
            comment = self.comments.get(str(recipient.get("comment_id")))
            person_id = str(recipient.get("id"))
            for account in candidates:
                if token is not None and token.account_id == account.id:
                    return account
                if comment is not None and comment.account_id == account.id:
                    return account
                if person_id in self.people[account.id]:
                    return account
        return sorted(candidates, key=lambda a: a.kind != MESSENGER)[0]

    def person(self, account: MetaAccount, person_id: str) -> MetaPerson | None:
        return self.people[account.id].get(person_id)

    # -- the rules of a send ------------------------------------------------------------
    def check_rate(self, account: MetaAccount, wall: float) -> None:
        sends = self._sends[account.id]
        while sends and wall - sends[0] >= 1.0:
            sends.popleft()
        if len(sends) >= account.mps:
            raise MetaRefusal(613, "(#613) Calls to this api have exceeded the rate limit.")
        sends.append(wall)

    def recipient(self, account: MetaAccount, body: dict[str, Any]) -> Recipient:
        recipient = body.get("recipient")
        if not isinstance(recipient, dict) or not recipient:
            raise invalid("The parameter recipient is required")
        if "notification_messages_token" in recipient:
            if account.kind == INSTAGRAM:
                raise invalid("Instagram has no notification_messages_token recipients")
            token = self.tokens.get(str(recipient["notification_messages_token"]))
            person = self.person(account, token.person_id) if token is not None else None
            return Recipient(account, person, token, by_token=True)
        if "comment_id" in recipient:
            comment = self.comments.get(str(recipient["comment_id"]))
            if comment is None or comment.account_id != account.id:
                raise invalid("The comment_id does not name a comment on this account")
            return Recipient(account, self.person(account, comment.person_id), comment=comment)
        if "id" not in recipient:
            raise invalid("recipient needs an id, a comment_id or a notification_messages_token")
        return Recipient(account, self.person(account, str(recipient["id"])))

    def check_policy(
        self, recipient: Recipient, body: dict[str, Any]
    ) -> tuple[str | None, str | None]:
        """The messaging_type and tag the send goes out under, or a refusal."""
        if recipient.by_token:
            return self._check_token_send(recipient, body), None
        if recipient.comment is not None:
            self._check_private_reply(recipient, body)
            return None, None
        person = recipient.person
        if person is None:
            raise MetaRefusal(100, "(#100) No matching user found", 2018001)
        _check_thread_refs(person, body)
        if "sender_action" in body:
            self._check_reachable(recipient.account, person, tag=None)
            return None, None
        messaging_type = body.get("messaging_type")
        if messaging_type not in MESSAGING_TYPES:
            raise invalid("Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}")
        tag = body.get("tag") if messaging_type == "MESSAGE_TAG" else None
        if messaging_type == "MESSAGE_TAG":
            _check_tag(tag)
        self._check_reachable(recipient.account, person, tag)
        return str(messaging_type), tag

    def _check_token_send(self, recipient: Recipient, body: dict[str, Any]) -> str | None:
        token, person = recipient.token, recipient.person
        if "sender_action" in body:
            raise invalid("sender_action needs a recipient id")
        if token is None or token.account_id != recipient.account.id or person is None:
            raise invalid("The notification_messages_token is invalid for this Page")
        if token.stopped:
            raise invalid("The person turned these notifications off (STOP_NOTIFICATIONS)")
        if self.now() >= token.expires_at:
            raise invalid("The notification_messages_token has expired")
        if not person.accepts_messages:
            raise MetaRefusal(551, "(#551) This person isn't available right now.", 1545041)
        # A subscription send is the one way outside the window: no window check here.
        messaging_type = body.get("messaging_type")
        return str(messaging_type) if messaging_type is not None else None

    def _check_private_reply(self, recipient: Recipient, body: dict[str, Any]) -> None:
        comment, person = recipient.comment, recipient.person
        assert comment is not None and person is not None
        if "sender_action" in body:
            raise invalid("sender_action needs a recipient id")
        if not person.accepts_messages:
            raise MetaRefusal(551, "(#551) This person isn't available right now.", 1545041)
        if comment.replied:
            # The platform allows one private reply per comment; the exact code it answers a
            # second one with is not documented in the reference, so it reads as a window.
            raise MetaRefusal(10, "(#10) This comment already has a private reply.")
        if self.now() >= comment.at + PRIVATE_REPLY_WINDOW:
            kind = recipient.account.kind
            raise MetaRefusal(10, _WINDOW_MESSAGE[kind], WINDOW_SUBCODE[kind])

    def _check_reachable(self, account: MetaAccount, person: MetaPerson, tag: str | None) -> None:
        if not person.accepts_messages:
            raise MetaRefusal(551, "(#551) This person isn't available right now.", 1545041)
        now = self.now()
        if person.window_open(now) or (tag == HUMAN_AGENT and person.human_agent_open(now)):
            return
        raise MetaRefusal(10, _WINDOW_MESSAGE[account.kind], WINDOW_SUBCODE[account.kind])

    def deliver(
        self,
        recipient: Recipient,
        body: dict[str, Any],
        messaging_type: str | None,
        tag: str | None,
    ) -> Sent:
        """Put an accepted send in the person's inbox."""
        person = recipient.person
        assert person is not None  # check_policy refused sends to nobody
        now = self.now()
        action = body.get("sender_action")
        mid = None if action is not None else self.new_mid()
        entry: dict[str, Any] = {
            "mid": mid,
            "at": now.isoformat(),
            "timestamp": ms(now),
            "messaging_type": messaging_type,
            "tag": tag,
            "via": _addressed_by(recipient),
        }
        if recipient.comment is not None:
            recipient.comment.replied = True
            entry["comment_id"] = recipient.comment.id
        if action is not None:
            entry["sender_action"] = action
            if body.get("payload") is not None:
                entry["payload"] = body["payload"]
        else:
            entry["message"] = body.get("message")
        person.inbox.append(entry)
        return Sent(mid, entry, now)

    # -- what people do -----------------------------------------------------------------
    def person_acted(self, person: MetaPerson, *, from_ad: bool = False) -> datetime:
        """A message, postback or referral from the person: it (re)opens the window."""
        now = self.now()
        person.last_action_at = now
        if from_ad:
            person.ad_entry_at = now
        return now

    def issue_token(
        self,
        account: MetaAccount,
        person: MetaPerson,
        *,
        title: str,
        frequency: str,
        payload: str,
        timezone: str,
    ) -> SubscriptionToken:
        now = self.now()
        value = "".join(self.rng.choice(string.digits) for _ in range(20))
        token = SubscriptionToken(
            token=value,
            account_id=account.id,
            person_id=person.id,
            title=title,
            frequency=frequency,
            payload=payload,
            timezone=timezone,
            issued_at=now,
            expires_at=now + TOKEN_LIFETIME[frequency],
        )
        self.tokens[value] = token
        return token

    def active_tokens(self, account: MetaAccount, person: MetaPerson) -> list[SubscriptionToken]:
        return [
            t
            for t in self.tokens.values()
            if t.account_id == account.id and t.person_id == person.id and not t.stopped
        ]


def _addressed_by(recipient: Recipient) -> str:
    if recipient.by_token:
        return "notification_messages_token"
    return "comment_id" if recipient.comment is not None else "id"


def ms(at: datetime) -> int:
    """Messenger and Instagram timestamps: Unix milliseconds."""
    return int(at.timestamp() * 1000)


def _check_tag(tag: Any) -> None:
    if tag is None:
        raise invalid("Param tag is required when messaging_type is MESSAGE_TAG")
    if tag in RETIRED_TAGS:
        raise invalid(f"Tag {tag} is no longer supported; only HUMAN_AGENT is accepted")
    if tag != HUMAN_AGENT:
        raise invalid(f"Param tag must be HUMAN_AGENT, not {tag}")


def _check_thread_refs(person: MetaPerson, body: dict[str, Any]) -> None:
    """A reply or a reaction must point at a message of this thread."""
    message = body.get("message")
    reply_to = message.get("reply_to") if isinstance(message, dict) else None
    if isinstance(reply_to, dict) and not person.knows(str(reply_to.get("mid"))):
        raise invalid("reply_to.mid is not a message in this conversation")
    payload = body.get("payload")
    reacts = body.get("sender_action") in ("react", "unreact")
    if reacts and isinstance(payload, dict) and not person.knows(str(payload.get("message_id"))):
        raise invalid("payload.message_id is not a message in this conversation")
