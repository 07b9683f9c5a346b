"""A draft (`render.render`) and the account's settings → the MIME message that goes.

- `Message-ID: <{message_ref}@{domain}>`: derived from our message id, so a retried send
  is the same message (a receiver that got it once can tell), and the bounce or the reply
  that names it finds our message again. The provider id of a send is that id without
  the angle brackets.
- `multipart/alternative` of a text and an HTML part (just text when there is no HTML),
  inside `multipart/mixed` when there are attachments. UTF-8, and 7-bit transfer
  encodings only (quoted-printable or base64 where the text needs it): a relay that
  down-converts 8-bit bodies would break the DKIM signature.
- Marketing carries what CAN-SPAM and the bulk-sender rules of Gmail and Yahoo require:
  `List-Unsubscribe` with a one-click https link and a mailto, `List-Unsubscribe-Post:
  List-Unsubscribe=One-Click` (RFC 8058), and a footer with the postal address and the
  unsubscribe link in both parts. Without a postal address or a public URL the account
  cannot send marketing: `compose` raises RenderError and the client refuses the send.
- `DKIM-Signature` (rsa-sha256, relaxed/relaxed) when the account has a private key and a
  selector; it covers the List-Unsubscribe headers, as RFC 8058 requires."""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy as email_policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from typing import Any

import dkim
from pydantic import ValidationError

from threadline.channels.adapter import AccountAccess, RenderError
from threadline.channels.email.declaration import EmailConfig
from threadline.channels.email.tokens import unsubscribe_token

# email.policy.SMTP (CRLF, 78-column folding), with 7-bit bodies (see above), and headers
# set raw kept as they are: the policy would fold a long unsubscribe URL into RFC 2047
# encoded words, which no mail client reads as a URL.
POLICY = email_policy.SMTP.clone(cte_type="7bit", refold_source="none")
UNSUBSCRIBE_PATH = "/email/unsubscribe/"
ONE_CLICK = "List-Unsubscribe=One-Click"
# What the DKIM signature covers, when present (RFC 6376 §5.4.1, RFC 8058 §3.1).
SIGNED_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Reply-To",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
)
_NOT_ATEXT = re.compile(r"[^A-Za-z0-9_.+=-]+")


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def message_id(draft: Mapping[str, Any], address: str, now: datetime) -> str:
    """The Message-ID of the draft sent from `address`, without angle brackets: our
    message id at the sender's domain (a hash of the draft when it has none)."""
    ref = str(draft.get("message_ref") or "")
    local = _NOT_ATEXT.sub("-", ref).strip(".-")
    local = re.sub(r"\.{2,}", ".", local)
    if not local:
        seed = json.dumps(dict(draft), sort_keys=True, default=str) + now.isoformat()
        local = "tl." + hashlib.sha256(seed.encode()).hexdigest()[:32]
    return f"{local}@{domain_of(address)}"


def settings_of(access: AccountAccess) -> EmailConfig:
    try:
        return EmailConfig.model_validate(dict(access.settings))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        raise RenderError(f"settings.{where}", str(first["msg"])) from None


def unsubscribe_url(access: AccountAccess, draft: Mapping[str, Any]) -> str:
    """The one-click link for the draft's recipient (marketing drafts)."""
    settings = settings_of(access)
    ref = str(draft.get("message_ref") or "")
    token = unsubscribe_token(access.signing_secret, str(draft["to"]), ref, sender=access.address)
    return f"{settings.public_url}{UNSUBSCRIBE_PATH}{token}"


def compose(
    draft: Mapping[str, Any],
    access: AccountAccess,
    now: datetime,
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    """The message to send; RenderError for a draft this account cannot send."""
    settings = settings_of(access)
    msg = EmailMessage(policy=POLICY)
    try:
        msg["From"] = Address(display_name=settings.from_name, addr_spec=access.address)
        msg["To"] = Address(addr_spec=str(draft["to"]))
        if settings.reply_to:
            msg["Reply-To"] = Address(addr_spec=settings.reply_to)
    except (ValueError, IndexError) as exc:
        raise RenderError("to", f"is not an email address ({exc})") from None
    msg["Subject"] = " ".join(str(draft.get("subject") or "").split())
    msg["Date"] = format_datetime(now if now.tzinfo else now.replace(tzinfo=UTC))
    msg["Message-ID"] = f"<{message_id(draft, access.address, now)}>"
    if draft.get("in_reply_to"):
        msg["In-Reply-To"] = f"<{draft['in_reply_to']}>"
    references = [str(ref) for ref in draft.get("references") or []]
    if references:
        msg["References"] = " ".join(f"<{ref}>" for ref in references)
    text = str(draft.get("text") or "")
    page = str(draft.get("html") or "")
    if draft.get("marketing"):
        text, page = _marketing(msg, settings, access, draft, text, page)
    msg.set_content(text)
    if page:
        msg.add_alternative(_document(page), subtype="html")
        for part in msg.iter_parts():
            del part["MIME-Version"]  # set_content adds one to each part; the top one counts
    for attachment in attachments:
        maintype, _, subtype = attachment.mime_type.partition("/")
        msg.add_attachment(
            attachment.content,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    if access.private_key and settings.dkim_selector:
        return _signed(msg, settings.dkim_selector, access)
    return msg


def as_bytes(message: EmailMessage) -> bytes:
    """The message as it goes on the wire (CRLF line ends), exactly as it was signed."""
    return message.as_bytes(policy=POLICY)


def _marketing(
    msg: EmailMessage,
    settings: EmailConfig,
    access: AccountAccess,
    draft: Mapping[str, Any],
    text: str,
    page: str,
) -> tuple[str, str]:
    if not settings.postal_address.strip():
        raise RenderError(
            "postal_address",
            "marketing email must show the sender's postal address (CAN-SPAM): "
            "set the account's postal_address",
        )
    if not settings.public_url:
        raise RenderError(
            "public_url",
            "marketing email needs a one-click unsubscribe link: set the account's public_url",
        )
    if not access.signing_secret:
        raise RenderError("signing_secret", "the account has no secret to sign its links with")
    link = unsubscribe_url(access, draft)
    mailto = f"mailto:{access.address}?subject=unsubscribe"
    # Each URL whole on its own line (RFC 2369 lets a header line run to 998 characters).
    msg.set_raw("List-Unsubscribe", f"<{link}>,{POLICY.linesep} <{mailto}>")
    msg["List-Unsubscribe-Post"] = ONE_CLICK
    if settings.list_id:
        msg["List-Id"] = settings.list_id
    postal = settings.postal_address.strip()
    text = f"{text}\n\n---\n{postal}\nUnsubscribe: {link}" if text else f"{postal}\n{link}"
    lines = "<br>\n".join(html.escape(line, quote=False) for line in postal.splitlines())
    footer = (
        f'<hr>\n<p><small>{lines}<br>\n<a href="{html.escape(link, quote=True)}">'
        "Unsubscribe</a></small></p>"
    )
    return text, f"{page}\n{footer}" if page else footer


def _document(fragment: str) -> str:
    return (
        '<!DOCTYPE html>\n<html>\n<head><meta charset="utf-8"></head>\n<body>\n'
        f"{fragment}\n</body>\n</html>\n"
    )


def _signed(msg: EmailMessage, selector: str, access: AccountAccess) -> EmailMessage:
    """The message with its DKIM-Signature on top, parsed back from the signed bytes so it
    serialises to exactly what was signed."""
    raw = as_bytes(msg)
    present = [name for name in SIGNED_HEADERS if name in msg]
    try:
        header = dkim.sign(
            raw,
            selector.encode(),
            domain_of(access.address).encode(),
            access.private_key.encode(),
            canonicalize=(b"relaxed", b"relaxed"),
            signature_algorithm=b"rsa-sha256",
            include_headers=[name.encode() for name in present],
            linesep=b"\r\n",
        )
    except dkim.DKIMException as exc:
        raise RenderError("private_key", f"cannot DKIM-sign with it: {exc}") from None
    parsed = BytesParser(_class=EmailMessage, policy=POLICY).parsebytes(header + raw)
    assert isinstance(parsed, EmailMessage)
    return parsed
