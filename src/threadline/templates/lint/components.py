"""Rules on the size and layout of each component: body, header and footer lengths, the
buttons (how many, of which types, in what order, their labels, URLs and codes), and the
line breaks and spaces around the texts."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from itertools import pairwise

from threadline.templates.definition import (
    CopyCodeButton,
    Loc,
    MediaHeader,
    QuickReply,
    TextHeader,
    UrlButton,
    texts,
    variables_in,
)
from threadline.templates.lint.scope import Finding, Rule, Scope, label

BODY_MAX = 1024
HEADER_MAX = 60
FOOTER_MAX = 60
BUTTONS_MAX = 10
BUTTON_LABEL_MAX = 25
URL_MAX = 2000
CODE_EXAMPLE_MAX = 15
# Per-type button limits: reported by BSP mirrors of the platform docs, not in the digest.
BUTTON_TYPE_MAX = {"quick_reply": 10, "url": 2, "phone_number": 1, "copy_code": 1}

_NEWLINES = re.compile(r"(?:\n[ \t]*){3,}")


def _lengths(scope: Scope) -> Iterator[Finding]:
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


def _buttons(scope: Scope) -> Iterator[Finding]:
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
        yield from _label(scope, index, label(button))
        if isinstance(button, UrlButton):
            yield from _url(scope, index, button)
        if isinstance(button, CopyCodeButton):
            yield from _copy_code(scope, index, button)


def _label(scope: Scope, index: int, text: str | None) -> Iterator[Finding]:
    if text is not None and not text.strip():
        yield scope.error(
            "button-label-length", ("buttons", index, "text"), "a button label is empty"
        )
    elif text is not None and len(text) > BUTTON_LABEL_MAX:
        yield scope.error(
            "button-label-length",
            ("buttons", index, "text"),
            f"button label '{text}' is {len(text)} characters; the limit is {BUTTON_LABEL_MAX}",
        )


def _copy_code(scope: Scope, index: int, button: CopyCodeButton) -> Iterator[Finding]:
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
            f"copy-code example is {len(example)} characters; the limit is {CODE_EXAMPLE_MAX}",
        )


def _url(scope: Scope, index: int, button: UrlButton) -> Iterator[Finding]:
    # The URL's variable is reported with the variables rule's ids, as body variables are.
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


def _whitespace(scope: Scope) -> Iterator[Finding]:
    for path, text in texts(scope.parts):
        if _NEWLINES.search(text):
            yield scope.warning("newlines", path, "3 or more line breaks in a row; use at most 2")
        if text != text.strip():
            yield scope.warning(
                "whitespace-edges", path, "leading or trailing spaces or line breaks"
            )


LENGTHS = Rule(
    _lengths,
    (
        "body-required",
        "body-length",
        "header-length",
        "header-variables",
        "header-media-example",
        "footer-length",
        "footer-variables",
    ),
)
BUTTONS = Rule(
    _buttons,
    (
        "buttons-total",
        "buttons-per-type",
        "buttons-grouping",
        "button-label-length",
        "url-length",
        "url-variable",
        "copy-code-example",
    ),
)
WHITESPACE = Rule(_whitespace, ("newlines", "whitespace-edges"))
