"""Rules on variables: what may stand between the braces, one kind per text and the kind the
template's parameter format says, numbers without gaps, an example for each, none declared
in vain, and where they sit in the body."""

from __future__ import annotations

import re
from collections.abc import Iterator

from threadline.templates.definition import Loc, Variable, variables_in
from threadline.templates.lint.scope import Finding, Rule, Scope, text_slots

_VARIABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_ADJACENT = re.compile(r"\}\}\s*\{\{")
_WORD = re.compile(r"\w+")


def _is_variable(raw: str) -> bool:
    return raw.isdigit() or _VARIABLE_NAME.match(raw) is not None


def _variables(scope: Scope) -> Iterator[Finding]:
    if scope.defn.category == "AUTHENTICATION":
        return  # the platform's own wording and its one code; see the authentication rule
    for slot, path, text, declared in text_slots(scope):
        found = variables_in(text)
        yield from _kinds(scope, slot, (*path, "text"), found)
        yield from _declared(scope, slot, path, found, declared)
    yield from _body_placement(scope)


def _kinds(scope: Scope, slot: str, where: Loc, found: list[str]) -> Iterator[Finding]:
    """Each variable a number or a name, one kind per text, the kind the format asks for."""
    named = scope.defn.parameter_format == "NAMED"
    numbers = [v for v in found if v.isdigit()]
    names = [v for v in found if _VARIABLE_NAME.match(v)]
    for raw in dict.fromkeys(v for v in found if not _is_variable(v)):
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
        yield from _sequential(scope, slot, where, numbers)


def _sequential(scope: Scope, slot: str, where: Loc, numbers: list[str]) -> Iterator[Finding]:
    distinct = sorted({int(n) for n in numbers})
    if distinct != list(range(1, len(distinct) + 1)) or any(n != str(int(n)) for n in numbers):
        shown = ", ".join(f"{{{{{n}}}}}" for n in dict.fromkeys(numbers))
        yield scope.error(
            "variables-sequential",
            where,
            f"{slot} variables must run {{{{1}}}}, {{{{2}}}}... without gaps; found {shown}",
        )


def _declared(
    scope: Scope, slot: str, path: Loc, found: list[str], declared: dict[str, Variable]
) -> Iterator[Finding]:
    """An example for every variable of the text; no declared variable the text lacks."""
    for key in dict.fromkeys(v for v in found if _is_variable(v)):
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


def _body_placement(scope: Scope) -> Iterator[Finding]:
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


VARIABLES = Rule(
    _variables,
    (
        "variables-named",
        "variables-mixed",
        "variables-format",
        "variables-sequential",
        "variable-example",
        "variable-unused",
        "variable-at-edge",
        "variables-adjacent",
        "variable-density",
    ),
)
