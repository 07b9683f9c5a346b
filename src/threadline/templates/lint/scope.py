"""What every lint rule works with: the finding it reports, and one language's components
with the way to name a place inside them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from threadline.templates.definition import (
    Button,
    Components,
    Loc,
    TemplateDefinition,
    TextHeader,
    Variable,
)

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    severity: Severity
    where: str  # YAML path inside the template, e.g. components.buttons.1.text
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


@dataclass(frozen=True, slots=True)
class Scope:
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


Check = Callable[[Scope], Iterator[Finding]]


@dataclass(frozen=True, slots=True)
class Rule:
    """A check run on each language of a template, and the rule ids it introduces (each id
    is documented in docs/templates.md; a check may also report an id another rule owns)."""

    check: Check
    ids: tuple[str, ...]


def text_slots(scope: Scope) -> Iterator[tuple[str, Loc, str, dict[str, Variable]]]:
    """(slot, path, text, variables) for the header text and the body."""
    header = scope.parts.header
    if isinstance(header, TextHeader):
        yield "header", ("header",), header.text, header.variables
    if scope.parts.body.text is not None:
        yield "body", ("body",), scope.parts.body.text, scope.parts.body.variables


def label(button: Button) -> str | None:
    return getattr(button, "text", None)
