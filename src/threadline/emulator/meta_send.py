"""`POST /{version}/me/messages`: the Messenger Platform Send API, for Pages and for the
Instagram accounts linked to them, with the platform's shape limits (reference §2.1, §3)
and its error envelope `{"error": {message, type, code, error_subcode, fbtrace_id}}`."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from threadline.emulator.meta_hooks import schedule_receipts
from threadline.emulator.meta_messaging import (
    INSTAGRAM,
    MESSENGER,
    Kind,
    MetaAccount,
    MetaRefusal,
    MetaRequest,
    MetaState,
    invalid,
)
from threadline.emulator.runtime import runtime
from threadline.emulator.state import RequestRecord

router = APIRouter()

TEXT_MAX: dict[Kind, int] = {MESSENGER: 2000, INSTAGRAM: 1000}  # characters, not bytes
QUICK_REPLIES_MAX = 13
TITLE_MAX = 20  # quick-reply and button titles
PAYLOAD_MAX = 1000  # postback and quick-reply payloads
METADATA_MAX = 1000
BUTTON_TEXT_MAX = 640
BUTTONS_MAX = 3
ELEMENTS_MAX = 10
ELEMENT_TEXT_MAX = 80  # generic template title and subtitle
MEDIA: dict[Kind, frozenset[str]] = {
    MESSENGER: frozenset({"image", "video", "audio", "file"}),
    INSTAGRAM: frozenset({"image", "video", "audio"}),
}
QUICK_REPLY_TYPES: dict[Kind, frozenset[str]] = {
    MESSENGER: frozenset({"text", "user_phone_number", "user_email"}),
    INSTAGRAM: frozenset({"text"}),
}
BUTTON_TYPES: dict[Kind, frozenset[str]] = {
    MESSENGER: frozenset({"web_url", "postback", "phone_number"}),
    INSTAGRAM: frozenset({"web_url", "postback"}),
}
ACTIONS: dict[Kind, frozenset[str]] = {
    # The reference names no reactions on Messenger's Send API; Instagram reacts with "love".
    MESSENGER: frozenset({"typing_on", "typing_off", "mark_seen"}),
    INSTAGRAM: frozenset({"typing_on", "typing_off", "mark_seen", "react", "unreact"}),
}


# -- shapes ----------------------------------------------------------------------------------
def _text(value: Any, where: str, limit: int, *, required: bool = True) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str) or not value:
        raise invalid(f"Param {where} must be a non-empty string")
    if len(value) > limit:
        raise invalid(f"Length of param {where} must be less than or equal to {limit}")


def _items(value: Any, where: str, low: int, high: int) -> list[Any]:
    if not isinstance(value, list) or not low <= len(value) <= high:
        raise invalid(f"Param {where} must be an array of {low} to {high} items")
    return value


def _check_button(kind: Kind, button: Any, where: str) -> None:
    if not isinstance(button, dict) or button.get("type") not in BUTTON_TYPES[kind]:
        raise invalid(f"Param {where}[type] must be one of {sorted(BUTTON_TYPES[kind])}")
    _text(button.get("title"), f"{where}[title]", TITLE_MAX)
    if button["type"] == "web_url":
        _text(button.get("url"), f"{where}[url]", 2000)
    else:
        _text(button.get("payload"), f"{where}[payload]", PAYLOAD_MAX)


def _check_template(kind: Kind, payload: dict[str, Any]) -> str:
    where = "message[attachment][payload]"
    template_type = payload.get("template_type")
    if template_type == "button":
        _text(payload.get("text"), f"{where}[text]", BUTTON_TEXT_MAX)
        buttons = _items(payload.get("buttons"), f"{where}[buttons]", 1, BUTTONS_MAX)
        for i, button in enumerate(buttons):
            _check_button(kind, button, f"{where}[buttons][{i}]")
    elif template_type == "generic":
        elements = _items(payload.get("elements"), f"{where}[elements]", 1, ELEMENTS_MAX)
        for i, element in enumerate(elements):
            at = f"{where}[elements][{i}]"
            if not isinstance(element, dict):
                raise invalid(f"Param {at} must be an object")
            _text(element.get("title"), f"{at}[title]", ELEMENT_TEXT_MAX)
            _text(element.get("subtitle"), f"{at}[subtitle]", ELEMENT_TEXT_MAX, required=False)
            buttons = _items(element.get("buttons", []), f"{at}[buttons]", 0, BUTTONS_MAX)
            for j, button in enumerate(buttons):
                _check_button(kind, button, f"{at}[buttons][{j}]")
    else:
        raise invalid(f"Param {where}[template_type] must be button or generic")
    return f"template:{template_type}"


def _check_attachment(kind: Kind, attachment: Any) -> str:
    if not isinstance(attachment, dict):
        raise invalid("Param message[attachment] must be an object")
    kind_of = attachment.get("type")
    payload = attachment.get("payload")
    if kind == INSTAGRAM and kind_of == "like_heart":
        return "like_heart"
    if not isinstance(payload, dict):
        raise invalid("Param message[attachment][payload] must be an object")
    if kind_of == "template":
        return _check_template(kind, payload)
    if kind_of not in MEDIA[kind]:
        raise invalid(f"Param message[attachment][type] must be one of {sorted(MEDIA[kind])}")
    if not (payload.get("url") or payload.get("attachment_id")):
        raise invalid("Param message[attachment][payload] needs a url or an attachment_id")
    return f"attachment:{kind_of}"


def _check_quick_replies(kind: Kind, value: Any) -> None:
    replies = _items(value, "message[quick_replies]", 1, QUICK_REPLIES_MAX)
    for i, reply in enumerate(replies):
        where = f"message[quick_replies][{i}]"
        content_type = reply.get("content_type") if isinstance(reply, dict) else None
        if content_type not in QUICK_REPLY_TYPES[kind]:
            allowed = sorted(QUICK_REPLY_TYPES[kind])
            raise invalid(f"Param {where}[content_type] must be one of {allowed}")
        if content_type == "text":
            # Meta is said to truncate long titles; refusing shows a renderer bug at once.
            _text(reply.get("title"), f"{where}[title]", TITLE_MAX)
            _text(reply.get("payload"), f"{where}[payload]", PAYLOAD_MAX)


def _check_message(kind: Kind, message: dict[str, Any]) -> str:
    text, attachment = message.get("text"), message.get("attachment")
    if (text is None) == (attachment is None):
        raise invalid("A message must have exactly one of text or attachment")
    if text is not None:
        _text(text, "message[text]", TEXT_MAX[kind])
        label = "text"
    else:
        label = _check_attachment(kind, attachment)
    if message.get("quick_replies") is not None:
        _check_quick_replies(kind, message["quick_replies"])
    _text(message.get("metadata"), "message[metadata]", METADATA_MAX, required=False)
    reply_to = message.get("reply_to")
    if reply_to is not None and not (isinstance(reply_to, dict) and reply_to.get("mid")):
        raise invalid("Param message[reply_to] must be {mid}")
    return label


def _check_action(kind: Kind, action: Any, payload: Any) -> str:
    if action not in ACTIONS[kind]:
        raise invalid(f"Param sender_action must be one of {sorted(ACTIONS[kind])}")
    if action in ("react", "unreact"):
        if not isinstance(payload, dict) or not payload.get("message_id"):
            raise invalid("Param payload[message_id] is required")
        if action == "react" and payload.get("reaction") != "love":
            raise invalid('Param payload[reaction] must be "love"')
    return str(action)


def check_shape(kind: Kind, body: dict[str, Any]) -> str:
    """Refuse what the platform refuses before it looks at the person; a label for the log."""
    message, action = body.get("message"), body.get("sender_action")
    if message is not None and action is not None:
        raise invalid("Only one of message or sender_action may be set")
    if action is not None:
        return _check_action(kind, action, body.get("payload"))
    if not isinstance(message, dict):
        raise invalid("Must send either message or sender_action")
    return _check_message(kind, message)


# -- the route ---------------------------------------------------------------------------------
def _error(state: MetaState, refusal: MetaRefusal) -> JSONResponse:
    error: dict[str, Any] = {
        "message": refusal.message,
        "type": "OAuthException",
        "code": refusal.code,
    }
    if refusal.subcode is not None:
        error["error_subcode"] = refusal.subcode
    error["fbtrace_id"] = state.fbtrace_id()
    return JSONResponse({"error": error}, status_code=refusal.http_status)


def _token(request: Request) -> tuple[str | None, str | None]:
    """The Page token, from `?access_token=` or `Authorization: Bearer`."""
    if "access_token" in request.query_params:
        return request.query_params["access_token"], "query"
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:], "header"
    return None, None


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def _to(body: Any) -> str | None:
    recipient = body.get("recipient") if isinstance(body, dict) else None
    if not isinstance(recipient, dict):
        return None
    if "notification_messages_token" in recipient:
        return f"token:{recipient['notification_messages_token']}"
    if "comment_id" in recipient:
        return f"comment:{recipient['comment_id']}"
    return str(recipient.get("id")) if "id" in recipient else None


@router.post("/{version}/me/messages")
async def send_message(version: str, request: Request) -> Response:
    rt = runtime(request)
    meta = rt.state.meta
    token, auth = _token(request)
    body = _parse(await request.body())
    query = {k: v for k, v in request.query_params.items() if k != "access_token"}
    logged = MetaRequest(rt.state.now().isoformat(), "POST", request.url.path, query, auth, body)
    record = RequestRecord(logged.at, "POST", logged.path, _to(body), None, "error")
    rt.state.requests.append(record)
    account: MetaAccount | None = None
    try:
        candidates = meta.accounts_for_token(token)
        account = meta.pick(candidates, body)
        meta.requests[account.id].append(logged)
        meta.check_rate(account, time.monotonic())
        if not isinstance(body, dict):
            raise invalid("The request body must be a JSON object")
        record.type = check_shape(account.kind, body)
        recipient = meta.recipient(account, body)
        messaging_type, tag = meta.check_policy(recipient, body)
        sent = meta.deliver(recipient, body, messaging_type, tag)
    except MetaRefusal as refusal:
        logged.status, logged.code, logged.error_subcode = 400, refusal.code, refusal.subcode
        record.code = refusal.code
        return _error(meta, refusal)
    logged.result = record.result = "accepted"
    logged.message_id = record.message_id = sent.mid
    assert recipient.person is not None  # deliver() would have failed
    answer: dict[str, Any] = {}
    if not recipient.by_token:
        # Meta leaves recipient_id out when the recipient was not addressed by id.
        answer["recipient_id"] = recipient.person.id
    if sent.mid is not None:
        answer["message_id"] = sent.mid
        schedule_receipts(rt.hooks, account, recipient.person, sent)
    return JSONResponse(answer)
