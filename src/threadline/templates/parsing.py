"""Reading template files: YAML text → validated `TemplateDefinition`s, each knowing the file
line of every place in it, and every problem of a file reported at once with its line."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import ValidationError

from threadline.templates.definition import Loc, TemplateDefinition

# libyaml when present; both are safe loaders and keep line marks.
_SAFE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BOOL = "tag:yaml.org,2002:bool"


class _Loader(_SAFE):  # type: ignore[misc]
    """YAML 1.2 booleans: only true/false. `payload: YES` or `text: No` stay text."""

    yaml_implicit_resolvers: ClassVar[dict[Any, list[tuple[str, Any]]]] = {
        first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL]
        for first, resolvers in _SAFE.yaml_implicit_resolvers.items()
    }


_Loader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_LOADER: Any = _Loader


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}{f':{self.line}' if self.line else ''}: {self.message}"


class TemplateFileError(Exception):
    """A template file that cannot be read or does not match the format."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


def _lines(node: yaml.Node, path: Loc, into: dict[Loc, int]) -> None:
    into[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, str(key.value))
            _lines(value, child, into)
            into[child] = key.start_mark.line + 1  # a key's own line, not its value's
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _lines(item, (*path, index), into)


def _readable(loc: Loc, lines: Mapping[Loc, int]) -> tuple[str, Loc]:
    """A pydantic location as the YAML path the author wrote: union tags are dropped, a
    missing last key is kept."""
    path: Loc = ()
    for i, part in enumerate(loc):
        if (*path, part) in lines or i == len(loc) - 1:
            path = (*path, part)
    return ".".join(str(p) for p in path), path


def _nearest_line(path: Loc, lines: Mapping[Loc, int]) -> int | None:
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path)


def _relative(lines: Mapping[Loc, int], base: Loc) -> dict[Loc, int]:
    return {loc[len(base) :]: line for loc, line in lines.items() if loc[: len(base)] == base}


def _read_yaml(text: str, origin: str) -> tuple[dict[Any, Any], dict[Loc, int]]:
    """The file's top mapping, and the line of every place in it."""
    try:
        composed = yaml.compose(text, Loader=_LOADER)
        raw = yaml.load(text, Loader=_LOADER)  # a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = str(getattr(exc, "problem", None) or exc).strip()
        raise TemplateFileError([Problem(origin, line, f"not valid YAML: {problem}")]) from exc
    if composed is None or not isinstance(raw, dict):
        raise TemplateFileError(
            [Problem(origin, 1, "a template file is a template mapping or `templates:` list")]
        )
    lines: dict[Loc, int] = {}
    _lines(composed, (), lines)
    return raw, lines


def _entries(raw: dict[Any, Any], lines: Mapping[Loc, int], origin: str) -> list[tuple[Loc, Any]]:
    """(where in the file, raw template) for one template mapping or a `templates:` list."""
    if "templates" not in raw:
        return [((), raw)]
    items = raw["templates"]
    if set(raw) != {"templates"} or not isinstance(items, list) or not items:
        raise TemplateFileError(
            [
                Problem(
                    origin,
                    lines.get(("templates",), 1),
                    "`templates:` is a non-empty list, alone in the file",
                )
            ]
        )
    return [(("templates", i), item) for i, item in enumerate(items)]


def _validation_problems(
    exc: ValidationError, item: Any, relative: Mapping[Loc, int], origin: str
) -> list[Problem]:
    """Each pydantic error as a problem at the line of the place it names."""
    name = item.get("name") if isinstance(item, dict) else None
    prefix = f"template {name}: " if isinstance(name, str) else ""
    problems: list[Problem] = []
    for error in exc.errors():
        readable, path = _readable(tuple(error["loc"]), relative)
        message = error["msg"].removeprefix("Value error, ")
        line = _nearest_line(path, relative)
        problems.append(Problem(origin, line, f"{prefix}{readable or 'template'}: {message}"))
    return problems


def _duplicates(found: list[TemplateDefinition], origin: str) -> list[Problem]:
    """A (name, language) defined more than once in the file."""
    problems: list[Problem] = []
    seen: dict[tuple[str, str], int | None] = {}
    for defn in found:
        for language in defn.localized():
            key = (defn.name, language)
            if key in seen:
                problems.append(
                    Problem(
                        origin,
                        defn.line_of(),
                        f"template {defn.name}: {language} is defined twice "
                        f"(first at line {seen[key]})",
                    )
                )
            seen.setdefault(key, defn.line_of())
    return problems


def parse(text: str, origin: str) -> list[TemplateDefinition]:
    """Templates from YAML text: one template mapping, or a list under `templates:`."""
    raw, lines = _read_yaml(text, origin)
    found: list[TemplateDefinition] = []
    problems: list[Problem] = []
    for base, item in _entries(raw, lines, origin):
        relative = _relative(lines, base)
        try:
            defn = TemplateDefinition.model_validate(item)
        except ValidationError as exc:
            problems += _validation_problems(exc, item, relative, origin)
            continue
        defn.record_origin(origin, relative)
        found.append(defn)
    problems += _duplicates(found, origin)
    if problems:
        raise TemplateFileError(sorted(problems, key=lambda p: p.line or 0))
    return found


def load_file(path: Path | str) -> list[TemplateDefinition]:
    """The templates in one YAML file; problems name the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise TemplateFileError([Problem(str(path), None, f"cannot read: {reason}")]) from exc
    return parse(text, str(path))
