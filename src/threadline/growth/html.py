"""The hosted page's HTML: plain strings with every value escaped. The page works without
JavaScript, loads nothing from other sites, and keeps the consent box unticked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

from threadline.growth.subscribe import Confirmation

CHANNEL_NAMES = {"whatsapp": "WhatsApp", "sms": "Text message (SMS)", "email": "Email"}

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;
color:#1d1d1f;line-height:1.45}
h1{font-size:1.5rem}label{display:block;margin:.6rem 0 .2rem}
input[type=tel],input[type=email]{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
.choice,.agree{display:flex;gap:.5rem;align-items:flex-start;margin:.4rem 0}
.disclosure{background:#f5f5f7;padding:.8rem;border-radius:.4rem}
.error{color:#b00020}button{margin-top:1rem;padding:.6rem 1.4rem;font-size:1rem}
.qr{margin-top:2rem;text-align:center}.qr img{width:10rem;height:10rem}
"""


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


@dataclass(frozen=True)
class FormView:
    business: str
    title: str
    disclosure: str
    channels: Sequence[str]
    token: str
    qr_svg: str
    whatsapp_link: str | None = None
    phone: str = ""
    email: str = ""
    chosen: Sequence[str] = ()
    problems: Sequence[dict[str, str]] = field(default_factory=list)


def _error(view: FormView, where: str) -> str:
    found = [p["message"] for p in view.problems if p["where"] == where]
    return "".join(f'<p class="error" id="{where}-error">{escape(m)}</p>' for m in found)


def _channel_choices(view: FormView) -> str:
    if len(view.channels) == 1:
        (only,) = view.channels
        return f'<input type="hidden" name="channel" value="{escape(only)}">'
    options = "".join(
        f'<div class="choice"><input type="checkbox" name="channel" id="ch-{escape(c)}" '
        f'value="{escape(c)}"{" checked" if c in view.chosen else ""}>'
        f'<label for="ch-{escape(c)}">{escape(CHANNEL_NAMES.get(c, c))}</label></div>'
        for c in view.channels
    )
    return f"<fieldset><legend>Where should we write to you?</legend>{options}</fieldset>"


def form_page(view: FormView) -> str:
    phone = (
        '<label for="phone">Mobile number</label>'
        f'<input type="tel" id="phone" name="phone" autocomplete="tel" '
        f'value="{escape(view.phone)}" placeholder="+44 7700 900123">{_error(view, "phone")}'
        if {"whatsapp", "sms"} & set(view.channels)
        else ""
    )
    email = (
        '<label for="email">Email address</label>'
        f'<input type="email" id="email" name="email" autocomplete="email" '
        f'value="{escape(view.email)}">{_error(view, "email")}'
        if "email" in view.channels
        else ""
    )
    whatsapp = (
        f'<p>Or <a href="{escape(view.whatsapp_link)}">open WhatsApp and send JOIN</a>.</p>'
        if view.whatsapp_link
        else ""
    )
    body = (
        f"<h1>{escape(view.title)}</h1><p>{escape(view.business)}</p>"
        '<form method="post" novalidate>'
        f'<input type="hidden" name="token" value="{escape(view.token)}">'
        f"{_channel_choices(view)}{_error(view, 'channel')}{phone}{email}"
        '<div class="agree"><input type="checkbox" id="agree" name="agree" value="yes">'
        f'<label for="agree" class="disclosure">{escape(view.disclosure)}</label></div>'
        f"{_error(view, 'agree')}"
        '<button type="submit">Sign up</button></form>'
        f"{whatsapp}"
        f'<div class="qr"><img src="{escape(view.qr_svg)}" alt="QR code of this page">'
        "<p>Scan to open this page on your phone</p></div>"
    )
    return _document(view.title, body)


def done_page(business: str, title: str, confirmations: Sequence[Confirmation]) -> str:
    sent = [c for c in confirmations if c.status in ("queued", "deferred")]
    where = ", ".join(CHANNEL_NAMES.get(c.channel, c.channel) for c in sent)
    note = f"<p>We have sent a confirmation by {escape(where)}.</p>" if sent else ""
    body = (
        f"<h1>You're signed up</h1><p>Thank you: {escape(business)} will send you "
        f"{escape(title)}. You can opt out at any time by replying STOP.</p>{note}"
    )
    return _document("Signed up", body)


def problem_page(title: str, message: str) -> str:
    return _document(title, f"<h1>{escape(title)}</h1><p>{escape(message)}</p>")
