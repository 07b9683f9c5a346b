"""Rules for AUTHENTICATION templates: the platform writes their body and footer itself, so
only its wording may appear; no header, URL or emoji; exactly one OTP button, and what each
OTP type needs (the apps it autofills, the zero-tap terms)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from threadline.templates.definition import Loc, OtpButton, texts
from threadline.templates.lint.scope import Finding, Rule, Scope
from threadline.templates.lint.terms import AUTH_BODIES, plain

SIGNATURE_HASH_LEN = 11
SUPPORTED_APPS_MAX = 5

_URL = re.compile(
    r"(?:https?://|www\.)\S+|\b[a-z0-9-]+\.(?:com|net|org|io|co|app|ly|me|info|biz)\b(?:/\S*)?",
    re.IGNORECASE,
)
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U00002b00-\U00002bff\U0001f1e6-\U0001f1ff"
    "\ufe0f\u200d]"
)


def _authentication(scope: Scope) -> Iterator[Finding]:
    if scope.defn.category != "AUTHENTICATION":
        return
    parts = scope.parts
    if parts.header is not None:
        yield scope.error(
            "auth-header",
            ("header",),
            "authentication templates take no header (no media, no text)",
        )
    body = parts.body.text
    if body is not None:
        yield from _auth_body(scope, body)
    if parts.footer is not None:
        yield scope.error(
            "auth-fixed-text",
            ("footer",),
            "the authentication footer is the platform's; set "
            "authentication.code_expiration_minutes instead of footer text",
        )
    for path, text in texts(parts):
        if _URL.search(text):
            yield scope.error("auth-url", path, "authentication templates may not contain URLs")
        if _EMOJI.search(text):
            yield scope.error("auth-emoji", path, "authentication templates may not hold emoji")
    otp = [b for b in parts.buttons if isinstance(b, OtpButton)]
    if len(otp) != 1 or len(parts.buttons) != 1:
        yield scope.error(
            "auth-otp-button",
            ("buttons",),
            "an authentication template has exactly one button, of type otp "
            f"(copy_code, one_tap or zero_tap); it has {len(otp)} of {len(parts.buttons)}",
        )
    for index, button in enumerate(parts.buttons):
        if isinstance(button, OtpButton):
            yield from _otp(scope, index, button)


def _auth_body(scope: Scope, body: str) -> Iterator[Finding]:
    wording = re.sub(r"\s+", " ", plain(body).replace("*", "")).strip()
    known = [w for ws in AUTH_BODIES.values() for w in ws]
    if any(wording.startswith(w) for w in known):
        return
    prefix = scope.language.split("_")[0]
    expected = AUTH_BODIES.get(prefix, AUTH_BODIES["en"])[0]
    message = (
        f"authentication bodies use the platform's fixed wording ('{expected}.', optionally "
        "with the security recommendation); this text would not be sent — remove body.text"
    )
    if prefix in AUTH_BODIES:
        yield scope.error("auth-fixed-text", ("body", "text"), message)
    else:
        yield scope.warning(
            "auth-fixed-text",
            ("body", "text"),
            f"cannot check {scope.language} wording; {message}",
        )


def _otp(scope: Scope, index: int, button: OtpButton) -> Iterator[Finding]:
    path: Loc = ("buttons", index)
    if button.otp_type == "COPY_CODE":
        return
    apps = button.supported_apps
    if not 1 <= len(apps) <= SUPPORTED_APPS_MAX:
        yield scope.error(
            "otp-supported-apps",
            (*path, "supported_apps"),
            f"{button.otp_type} needs 1 to {SUPPORTED_APPS_MAX} supported_apps "
            f"(package_name, signature_hash); it has {len(apps)}",
        )
    for number, app in enumerate(apps):
        if len(app.signature_hash) != SIGNATURE_HASH_LEN:
            yield scope.error(
                "otp-supported-apps",
                (*path, "supported_apps", number, "signature_hash"),
                f"signature_hash is {SIGNATURE_HASH_LEN} characters; "
                f"'{app.signature_hash}' is {len(app.signature_hash)}",
            )
    if button.otp_type == "ZERO_TAP" and button.zero_tap_terms_accepted is not True:
        yield scope.error(
            "otp-supported-apps",
            path,
            "ZERO_TAP needs zero_tap_terms_accepted: true",
        )


AUTHENTICATION = Rule(
    _authentication,
    (
        "auth-header",
        "auth-fixed-text",
        "auth-url",
        "auth-emoji",
        "auth-otp-button",
        "otp-supported-apps",
    ),
)
