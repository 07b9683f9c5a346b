"""Checks a template definition against the platform's limits and review rules before it is
submitted. Pure: a definition in, findings out. Each rule has an id (see docs/templates.md)."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

from threadline.templates.definition import (
    Button,
    Components,
    CopyCodeButton,
    Loc,
    MediaHeader,
    OtpButton,
    QuickReply,
    TemplateDefinition,
    TextHeader,
    UrlButton,
    Variable,
    texts,
    variables_in,
)

Severity = Literal["error", "warning"]

NAME_MAX = 512
BODY_MAX = 1024
HEADER_MAX = 60
FOOTER_MAX = 60
BUTTONS_MAX = 10
BUTTON_LABEL_MAX = 25
URL_MAX = 2000
CODE_EXAMPLE_MAX = 15
SIGNATURE_HASH_LEN = 11
SUPPORTED_APPS_MAX = 5
# Per-type button limits: reported by BSP mirrors of the platform docs, not in the digest.
BUTTON_TYPE_MAX = {"quick_reply": 10, "url": 2, "phone_number": 1, "copy_code": 1}

_NAME = re.compile(r"^[a-z0-9_]+$")
_VARIABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_ADJACENT = re.compile(r"\}\}\s*\{\{")
_NEWLINES = re.compile(r"(?:\n[ \t]*){3,}")
_WORD = re.compile(r"\w+")
_URL = re.compile(
    r"(?:https?://|www\.)\S+|\b[a-z0-9-]+\.(?:com|net|org|io|co|app|ly|me|info|biz)\b(?:/\S*)?",
    re.IGNORECASE,
)
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U00002b00-\U00002bff\U0001f1e6-\U0001f1ff"
    "\ufe0f\u200d]"
)

# Promotional wording, compared without accents and case. A warning, not a verdict.
PROMOTIONAL_TERMS: tuple[str, ...] = (
    # English
    r"discounts?", r"discounted", r"\d+\s*% off", r"% off", r"sale", r"on sale", r"offers?",
    r"free shipping", r"free delivery", r"limited time", r"buy now", r"shop now", r"coupons?",
    r"promo", r"promo codes?", r"promotions?", r"black friday", r"cyber monday", r"clearance",
    r"special price", r"vouchers?", r"save \d+",
    # Spanish
    r"ofertas?", r"descuentos?", r"rebajas?", r"promocion(?:es)?", r"envio gratis",
    r"cupon(?:es)?", r"compra ya", r"tiempo limitado", r"liquidacion",
    # Portuguese
    r"promocao", r"promocoes", r"descontos?", r"frete gratis", r"cupom", r"cupons",
    r"compre ja", r"liquidacao", r"por tempo limitado",
    # French
    r"soldes", r"remise", r"reductions?", r"offres? speciales?", r"livraison gratuite",
    r"code promo",
    # German
    r"rabatt", r"angebote?", r"gutschein", r"versandkostenfrei", r"sonderangebot",
    r"ausverkauf",
    # Italian
    r"sconto", r"sconti", r"offerta", r"offerte", r"saldi", r"spedizione gratuita",
)  # fmt: skip

DEFAULT_OPT_OUT_PHRASES: tuple[str, ...] = (
    "reply stop",
    "text stop",
    "send stop",
    "stop promotions",
    "stop promo",
    "unsubscribe",
    "opt out",
    "opt-out",
    "responde baja",
    "envia baja",
    "darte de baja",
    "darse de baja",
    "responde stop",
    "responda sair",
    "responda pare",
    "responda stop",
    "descadastrar",
    "repondez stop",
    "desabonner",
    "desinscrire",
    "abmelden",
    "rispondi stop",
    "disiscriviti",
)
_OPT_OUT_LABELS = frozenset({"stop", "unsubscribe", "opt out"})

# The platform writes authentication bodies itself; these are its wordings we know.
AUTH_BODIES: dict[str, tuple[str, ...]] = {
    "en": ("{{1}} is your verification code",),
    "es": ("{{1}} es tu codigo de verificacion",),
    "pt": ("{{1}} e seu codigo de verificacao", "{{1}} e o seu codigo de verificacao"),
}


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    severity: Severity
    where: str  # YAML path inside the template, e.g. components.buttons.1.text
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


def plain(text: str) -> str:
    """Case- and accent-free, for wording checks."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# Longest first, so that "promo code" is reported rather than "promo".
_PROMOTIONAL = re.compile(
    r"(?<!\w)(?:" + "|".join(sorted(PROMOTIONAL_TERMS, key=len, reverse=True)) + r")(?!\w)"
)


def promotional_terms(text: str) -> list[str]:
    """The promotional words in a text, lower case and without accents."""
    return list(dict.fromkeys(m.group(0) for m in _PROMOTIONAL.finditer(plain(text))))


# ---------------------------------------------------------------- the walk


@dataclass(frozen=True, slots=True)
class _Scope:
    """One language's components, and how to name places inside them."""

    defn: TemplateDefinition
    language: str
    parts: Components
    base: Loc
    several: bool

    def where(self, *path: str | int) -> str:
        return ".".join(str(p) for p in (*self.base, *path))

    def say(self, message: str) -> str:
        return f"{self.language}: {message}" if self.several else message

    def error(self, rule: str, path: Loc, message: str) -> Finding:
        return Finding(rule, "error", self.where(*path), self.say(message))

    def warning(self, rule: str, path: Loc, message: str) -> Finding:
        return Finding(rule, "warning", self.where(*path), self.say(message))


Rule = Callable[[_Scope], Iterator[Finding]]


def _text_slots(scope: _Scope) -> Iterator[tuple[str, Loc, str, dict[str, Variable]]]:
    """(slot, path, text, variables) for the header text and the body."""
    header = scope.parts.header
    if isinstance(header, TextHeader):
        yield "header", ("header",), header.text, header.variables
    if scope.parts.body.text is not None:
        yield "body", ("body",), scope.parts.body.text, scope.parts.body.variables


def _label(button: Button) -> str | None:
    return getattr(button, "text", None)


# ---------------------------------------------------------------- length and shape


def _lengths(scope: _Scope) -> Iterator[Finding]:
    parts = scope.parts
    body = parts.body.text
    if body is None and scope.defn.category != "AUTHENTICATION":
        yield scope.error("body-required", ("body",), "the body text is required")
    if body is not None and len(body) > BODY_MAX:
        yield scope.error(
            "body-length",
            ("body", "text"),
            f"body is {len(body)} characters; the limit is {BODY_MAX}",
        )
    if isinstance(parts.header, TextHeader):
        text = parts.header.text
        if len(text) > HEADER_MAX:
            yield scope.error(
                "header-length",
                ("header", "text"),
                f"header is {len(text)} characters; the limit is {HEADER_MAX}",
            )
        found = variables_in(text)
        if len(found) > 1:
            yield scope.error(
                "header-variables",
                ("header", "text"),
                f"a text header takes at most one variable; it has {len(found)}",
            )
    if isinstance(parts.header, MediaHeader) and not parts.header.example:
        yield scope.error(
            "header-media-example",
            ("header",),
            f"a {parts.header.type} header needs an example (an upload handle or sample URL)",
        )
    if parts.footer is not None:
        text = parts.footer.text
        if len(text) > FOOTER_MAX:
            yield scope.error(
                "footer-length",
                ("footer", "text"),
                f"footer is {len(text)} characters; the limit is {FOOTER_MAX}",
            )
        if variables_in(text):
            yield scope.error("footer-variables", ("footer", "text"), "a footer takes no variables")


def _buttons(scope: _Scope) -> Iterator[Finding]:
    buttons = scope.parts.buttons
    if len(buttons) > BUTTONS_MAX:
        yield scope.error(
            "buttons-total",
            ("buttons",),
            f"{len(buttons)} buttons; a template takes at most {BUTTONS_MAX}",
        )
    counts: Counter[str] = Counter(b.type for b in buttons)
    for kind, limit in BUTTON_TYPE_MAX.items():
        if counts[kind] > limit:
            yield scope.error(
                "buttons-per-type",
                ("buttons",),
                f"{counts[kind]} {kind} buttons; a template takes at most {limit}",
            )
    flags = [isinstance(b, QuickReply) for b in buttons]
    if sum(1 for a, b in pairwise(flags) if a != b) > 1:
        yield scope.error(
            "buttons-grouping",
            ("buttons",),
            "quick replies must be together, before or after the other buttons",
        )
    for index, button in enumerate(buttons):
        label = _label(button)
        if label is not None and not label.strip():
            yield scope.error(
                "button-label-length", ("buttons", index, "text"), "a button label is empty"
            )
        elif label is not None and len(label) > BUTTON_LABEL_MAX:
            yield scope.error(
                "button-label-length",
                ("buttons", index, "text"),
                f"button label '{label}' is {len(label)} characters; "
                f"the limit is {BUTTON_LABEL_MAX}",
            )
        if isinstance(button, UrlButton):
            yield from _url(scope, index, button)
        if isinstance(button, CopyCodeButton):
            example = button.variable.example if button.variable else None
            if not example:
                yield scope.error(
                    "copy-code-example",
                    ("buttons", index),
                    "a copy-code button needs variable.example (the sample code)",
                )
            elif len(example) > CODE_EXAMPLE_MAX:
                yield scope.error(
                    "copy-code-example",
                    ("buttons", index, "variable", "example"),
                    f"copy-code example is {len(example)} characters; "
                    f"the limit is {CODE_EXAMPLE_MAX}",
                )


def _url(scope: _Scope, index: int, button: UrlButton) -> Iterator[Finding]:
    path: Loc = ("buttons", index, "url")
    if len(button.url) > URL_MAX:
        yield scope.error(
            "url-length", path, f"URL is {len(button.url)} characters; the limit is {URL_MAX}"
        )
    found = variables_in(button.url)
    if len(found) > 1 or (found and (found[0] != "1" or not button.url.endswith("{{1}}"))):
        yield scope.error(
            "url-variable",
            path,
            "a URL takes one variable, {{1}}, at its very end (the suffix)",
        )
    if found and not (button.variable and button.variable.example):
        yield scope.error(
            "variable-example",
            ("buttons", index),
            "the URL variable needs variable.example (a sample suffix)",
        )
    if not found and button.variable is not None:
        yield scope.warning(
            "variable-unused",
            ("buttons", index, "variable"),
            "the URL has no {{1}}; this variable is never sent",
        )


# ---------------------------------------------------------------- variables


def _variables(scope: _Scope) -> Iterator[Finding]:
    if scope.defn.category == "AUTHENTICATION":
        return  # the platform's own wording and its one code; see _authentication
    named = scope.defn.parameter_format == "NAMED"
    for slot, path, text, declared in _text_slots(scope):
        where: Loc = (*path, "text")
        found = variables_in(text)
        numbers = [v for v in found if v.isdigit()]
        names = [v for v in found if _VARIABLE_NAME.match(v)]
        invalid = [v for v in found if v not in numbers and v not in names]
        for raw in dict.fromkeys(invalid):
            yield scope.error(
                "variables-named",
                where,
                f"{{{{{raw}}}}} is not a variable: use {{{{1}}}}... or a name of lowercase "
                "letters, digits and _ starting with a letter, without spaces",
            )
        if numbers and names:
            yield scope.error(
                "variables-mixed",
                where,
                f"{slot} mixes numbered and named variables; use one kind",
            )
        elif named and numbers:
            yield scope.error(
                "variables-format",
                where,
                f"{slot} uses numbered variables in a NAMED template; name them "
                "(or set parameter_format: POSITIONAL)",
            )
        elif not named and names:
            yield scope.error(
                "variables-format",
                where,
                f"{slot} uses named variables in a POSITIONAL template; number them "
                "(or set parameter_format: NAMED)",
            )
        if numbers and not names:
            distinct = sorted({int(n) for n in numbers})
            if distinct != list(range(1, len(distinct) + 1)) or any(
                n != str(int(n)) for n in numbers
            ):
                shown = ", ".join(f"{{{{{n}}}}}" for n in dict.fromkeys(numbers))
                yield scope.error(
                    "variables-sequential",
                    where,
                    f"{slot} variables must run {{{{1}}}}, {{{{2}}}}... without gaps; "
                    f"found {shown}",
                )
        for key in dict.fromkeys(v for v in found if v not in invalid):
            spec = declared.get(key)
            if spec is None or not spec.example:
                yield scope.error(
                    "variable-example",
                    (*path, "variables", key) if spec else (*path, "variables"),
                    f"{slot} variable {{{{{key}}}}} needs an example",
                )
        for key in declared:
            if key not in found:
                yield scope.warning(
                    "variable-unused",
                    (*path, "variables", key),
                    f"{slot} declares variable {key} but the text has no {{{{{key}}}}}",
                )
    yield from _body_placement(scope)


def _body_placement(scope: _Scope) -> Iterator[Finding]:
    text = scope.parts.body.text
    if text is None:
        return
    where: Loc = ("body", "text")
    stripped = text.strip()
    if re.match(r"^\{\{[^{}]*\}\}", stripped) or re.search(r"\{\{[^{}]*\}\}$", stripped):
        yield scope.error(
            "variable-at-edge", where, "the body may not start or end with a variable"
        )
    if _ADJACENT.search(text):
        yield scope.error(
            "variables-adjacent",
            where,
            "two variables are next to each other; put words between them",
        )
    params = len(variables_in(text))
    words = len(_WORD.findall(re.sub(r"\{\{[^{}]*\}\}", " ", text)))
    if params and words + params < 3 * params + 1:
        yield scope.warning(
            "variable-density",
            where,
            f"{params} variables for {words} words: templates with too many variables for "
            f"their length are rejected; aim for at least {2 * params + 1} words",
        )


# ---------------------------------------------------------------- whitespace


def _whitespace(scope: _Scope) -> Iterator[Finding]:
    for path, text in texts(scope.parts):
        if _NEWLINES.search(text):
            yield scope.warning("newlines", path, "3 or more line breaks in a row; use at most 2")
        if text != text.strip():
            yield scope.warning(
                "whitespace-edges", path, "leading or trailing spaces or line breaks"
            )


# ---------------------------------------------------------------- categories


def _category(scope: _Scope) -> Iterator[Finding]:
    category = scope.defn.category
    if category == "UTILITY":
        terms: list[str] = []
        first: Loc | None = None
        for path, text in texts(scope.parts):
            found = promotional_terms(text)
            if found and first is None:
                first = path
            terms += found
        if terms and first is not None:
            shown = ", ".join(f"'{t}'" for t in dict.fromkeys(terms))
            yield scope.warning(
                "category-promotional",
                first,
                f"reads as promotional ({shown}): Meta will recategorise it as MARKETING "
                "and bill it at the marketing rate",
            )
    for index, button in enumerate(scope.parts.buttons):
        if isinstance(button, OtpButton) and category != "AUTHENTICATION":
            yield scope.error(
                "otp-outside-auth",
                ("buttons", index),
                "OTP buttons are for AUTHENTICATION templates",
            )
        if isinstance(button, CopyCodeButton) and category == "UTILITY":
            yield scope.warning(
                "copy-code-category",
                ("buttons", index),
                "copy-code buttons are for MARKETING templates (reported rejected in UTILITY)",
            )


def _authentication(scope: _Scope) -> Iterator[Finding]:
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


def _auth_body(scope: _Scope, body: str) -> Iterator[Finding]:
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


def _otp(scope: _Scope, index: int, button: OtpButton) -> Iterator[Finding]:
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


def _opt_out(scope: _Scope, phrases: Iterable[str]) -> Iterator[Finding]:
    if scope.defn.category != "MARKETING":
        return
    wanted = [plain(p) for p in phrases]
    for _path, text in texts(scope.parts):
        if any(p in plain(text) for p in wanted):
            return
    for button in scope.parts.buttons:
        if isinstance(button, QuickReply) and plain(button.text).strip() in _OPT_OUT_LABELS:
            return
    yield scope.error(
        "marketing-opt-out",
        ("body", "text"),
        "marketing templates must say how to opt out (e.g. 'Reply STOP to unsubscribe' or a "
        "'Stop promotions' quick reply)",
    )


# ---------------------------------------------------------------- entry point

_RULES: tuple[Rule, ...] = (_lengths, _buttons, _variables, _whitespace, _category, _authentication)

RULE_IDS: tuple[str, ...] = (
    "name-format",
    "body-required",
    "body-length",
    "header-length",
    "header-variables",
    "header-media-example",
    "footer-length",
    "footer-variables",
    "buttons-total",
    "buttons-per-type",
    "buttons-grouping",
    "button-label-length",
    "url-length",
    "url-variable",
    "copy-code-example",
    "variables-named",
    "variables-mixed",
    "variables-format",
    "variables-sequential",
    "variable-example",
    "variable-unused",
    "variable-at-edge",
    "variables-adjacent",
    "variable-density",
    "newlines",
    "whitespace-edges",
    "category-promotional",
    "copy-code-category",
    "otp-outside-auth",
    "auth-header",
    "auth-fixed-text",
    "auth-url",
    "auth-emoji",
    "auth-otp-button",
    "otp-supported-apps",
    "marketing-opt-out",
)


def lint(
    defn: TemplateDefinition,
    *,
    require_opt_out_text: bool = False,
    opt_out_phrases: Iterable[str] = DEFAULT_OPT_OUT_PHRASES,
) -> list[Finding]:
    """Every problem the platform's review or API would raise that can be seen offline."""
    findings: list[Finding] = []
    if not _NAME.match(defn.name) or len(defn.name) > NAME_MAX:
        findings.append(
            Finding(
                "name-format",
                "error",
                "name",
                f"name '{defn.name[:60]}' must be 1-{NAME_MAX} lowercase letters, digits or _",
            )
        )
    phrases = tuple(opt_out_phrases)
    localized = defn.localized()
    for language, parts in localized.items():
        scope = _Scope(defn, language, parts, defn.base(language), len(localized) > 1)
        for rule in _RULES:
            findings += rule(scope)
        if require_opt_out_text:
            findings += _opt_out(scope, phrases)
    return findings
