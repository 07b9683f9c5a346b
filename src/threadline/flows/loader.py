"""Reading flow files: YAML → validated models → one compiled flow (subflows inlined,
references checked). Every problem names the file, the line and the node."""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from threadline.channels.choices import plain
from threadline.flows import format as f

# libyaml when present (10x faster); both are safe loaders and keep line marks.
FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_FLOW_LINE = re.compile(r"^flow:\s*['\"]?([a-z][a-z0-9_]{0,59})['\"]?\s*(?:#.*)?$", re.MULTILINE)
_NODES_LINE = re.compile(r"^nodes:", re.MULTILINE)
_TESTS_LINE = re.compile(r"^tests:", re.MULTILINE)
_PRODUCTS: TypeAdapter[list[f.Product]] = TypeAdapter(list[f.Product])
Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int | None
    node: str | None
    message: str

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        return f"{where}: {f'node {self.node}: ' if self.node else ''}{self.message}"


class FlowError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


@dataclass(frozen=True)
class Flow:
    """A flow ready to run: one node table (subflows inlined under `<node>.`), its catalog."""

    file: f.FlowFile
    nodes: Mapping[str, f.Node]
    catalog: tuple[f.Product, ...] = ()
    warnings: tuple[Problem, ...] = ()

    @property
    def key(self) -> str:
        return self.file.flow

    @property
    def start(self) -> str:
        return self.file.start

    @functools.cached_property
    def catalog_index(self) -> tuple[tuple[f.Product, dict[str, str], frozenset[str]], ...]:
        """Each product with its attributes and tags as compared (normalised once)."""
        return tuple(
            (
                p,
                {k: plain(v) for k, v in p.attributes.items()},
                frozenset(plain(t) for t in p.tags),
            )
            for p in self.catalog
        )


@dataclass
class Bundle:
    """The sources a flow is compiled from; what the database stores."""

    main: str
    origin: str = "flow.yaml"
    subflows: dict[str, str] = field(default_factory=dict)  # key -> YAML text
    catalog: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "main": self.main,
            "origin": self.origin,
            "subflows": self.subflows,
            "catalog": self.catalog,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Bundle:
        return cls(
            main=data["main"],
            origin=data.get("origin", "flow.yaml"),
            subflows=dict(data.get("subflows", {})),
            catalog=list(data.get("catalog", [])),
        )


# ---------------------------------------------------------------- YAML with lines


def _lines(node: yaml.Node, path: Loc, into: dict[Loc, int]) -> None:
    into[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, str(key.value))
            into[child] = key.start_mark.line + 1
            _lines(value, child, into)
            into[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _lines(item, (*path, index), into)


def _line_of(loc: Iterable[str | int], lines: Mapping[Loc, int]) -> int | None:
    path: Loc = ()
    for part in loc:
        if (*path, part) in lines:
            path = (*path, part)
        # other parts are pydantic's union tags ('ask', 'function-after[...]'): skip them
    return lines.get(path)


def _node_at(loc: Loc, raw: Any) -> str | None:
    if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int) and isinstance(raw, dict):
        nodes = raw.get("nodes")
        if isinstance(nodes, list) and loc[1] < len(nodes) and isinstance(nodes[loc[1]], dict):
            return str(nodes[loc[1]].get("id", f"#{loc[1] + 1}"))
    return None


def parse(text: str, origin: str) -> tuple[f.FlowFile, dict[str, int]]:
    """Validate one flow file; returns it and the line of each node id."""
    try:
        composed = yaml.compose(text, Loader=FAST_LOADER)
        raw = yaml.load(text, Loader=FAST_LOADER)  # FAST_LOADER is a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise FlowError([Problem(origin, line, None, f"not valid YAML: {exc}")]) from exc
    if composed is None or not isinstance(raw, dict):
        raise FlowError([Problem(origin, 1, None, "a flow file is a YAML mapping")])
    lines: dict[Loc, int] = {}
    _lines(composed, (), lines)
    try:
        flow = f.FlowFile.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            readable = ".".join(
                str(p)
                for p in loc
                if (p in ("nodes",) or isinstance(p, int))
                or (isinstance(p, str) and not p.startswith(("function-", "tagged-")))
            )
            message = error["msg"].removeprefix("Value error, ")
            problems.append(
                Problem(origin, _line_of(loc, lines), _node_at(loc, raw), f"{readable}: {message}")
            )
        raise FlowError(problems) from exc
    node_lines = {node.id: lines.get(("nodes", i), 0) for i, node in enumerate(flow.nodes)}
    return flow, node_lines


# ---------------------------------------------------------------- compiling


def references(node: f.Node) -> list[tuple[str, str]]:
    """(attribute, target) for every node this one can lead to."""
    found: list[tuple[str, str]] = []
    for attr in ("next", "on_timeout", "on_invalid", "on_failure", "on_empty", "default", "target"):
        value = getattr(node, attr, None)
        if isinstance(value, str):
            found.append((attr, value))
    if isinstance(node, f.Ask):
        found += [("choices.next", c.next) for c in node.choices if c.next]
    if isinstance(node, f.Branch):
        found += [("cases.next", c.next) for c in node.cases]
    return found


def _renamed(node: f.Node, rename: Mapping[str, str]) -> f.Node:
    update: dict[str, Any] = {"id": rename[node.id]}
    for attr in ("next", "on_timeout", "on_invalid", "on_failure", "on_empty", "default", "target"):
        value = getattr(node, attr, None)
        if isinstance(value, str):
            update[attr] = rename.get(value, value)
    if isinstance(node, f.Ask):
        update["choices"] = [
            c.model_copy(update={"next": rename.get(c.next, c.next)} if c.next else {})
            for c in node.choices
        ]
    if isinstance(node, f.Branch):
        update["cases"] = [
            c.model_copy(update={"next": rename.get(c.next, c.next)}) for c in node.cases
        ]
    return node.model_copy(update=update)


def _inline(
    flow: f.FlowFile,
    prefix: str,
    exit_to: str | None,
    sources: Mapping[str, tuple[f.FlowFile, str, Mapping[str, int]]],
    chain: tuple[str, ...],
    origin: str,
    lines: Mapping[str, int],
) -> dict[str, f.Node]:
    rename = {node.id: f"{prefix}{node.id}" for node in flow.nodes}
    table: dict[str, f.Node] = {}
    for node in flow.nodes:
        copy = _renamed(node, rename) if prefix else node
        if prefix and isinstance(node, f.End) and exit_to is not None:
            # A subflow's end returns to the caller; its text is still said. Inlined ids hold
            # a dot, which the file format does not allow: build these without validation.
            copy = (
                f.Say.model_construct(id=copy.id, type="say", text=node.text, next=exit_to)
                if node.text
                else f.Goto.model_construct(id=copy.id, type="goto", target=exit_to)
            )
        if isinstance(node, f.Subflow):
            if node.flow in chain:
                raise FlowError(
                    [
                        Problem(
                            origin, lines.get(node.id), node.id, f"subflow {node.flow} calls itself"
                        )
                    ]
                )
            found = sources.get(node.flow)
            if found is None:
                raise FlowError(
                    [
                        Problem(
                            origin,
                            lines.get(node.id),
                            node.id,
                            f"subflow {node.flow} not found beside it",
                        )
                    ]
                )
            inner, inner_origin, inner_lines = found
            inner_prefix = f"{prefix}{node.id}."
            table.update(
                _inline(
                    inner,
                    inner_prefix,
                    rename.get(node.next, node.next) if node.next else None,
                    sources,
                    (*chain, node.flow),
                    inner_origin,
                    inner_lines,
                )
            )
            copy = f.Goto.model_construct(
                id=rename[node.id], type="goto", target=f"{inner_prefix}{inner.start}"
            )
        table[copy.id] = copy
    return table


def _check(
    flow: f.FlowFile, table: Mapping[str, f.Node], origin: str, lines: Mapping[str, int]
) -> tuple[list[Problem], list[Problem]]:
    errors: list[Problem] = []
    warnings: list[Problem] = []
    seen: set[str] = set()
    for node in flow.nodes:
        if node.id in seen:
            errors.append(Problem(origin, lines.get(node.id), node.id, "duplicate node id"))
        seen.add(node.id)
    if flow.start not in table:
        errors.append(Problem(origin, None, None, f"start: no node named {flow.start}"))
    for node in flow.nodes:
        compiled = table.get(node.id)
        if compiled is None:
            continue
        for attr, target in references(node):
            if target not in seen:
                errors.append(
                    Problem(origin, lines.get(node.id), node.id, f"{attr}: no node named {target}")
                )
        needs_next = isinstance(
            node, f.Say | f.SetNode | f.Webhook | f.Csat | f.Recommend | f.WaitNode
        )
        if isinstance(node, f.Ask) and not (node.choices and all(c.next for c in node.choices)):
            needs_next = True
        if needs_next and node.next is None:
            errors.append(Problem(origin, lines.get(node.id), node.id, f"{node.type} needs next"))
    if errors:
        return errors, warnings
    reachable = _reachable(flow.start, {n.id: n for n in flow.nodes})
    for node in flow.nodes:
        if node.id not in reachable:
            warnings.append(Problem(origin, lines.get(node.id), node.id, "never reached"))
    loop = _loop_without_wait(table)
    if loop:
        errors.append(
            Problem(
                origin, lines.get(loop[0]), loop[0], "loop without a wait: " + " -> ".join(loop)
            )
        )
    return errors, warnings


def _reachable(start: str, nodes: Mapping[str, f.Node]) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        current = todo.pop()
        if current in seen or current not in nodes:
            continue
        seen.add(current)
        todo += [target for _attr, target in references(nodes[current])]
    return seen


def _passes_through(node: f.Node) -> list[str]:
    """Where a node can lead without waiting for the person."""
    if isinstance(node, f.Ask | f.Csat | f.Handoff | f.Webhook | f.WaitNode):
        return []
    if isinstance(node, f.Recommend):
        # on_empty is taken at once; with save_as the node waits for a pick before next
        waits = {"next", "on_timeout"} if node.save_as else {"on_timeout"}
        return [t for a, t in references(node) if a not in waits]
    return [t for _a, t in references(node)]


def _loop_without_wait(table: Mapping[str, f.Node]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node_id: str) -> list[str] | None:
        state[node_id] = 1
        stack.append(node_id)
        for target in _passes_through(table[node_id]):
            if target not in table:
                continue
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node_id] = 2
        return None

    for node_id in table:
        if node_id not in state and (found := visit(node_id)):
            return found
    return None


def compile_bundle(bundle: Bundle) -> Flow:
    main, lines = parse(bundle.main, bundle.origin)
    sources: dict[str, tuple[f.FlowFile, str, Mapping[str, int]]] = {}
    problems: list[Problem] = []
    for key, text in bundle.subflows.items():
        try:
            sub, sub_lines = parse(text, f"{key}.yaml")
        except FlowError as exc:
            problems += exc.problems
        else:
            sources[key] = (sub, f"{key}.yaml", sub_lines)
    if problems:
        raise FlowError(problems)
    table = _inline(main, "", None, sources, (main.flow,), bundle.origin, lines)
    errors, warnings = _check(main, table, bundle.origin, lines)
    for inner, inner_origin, inner_lines in sources.values():
        sub_errors, _ = _check(inner, {n.id: n for n in inner.nodes}, inner_origin, inner_lines)
        errors += sub_errors
    if errors:
        raise FlowError(errors)
    try:
        catalog = tuple(_PRODUCTS.validate_python(bundle.catalog))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise FlowError(
            [
                Problem(
                    main.catalog or "catalog", None, None, f"catalog {first['loc']}: {first['msg']}"
                )
            ]
        ) from exc
    if any(isinstance(n, f.Recommend) for n in table.values()) and not catalog:
        raise FlowError([Problem(bundle.origin, None, None, "recommend nodes need a catalog")])
    return Flow(file=main, nodes=table, catalog=catalog, warnings=tuple(warnings))


# ---------------------------------------------------------------- files


def _read_catalog(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        rows = []
        for row in csv.DictReader(io.StringIO(text)):
            product: dict[str, Any] = {
                k: v
                for k, v in row.items()
                if k in {"id", "title", "description", "image", "url", "currency"} and v
            }
            if row.get("price"):
                product["price"] = float(row["price"])
            product["tags"] = [t.strip() for t in (row.get("tags") or "").split("|") if t.strip()]
            product["attributes"] = {
                k.removeprefix("attr_"): v for k, v in row.items() if k.startswith("attr_") and v
            }
            rows.append(product)
        return rows
    yaml_file = path.suffix.lower() in {".yaml", ".yml"}
    data = yaml.load(text, Loader=FAST_LOADER) if yaml_file else json.loads(text)
    products = data.get("products") if isinstance(data, dict) else data
    if not isinstance(products, list):
        raise FlowError([Problem(str(path), None, None, "a catalog is a list of products")])
    return products


def _flow_key(text: str) -> str | None:
    """The key of a flow file; None for other YAML (conversation tests, catalogs). Read
    from the top-level lines alone: parsing every file beside a flow cost ~0.5 s each."""
    key = _FLOW_LINE.search(text)
    if key is None or not _NODES_LINE.search(text) or _TESTS_LINE.search(text):
        return None
    return key.group(1)


def bundle_from_path(path: Path) -> Bundle:
    """A flow file with what it needs from beside it: subflow files and its catalog."""
    text = path.read_text(encoding="utf-8")
    main, _ = parse(text, str(path))
    subflows: dict[str, str] = {}
    wanted = [n.flow for n in main.nodes if isinstance(n, f.Subflow)]
    siblings = {
        key: p.read_text(encoding="utf-8")
        for p in sorted(path.parent.glob("*.y*ml"))
        if p != path and (key := _flow_key(p.read_text(encoding="utf-8")))
    }
    while wanted:
        key = wanted.pop()
        if key in subflows or key not in siblings:
            continue
        subflows[key] = siblings[key]
        inner, _ = parse(siblings[key], key)
        wanted += [n.flow for n in inner.nodes if isinstance(n, f.Subflow)]
    catalog: list[dict[str, Any]] = []
    if main.catalog:
        catalog_path = path.parent / main.catalog
        if not catalog_path.is_file():
            raise FlowError([Problem(str(path), None, None, f"catalog {main.catalog} not found")])
        catalog = _read_catalog(catalog_path)
    return Bundle(main=text, origin=str(path), subflows=subflows, catalog=catalog)


def load_path(path: Path) -> Flow:
    return compile_bundle(bundle_from_path(path))


def flow_files(path: Path) -> list[Path]:
    """The flow files under a path (a file, or a directory searched recursively); YAML files
    without a top-level `flow:` key (conversation tests, catalogs) are not flows."""
    if path.is_file():
        return [path]
    return [
        p
        for p in sorted(path.rglob("*.y*ml"))
        if _flow_key(p.read_text(encoding="utf-8")) is not None
    ]
