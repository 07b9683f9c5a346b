"""`/_emulator/pages/...`: set up Messenger Pages and Instagram accounts and the people who
write to them; make those people act (write, tap, arrive from an ad, opt in or out, mention,
like, unsend, react); see what they received and what the Send API was asked.

Every person action posts its webhook, signed, to the account's callback URL and answers
with the exact body it posted."""

from __future__ import annotations

import secrets
from typing import Any, Literal

import httpx
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from threadline.emulator.meta_hooks import comment_change, from_person, optin_event, reaction
from threadline.emulator.meta_messaging import (
    INSTAGRAM,
    MESSENGER,
    MetaAccount,
    MetaPerson,
    MetaState,
    PostComment,
)
from threadline.emulator.runtime import Runtime, runtime

router = APIRouter(prefix="/_emulator/pages", tags=["emulator control: Messenger, Instagram"])
_STRICT = ConfigDict(extra="forbid")
_ID = r"^\d{1,32}$"


class PageIn(BaseModel):
    model_config = _STRICT
    kind: Literal["messenger", "instagram"]
    id: str = Field(pattern=_ID)
    page_id: str | None = Field(default=None, pattern=_ID)
    access_token: str = Field(min_length=1)
    app_secret: str = Field(min_length=1)
    callback_url: str | None = None
    verify_token: str | None = None
    mps: int = Field(default=40, ge=1, le=1000)
    app_id: str = ""
    echo_delay: float = Field(default=0.05, ge=0, le=60)
    delivery_delay: float = Field(default=0.1, ge=0, le=60)
    read_delay: float = Field(default=0.2, ge=0, le=60)


async def _verify(callback_url: str, verify_token: str) -> bool:
    """Meta's subscription handshake: the callback must echo the challenge."""
    challenge = secrets.token_hex(8)
    params = {"hub.mode": "subscribe", "hub.verify_token": verify_token, "hub.challenge": challenge}
    async with httpx.AsyncClient(timeout=10) as http:
        try:
            answer = await http.get(callback_url, params=params)
        except httpx.HTTPError as exc:
            raise HTTPException(502, f"callback unreachable: {exc}") from exc
    if answer.status_code != 200 or answer.text != challenge:
        raise HTTPException(400, f"callback verification failed ({answer.status_code})")
    return True


@router.post("")
async def add_page(body: PageIn, request: Request) -> dict[str, Any]:
    """Register (or reconfigure: people and tokens are kept) a Page or an IG account."""
    if body.kind == INSTAGRAM and body.page_id is None:
        raise HTTPException(422, "an Instagram account needs the page_id it is linked to")
    verified = None
    if body.callback_url and body.verify_token:
        verified = await _verify(body.callback_url, body.verify_token)
    runtime(request).state.meta.accounts[body.id] = MetaAccount(**body.model_dump())
    return {"id": body.id, "kind": body.kind, "verified": verified}


def _account(state: MetaState, account_id: str) -> MetaAccount:
    account = state.accounts.get(account_id)
    if account is None:
        raise HTTPException(404, f"no page or Instagram account {account_id}")
    return account


def _found(request: Request, account_id: str, person_id: str) -> tuple[MetaAccount, MetaPerson]:
    state = runtime(request).state.meta
    account = _account(state, account_id)
    person = state.person(account, person_id)
    if person is None:
        raise HTTPException(404, f"no person {person_id} on {account_id}")
    return account, person


def _only(account: MetaAccount, kind: str, what: str) -> None:
    if account.kind != kind:
        raise HTTPException(400, f"{what} exists only on {kind}")


def _post(rt: Runtime, account: MetaAccount, payload: dict[str, Any]) -> dict[str, Any]:
    rt.hooks.schedule(account, payload)
    return payload


class PersonIn(BaseModel):
    model_config = _STRICT
    id: str = Field(pattern=_ID)
    name: str = ""
    accepts_messages: bool = True
    reads: bool = True  # reads every message (read / messaging_seen webhooks)


@router.post("/{account_id}/people")
async def add_person(account_id: str, body: PersonIn, request: Request) -> dict[str, Any]:
    state = runtime(request).state.meta
    account = _account(state, account_id)
    state.people[account.id][body.id] = MetaPerson(**body.model_dump())
    return {"id": body.id}


class PersonSettingsIn(BaseModel):
    model_config = _STRICT
    name: str | None = None
    accepts_messages: bool | None = None
    reads: bool | None = None


@router.post("/{account_id}/people/{person_id}")
async def update_person(
    account_id: str, person_id: str, body: PersonSettingsIn, request: Request
) -> dict[str, Any]:
    """Change a person: e.g. they turn messages from the business off (→ 551)."""
    _, person = _found(request, account_id, person_id)
    for key, value in body.model_dump(exclude_none=True).items():
        setattr(person, key, value)
    return {"id": person.id, "accepts_messages": person.accepts_messages, "reads": person.reads}


class ReferralIn(BaseModel):
    model_config = _STRICT
    source: str = "SHORTLINK"  # ADS, SHORTLINK, CUSTOMER_CHAT_PLUGIN, ...
    ref: str | None = None
    ad_id: str | None = None


def _referral(spec: ReferralIn) -> dict[str, Any]:
    referral = {k: v for k, v in spec.model_dump().items() if v is not None}
    return {**referral, "type": "OPEN_THREAD"}


class AttachmentIn(BaseModel):
    model_config = _STRICT
    type: Literal["image", "video", "audio", "file"]
    url: str


class StoryIn(BaseModel):
    model_config = _STRICT
    id: str
    url: str


class SendIn(BaseModel):
    model_config = _STRICT
    text: str | None = None
    quick_reply: str | None = None  # the payload of the quick reply tapped (with its text)
    referral: ReferralIn | None = None  # the message came from an ad or a link
    attachment: AttachmentIn | None = None
    reply_to_story: StoryIn | None = None  # Instagram: a reply to the account's story
    reply_to: str | None = None  # the mid replied to

    @model_validator(mode="after")
    def _something(self) -> SendIn:
        if self.text is None and self.attachment is None:
            raise ValueError("a message needs text or an attachment")
        if self.quick_reply is not None and self.text is None:
            raise ValueError("a quick reply is tapped with its title as text")
        return self


def _person_message(
    rt: Runtime, account: MetaAccount, person: MetaPerson, message: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """The person writes: a `messages` webhook; it (re)opens the window."""
    meta = rt.state.meta
    mid = meta.new_mid()
    person.mids.append(mid)
    referral = message.get("referral")
    from_ad = isinstance(referral, dict) and str(referral.get("source")).upper() == "ADS"
    at = meta.person_acted(person, from_ad=from_ad)
    payload = from_person(account, person, at, message={"mid": mid, **message}, **extra)
    return _post(rt, account, payload)


@router.post("/{account_id}/people/{person_id}/send")
async def person_sends(
    account_id: str, person_id: str, body: SendIn, request: Request
) -> dict[str, Any]:
    account, person = _found(request, account_id, person_id)
    message: dict[str, Any] = {}
    if body.text is not None:
        message["text"] = body.text
    if body.quick_reply is not None:
        message["quick_reply"] = {"payload": body.quick_reply}
    if body.attachment is not None:
        attachment = {"type": body.attachment.type, "payload": {"url": body.attachment.url}}
        message["attachments"] = [attachment]
    if body.reply_to_story is not None:
        _only(account, INSTAGRAM, "a story reply")
        message["reply_to"] = {"story": body.reply_to_story.model_dump()}
    elif body.reply_to is not None:
        message["reply_to"] = {"mid": body.reply_to}
    if body.referral is not None:
        message["referral"] = _referral(body.referral)
    return _person_message(runtime(request), account, person, message)


class PostbackIn(BaseModel):
    model_config = _STRICT
    title: str
    payload: str
    referral: ReferralIn | None = None


@router.post("/{account_id}/people/{person_id}/postback")
async def person_taps(
    account_id: str, person_id: str, body: PostbackIn, request: Request
) -> dict[str, Any]:
    """A button tap (get started, ice breaker, template button): `messaging_postbacks`."""
    rt = runtime(request)
    account, person = _found(request, account_id, person_id)
    meta = rt.state.meta
    postback: dict[str, Any] = {"mid": meta.new_mid(), "title": body.title, "payload": body.payload}
    from_ad = False
    if body.referral is not None:
        postback["referral"] = _referral(body.referral)
        from_ad = body.referral.source.upper() == "ADS"
    at = meta.person_acted(person, from_ad=from_ad)
    return _post(rt, account, from_person(account, person, at, postback=postback))


@router.post("/{account_id}/people/{person_id}/referral")
async def person_arrives(
    account_id: str, person_id: str, body: ReferralIn, request: Request
) -> dict[str, Any]:
    """An m.me link or an ad opened the existing thread, without a message."""
    rt = runtime(request)
    account, person = _found(request, account_id, person_id)
    at = rt.state.meta.person_acted(person, from_ad=body.source.upper() == "ADS")
    return _post(rt, account, from_person(account, person, at, referral=_referral(body)))


class OptinIn(BaseModel):
    model_config = _STRICT
    title: str = Field(min_length=1, max_length=65)
    frequency: Literal["DAILY", "WEEKLY", "MONTHLY"] = "WEEKLY"
    payload: str = ""  # what the business put in its request (always in the webhook)
    timezone: str = "UTC"


@router.post("/{account_id}/people/{person_id}/optin")
async def person_opts_in(
    account_id: str, person_id: str, body: OptinIn, request: Request
) -> dict[str, Any]:
    """The person accepts a notification-messages request: a token, in `messaging_optins`
    (at entry[0].messaging[0].optin.notification_messages_token)."""
    rt = runtime(request)
    account, person = _found(request, account_id, person_id)
    _only(account, MESSENGER, "a notification-messages subscription")
    token = rt.state.meta.issue_token(account, person, **body.model_dump())
    optin = optin_event(token)
    return _post(rt, account, from_person(account, person, token.issued_at, optin=optin))


class OptoutIn(BaseModel):
    model_config = _STRICT
    token: str | None = None  # which subscription; all of the person's when omitted


@router.post("/{account_id}/people/{person_id}/optout")
async def person_opts_out(
    account_id: str, person_id: str, request: Request, body: OptoutIn | None = None
) -> dict[str, Any]:
    """The person stops the notifications: STOP_NOTIFICATIONS; the token stops working.
    Stopping several tokens posts one webhook each; the answer is the last one."""
    rt = runtime(request)
    account, person = _found(request, account_id, person_id)
    _only(account, MESSENGER, "a notification-messages subscription")
    tokens = rt.state.meta.active_tokens(account, person)
    if body is not None and body.token is not None:
        tokens = [t for t in tokens if t.token == body.token]
    if not tokens:
        raise HTTPException(404, "no active subscription to stop")
    now = rt.state.meta.now()
    payload: dict[str, Any] = {}
    for token in tokens:
        token.stopped = True
        optin = optin_event(token, stopped=True)
        payload = _post(rt, account, from_person(account, person, now, optin=optin))
    return payload


class StoryMentionIn(BaseModel):
    model_config = _STRICT
    url: str


@router.post("/{account_id}/people/{person_id}/story_mention")
async def person_mentions(
    account_id: str, person_id: str, body: StoryMentionIn, request: Request
) -> dict[str, Any]:
    account, person = _found(request, account_id, person_id)
    _only(account, INSTAGRAM, "a story mention")
    attachment = {"type": "story_mention", "payload": {"url": body.url}}
    return _person_message(runtime(request), account, person, {"attachments": [attachment]})


@router.post("/{account_id}/people/{person_id}/like_heart")
async def person_likes(account_id: str, person_id: str, request: Request) -> dict[str, Any]:
    account, person = _found(request, account_id, person_id)
    _only(account, INSTAGRAM, "a like heart")
    message = {"attachments": [{"type": "like_heart"}]}
    return _person_message(runtime(request), account, person, message)


class CommentIn(BaseModel):
    model_config = _STRICT
    text: str = Field(min_length=1, max_length=2200)
    media_id: str = Field(default="17900000000000001", pattern=_ID)


@router.post("/{account_id}/people/{person_id}/comment")
async def person_comments(
    account_id: str, person_id: str, body: CommentIn, request: Request
) -> dict[str, Any]:
    """A public comment on one of the account's posts: a `comments` change. It opens no
    window, but the business may answer it once in private within 7 days."""
    rt = runtime(request)
    account, person = _found(request, account_id, person_id)
    _only(account, INSTAGRAM, "commenting on a post")
    meta = rt.state.meta
    comment = PostComment(
        meta.new_comment_id(), account.id, person.id, body.text, body.media_id, meta.now()
    )
    meta.comments[comment.id] = comment
    return _post(rt, account, comment_change(account, comment, person.name or person.id))


class MidIn(BaseModel):
    model_config = _STRICT
    mid: str


@router.post("/{account_id}/people/{person_id}/unsend")
async def person_unsends(
    account_id: str, person_id: str, body: MidIn, request: Request
) -> dict[str, Any]:
    """The person deletes one of their messages: `message.is_deleted`."""
    rt = runtime(request)
    account, person = _found(request, account_id, person_id)
    _only(account, INSTAGRAM, "unsending")
    if body.mid not in person.mids:
        raise HTTPException(404, f"{body.mid} is not a message this person sent")
    now = rt.state.meta.now()
    message = {"mid": body.mid, "is_deleted": True}
    return _post(rt, account, from_person(account, person, now, message=message))


class ReactIn(BaseModel):
    model_config = _STRICT
    mid: str
    emoji: str | None = None  # none or empty: the reaction is removed


@router.post("/{account_id}/people/{person_id}/react")
async def person_reacts(
    account_id: str, person_id: str, body: ReactIn, request: Request
) -> dict[str, Any]:
    """`message_reactions` on a message of the thread (reactions open no window)."""
    rt = runtime(request)
    account, person = _found(request, account_id, person_id)
    if not person.knows(body.mid):
        raise HTTPException(404, f"{body.mid} is not a message in this conversation")
    now = rt.state.meta.now()
    event = reaction(body.mid, body.emoji)
    return _post(rt, account, from_person(account, person, now, reaction=event))


@router.get("/{account_id}/people/{person_id}/inbox")
async def person_inbox(account_id: str, person_id: str, request: Request) -> list[dict[str, Any]]:
    """What the business sent the person, in order (messages and sender actions)."""
    _, person = _found(request, account_id, person_id)
    return person.inbox


@router.get("/{account_id}/requests")
async def account_requests(account_id: str, request: Request) -> list[dict[str, Any]]:
    """Every Send API call made with this account's token, as received, with its answer."""
    state = runtime(request).state.meta
    account = _account(state, account_id)
    return [r.__dict__ for r in state.requests[account.id]]
