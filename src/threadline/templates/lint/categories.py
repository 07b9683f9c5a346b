"""Rules on the category: wording that makes a UTILITY template promotional, buttons that
belong to another category, and (when asked) the opt-out a MARKETING template must offer."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from threadline.templates.definition import CopyCodeButton, Loc, OtpButton, QuickReply, texts
from threadline.templates.lint.scope import Finding, Rule, Scope
from threadline.templates.lint.terms import OPT_OUT_LABELS, plain, promotional_terms


def _category(scope: Scope) -> Iterator[Finding]:
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


def _opt_out(scope: Scope, phrases: Iterable[str]) -> Iterator[Finding]:
    if scope.defn.category != "MARKETING":
        return
    wanted = [plain(p) for p in phrases]
    for _path, text in texts(scope.parts):
        if any(p in plain(text) for p in wanted):
            return
    for button in scope.parts.buttons:
        if isinstance(button, QuickReply) and plain(button.text).strip() in OPT_OUT_LABELS:
            return
    yield scope.error(
        "marketing-opt-out",
        ("body", "text"),
        "marketing templates must say how to opt out (e.g. 'Reply STOP to unsubscribe' or a "
        "'Stop promotions' quick reply)",
    )


CATEGORY = Rule(_category, ("category-promotional", "copy-code-category", "otp-outside-auth"))


def opt_out(phrases: Iterable[str]) -> Rule:
    """The opt-out rule for these phrases (any one of them, or a stop quick reply, will do)."""
    wanted = tuple(phrases)
    return Rule(lambda scope: _opt_out(scope, wanted), ("marketing-opt-out",))
