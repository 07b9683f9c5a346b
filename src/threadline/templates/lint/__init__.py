"""Checks a template definition against the platform's limits and review rules before it is
submitted. Pure: a definition in, findings out. Each rule has an id (see docs/templates.md).

The rules live with what they check (components, variables, categories, authentication);
this module holds their registry, in the order their findings are reported, and runs them
on each language of a template."""

from __future__ import annotations

import re
from collections.abc import Iterable

from threadline.templates.definition import TemplateDefinition
from threadline.templates.lint import authentication, categories, components, variables
from threadline.templates.lint.scope import Finding, Rule, Scope
from threadline.templates.lint.terms import DEFAULT_OPT_OUT_PHRASES

__all__ = ["RULE_IDS", "Finding", "lint"]

NAME_MAX = 512
_NAME = re.compile(r"^[a-z0-9_]+$")

# Run on each language in this order; the opt-out rule only when asked for (see `lint`).
RULES: tuple[Rule, ...] = (
    components.LENGTHS,
    components.BUTTONS,
    variables.VARIABLES,
    components.WHITESPACE,
    categories.CATEGORY,
    authentication.AUTHENTICATION,
)

RULE_IDS: tuple[str, ...] = (
    "name-format",
    *(rule_id for rule in RULES for rule_id in rule.ids),
    *categories.opt_out(()).ids,
)


def _name(defn: TemplateDefinition) -> list[Finding]:
    if _NAME.match(defn.name) and len(defn.name) <= NAME_MAX:
        return []
    return [
        Finding(
            "name-format",
            "error",
            "name",
            f"name '{defn.name[:60]}' must be 1-{NAME_MAX} lowercase letters, digits or _",
        )
    ]


def lint(
    defn: TemplateDefinition,
    *,
    require_opt_out_text: bool = False,
    opt_out_phrases: Iterable[str] = DEFAULT_OPT_OUT_PHRASES,
) -> list[Finding]:
    """Every problem the platform's review or API would raise that can be seen offline."""
    findings = _name(defn)
    rules = (*RULES, categories.opt_out(opt_out_phrases)) if require_opt_out_text else RULES
    localized = defn.localized()
    for language, parts in localized.items():
        scope = Scope(defn, language, parts, defn.base(language), len(localized) > 1)
        for rule in rules:
            findings += rule.check(scope)
    return findings
