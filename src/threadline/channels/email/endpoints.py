"""The email routes: the inbound webhook, and the unsubscribe link's page and one-click POST.

`POST /webhooks/email`, what a relay (an inbound-parse service, a Postfix pipe) sends for
every mail to one of the accounts' addresses:

- the body: the raw RFC 5322 message, exactly as received (`Content-Type: message/rfc822`);
- `X-Threadline-Signature: sha256=<hex>`: HMAC-SHA256 of the body under the receiving
  account's app secret (the secret Threadline generated for it);
- optionally `X-Threadline-Recipient: <address>`: the envelope recipient (RCPT TO), which
  finds the account when it is only in Bcc.

The account is the first of the envelope recipient, Delivered-To, X-Original-To, To, Cc
(and, for a bounce or complaint, the From of the returned message) that is a registered
email address and whose secret verifies the signature. Answers: 200 `{"stored",
"duplicates"}` once the events are durable (a redelivery stores nothing twice), 400 when
the body is no email, 404 when no address in it is registered, 401 when the signature does
not verify.

`GET /email/unsubscribe/{token}` shows a page with one button; it changes nothing, since
mail scanners open links. `POST` to the same URL (the button, or a mail client's one-click
with the body `List-Unsubscribe=One-Click`, RFC 8058) records the unsubscribe as a
Suppression through the same ingest path; 400 when the token is not valid."""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from threadline.api.deps import Now, app_state
from threadline.channels.adapter import WebhookFormatError
from threadline.channels.directory import KnownChannel
from threadline.channels.email import signature
from threadline.channels.email.mime import message_id
from threadline.channels.email.tokens import read_token, token_sender
from threadline.channels.email.webhooks import parse_raw, read_message, recipients
from threadline.channels.events import Suppression, SuppressionReason
from threadline.channels.kinds import Channel

log = logging.getLogger("threadline.webhooks")
router = APIRouter(tags=["webhooks"])

WEBHOOK_PATH = "/webhooks/email"
UNSUBSCRIBE_PATH = "/email/unsubscribe/{token}"
RECIPIENT_HEADER = "X-Threadline-Recipient"


def _problem(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status)


async def _email_channels(request: Request) -> list[KnownChannel]:
    state = app_state(request)
    # A session of its own, closed at once: on SQLite the process has one connection, and
    # the group commit that stores this delivery needs it.
    async with state.sessions() as session:
        return await state.channels.of_kind(session, Channel.EMAIL)


def _candidates(known: Sequence[KnownChannel], wanted: Sequence[str]) -> list[KnownChannel]:
    by_address = {channel.address.lower(): channel for channel in known}
    found = [by_address[address] for address in wanted if address in by_address]
    return list({channel.id: channel for channel in found}.values())


@router.post(WEBHOOK_PATH, name="receive_email")
async def receive(request: Request, now: Now) -> Response:
    """Inbound mail, bounces and complaints: the raw message, signed by the relay."""
    raw = await request.body()
    try:
        msg = read_message(raw)
    except WebhookFormatError as exc:
        return _problem(400, "bad_request", str(exc))
    envelope = request.headers.get(RECIPIENT_HEADER, "").strip().strip("<>").lower()
    wanted = [address for address in (envelope, *recipients(msg)) if address]
    targets = _candidates(await _email_channels(request), wanted)
    if not targets:
        return _problem(404, "not_found", f"no Email channel for {', '.join(wanted) or 'nobody'}")
    header = request.headers.get(signature.HEADER)
    channel = next((c for c in targets if signature.valid(c.app_secret, raw, header)), None)
    if channel is None:
        log.warning("rejected an email webhook with a bad signature")
        return _problem(
            401, "unauthorized", f"{signature.HEADER} does not match the account's secret"
        )
    try:
        events = parse_raw(raw, now, account=channel.address)
    except WebhookFormatError as exc:
        return _problem(400, "bad_request", str(exc))
    stored, duplicates = await app_state(request).ingest.store([(channel, events)], now)
    return JSONResponse({"stored": stored, "duplicates": duplicates})


async def _verified(request: Request, token: str) -> tuple[KnownChannel, str, str] | None:
    """The account, address and message an unsubscribe token is about, if it is valid."""
    try:
        sender = token_sender(token)
    except ValueError:
        return None
    known = await _email_channels(request)
    pool = [c for c in known if c.address.lower() == sender] if sender else known
    for channel in pool:
        try:
            address, message_ref = read_token(channel.app_secret, token)
        except ValueError:
            continue
        return channel, address, message_ref
    return None


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title></head>
<body style="font-family:sans-serif;max-width:32em;margin:3em auto;padding:0 1em">
<h1>{title}</h1>
{body}
</body>
</html>
"""

_INVALID = (
    "This unsubscribe link is not valid: it may be incomplete (copy the whole link from "
    "the email) or it belongs to an account that no longer exists."
)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body), status_code=status)


def _sender_name(channel: KnownChannel) -> str:
    return str(channel.config.get("from_name") or channel.address)


@router.get(UNSUBSCRIBE_PATH, name="email_unsubscribe_page", response_class=HTMLResponse)
async def unsubscribe_page(token: str, request: Request) -> Response:
    found = await _verified(request, token)
    if found is None:
        return _page("Link not valid", f"<p>{html.escape(_INVALID)}</p>", 400)
    channel, address, _ = found
    body = (
        f"<p>Stop emails from {html.escape(_sender_name(channel))} to "
        f"<strong>{html.escape(address)}</strong>?</p>\n"
        '<form method="post">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>'
    )
    return _page("Unsubscribe", body)


@router.post(UNSUBSCRIBE_PATH, name="email_unsubscribe", response_class=HTMLResponse)
async def unsubscribe(token: str, request: Request, now: Now) -> Response:
    """RFC 8058 one-click (body `List-Unsubscribe=One-Click`) or the page's button."""
    found = await _verified(request, token)
    if found is None:
        return _page("Link not valid", f"<p>{html.escape(_INVALID)}</p>", 400)
    channel, address, message_ref = found
    body = await request.body()
    event = Suppression(
        account=channel.address,
        address=address,
        reason=SuppressionReason.UNSUBSCRIBE,
        timestamp=now,
        detail="one-click" if b"One-Click" in body else "page",
        # Like a bounce's: the Message-ID of the message the link came in (provider id).
        reference=message_id({"message_ref": message_ref}, channel.address, now)
        if message_ref
        else None,
    )
    await app_state(request).ingest.store([(channel, [event])], now)
    return _page(
        "Unsubscribed",
        f"<p>{html.escape(address)} will get no more emails from "
        f"{html.escape(_sender_name(channel))}.</p>",
    )
