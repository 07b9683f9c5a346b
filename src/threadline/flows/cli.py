"""`threadline flows ...`: validate flow files, run their conversation tests, chat with a flow
in the terminal, print the JSON Schema of the format. Nothing here needs a database."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text

from threadline.channels.choices import plain
from threadline.channels.kinds import Channel
from threadline.consent.keywords import KeywordKind, classify
from threadline.flows import format as f
from threadline.flows.loader import Flow, FlowError, Problem, load_path, parse
from threadline.flows.simulate import Simulation, lines_from, run
from threadline.flows.state import ContactView
from threadline.flows.testing import (
    Report,
    Stubs,
    flow_key,
    flow_paths,
    is_conversation_test,
    run_dir,
)

flows_app = typer.Typer(
    help="Conversation flows: validate, test, simulate, schema.", no_args_is_help=True
)
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_OPT_OUTS = frozenset({KeywordKind.OPT_OUT, KeywordKind.OPT_OUT_ALL})


def _out() -> Console:
    # Made per call: under a test runner sys.stdout is replaced after import.
    return Console(highlight=False, soft_wrap=True)


def _problem(problem: Problem, *, warning: bool = False) -> str:
    where = problem.file + (f":{problem.line}" if problem.line else "")
    node = f"node {problem.node}: " if problem.node else ""
    return f"{where}: {node}{'warning: ' if warning else ''}{problem.message}"


# ---------------------------------------------------------------- validate


@flows_app.command("validate")
def validate(
    path: Annotated[Path, typer.Argument(help="A flow file, or a directory searched recursively")],
) -> None:
    """Check flow files and print each problem as file:line: node X: message.

    Checks the format, node references, loops, subflows and catalogs, and across a directory
    duplicate keys and shared keywords. Exit status 1 if any problem is an error."""
    if not path.exists():
        typer.echo(f"{path}: not found")
        raise typer.Exit(1)
    if path.is_file() and is_conversation_test(path):
        typer.echo(f"{path}: a conversation test, not a flow (run: threadline flows test {path})")
        raise typer.Exit(1)
    files = flow_paths(path)
    if not files:
        typer.echo(f"{path}: no flow files (YAML with a top-level `flow:` key)")
        raise typer.Exit(1)
    errors: list[str] = []
    warnings: list[str] = []
    flows: list[tuple[Path, Flow]] = []
    for file in files:
        try:
            flow = load_path(file)
        except FlowError as exc:
            errors += [_problem(p) for p in exc.problems]
        except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
            # e.g. an unreadable catalog: the loader reports most problems as FlowError
            errors.append(f"{file}: {type(exc).__name__}: {exc}")
        else:
            warnings += [_problem(w, warning=True) for w in [*flow.warnings, *_lint(file, flow)]]
            flows.append((file, flow))
            typer.echo(f"ok {file} ({flow.key}: {len(flow.file.nodes)} nodes)")
    more_errors, more_warnings = _across(flows)
    for line in [*errors, *more_errors, *warnings, *more_warnings]:
        typer.echo(line)
    total_errors = len(errors) + len(more_errors)
    total_warnings = len(warnings) + len(more_warnings)
    typer.echo(
        f"{len(files)} flow file(s) checked: {total_errors} error(s), {total_warnings} warning(s)"
    )
    if total_errors:
        raise typer.Exit(1)


def _lint(file: Path, flow: Flow) -> list[Problem]:
    """Choices that can never be picked by typing or tapping them: the words opt the person
    out (STOP, CANCEL, BAJA...), which is read before any answer, taps included."""
    _, lines = parse(file.read_text(encoding="utf-8"), str(file))
    found = []
    for node in flow.file.nodes:
        if not isinstance(node, f.Ask):
            continue
        for choice in node.choices:
            for said in (choice.title, *choice.synonyms):
                if classify(said).kind in _OPT_OUTS:
                    message = f"choice {choice.id}: {said!r} opts the person out; reword it"
                    found.append(Problem(str(file), lines.get(node.id), node.id, message))
    return found


def _across(flows: list[tuple[Path, Flow]]) -> tuple[list[str], list[str]]:
    """Problems between flows of one directory: a workspace loads them together."""
    errors: list[str] = []
    warnings: list[str] = []
    by_key: dict[str, list[Path]] = defaultdict(list)
    starts: dict[tuple[str, str, int], list[str]] = defaultdict(list)
    for file, flow in flows:
        by_key[flow.key].append(file)
        for trigger in flow.file.triggers:
            words = [plain(w) for w in trigger.keyword or []]
            if trigger.referral is not None and trigger.referral.source_id:
                words.append(f"referral {trigger.referral.source_id}")
            for word in words:
                starts[(word, trigger.kind, flow.file.priority)].append(flow.key)
    for key, paths in by_key.items():
        for path in paths[1:]:
            errors.append(f"{path}: flow {key} is also defined in {paths[0]}")
    for (word, kind, priority), keys in starts.items():
        if len(set(keys)) > 1:
            warnings.append(
                f"{kind} {word!r} starts {', '.join(sorted(set(keys)))} at the same priority "
                f"({priority}): set `priority` to say which one wins"
            )
    return errors, warnings


# ---------------------------------------------------------------- test


@flows_app.command("test")
def test(
    directory: Annotated[
        Path, typer.Argument(help="A directory searched for conversation tests, or one test file")
    ],
) -> None:
    """Run the conversation tests under a directory against their flows.

    A conversation test is a YAML file with a top-level `tests:` list. Exit status 1 if any
    test fails or cannot run, or if there are none."""
    if not directory.exists():
        typer.echo(f"{directory}: not found")
        raise typer.Exit(1)
    report = run_dir(directory)
    _print_report(report, _out())
    if not report.results and not report.broken:
        raise typer.Exit(1)
    if not report.ok:
        raise typer.Exit(1)


def _print_report(report: Report, out: Console) -> None:
    if not report.files:
        out.print("no conversation tests found (YAML files with a top-level `tests:` list)")
        return
    broken = dict(report.broken)
    for file in report.files:
        out.print(Text(str(file), style="bold"))
        if file in broken:
            out.print(Text("  ERROR ", style="bold red") + Text(broken[file]))
        for result in (r for r in report.results if r.file == file):
            if result.failure is None:
                out.print(Text("  PASS  ", style="green") + Text(result.name))
            else:
                out.print(Text("  FAIL  ", style="bold red") + Text(result.name))
                out.print(Text("        " + str(result.failure).replace("\n", "\n        ")))
    summary = f"{report.passed} passed, {report.failed} failed"
    if report.broken:
        summary += f", {len(report.broken)} file(s) could not run"
    style = "bold green" if report.ok else "bold red"
    out.print(Text(f"{summary} ({len(report.files)} test file(s))", style=style))


# ---------------------------------------------------------------- simulate


def _pairs(items: list[str] | None, option: str, nested: bool = False) -> dict[str, Any]:
    """key=value options; with `nested`, `event.order_id=7` gives {"event": {"order_id": 7}}
    (an event start's parameters sit under `params.event`)."""
    values: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{item!r} is not key=value", param_hint=option)
        *parents, name = key.strip().split(".") if nested else [key.strip()]
        into = values
        for parent in parents:
            child = into.setdefault(parent, {})
            if not isinstance(child, dict):
                raise typer.BadParameter(f"{parent} is given a value and keys", param_hint=option)
            into = child
        into[name] = _scalar(value)
    return values


def _scalar(value: str) -> Any:
    # Numbers stay numbers, so that `gte` conditions and score arithmetic work on them.
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value


def _find_flow(flow: str, directory: Path) -> Path:
    path = Path(flow)
    if path.is_file():
        return path
    found = [p for p in flow_paths(directory) if flow_key(p) == flow]
    if len(found) != 1:
        where = "not found" if not found else "in several files: " + ", ".join(map(str, found))
        raise FlowError(
            [Problem(flow, None, None, f"no such file; as a flow key {where} under {directory}")]
        )
    return found[0]


@flows_app.command("simulate")
def simulate(
    flow: Annotated[str, typer.Argument(help="A flow file, or a flow key found under --dir")],
    channel: Annotated[Channel, typer.Option(help="whatsapp shows buttons; sms numbers")] = (
        Channel.WHATSAPP
    ),
    contact_name: Annotated[str, typer.Option("--contact-name")] = "Test Contact",
    field: Annotated[
        list[str] | None, typer.Option("--field", help="A contact field, key=value (repeatable)")
    ] = None,
    webhooks: Annotated[
        Path | None,
        typer.Option(help="Stub answers for webhooks (the tests' format); else called for real"),
    ] = None,
    trigger: Annotated[str, typer.Option(help="How the session starts")] = "keyword",
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param", help="A start parameter, key=value; event.order_id=7 nests (repeatable)"
        ),
    ] = None,
    region: Annotated[str | None, typer.Option(help="For phone answers without +country")] = None,
    directory: Annotated[Path, typer.Option("--dir", help="Where to look up a flow key")] = Path(
        "."
    ),
) -> None:
    """Chat with a flow in the terminal, seeing the decisions it takes.

    Reads lines from standard input (a pipe works). A number taps a button or list row;
    /timeout, /handback, /close (as the agent), /quit."""
    try:
        compiled = load_path(_find_flow(flow, directory))
        stubs = Stubs.load(webhooks) if webhooks is not None else None
    except FlowError as exc:
        for problem in exc.problems:
            typer.echo(_problem(problem), err=True)
        raise typer.Exit(1) from None
    except (OSError, ValueError, ValidationError, yaml.YAMLError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    console = _out()
    simulation = Simulation(
        flow=compiled,
        console=console,
        channel=channel,
        contact=ContactView(name=contact_name, fields=_pairs(field, "--field"), region=region),
        stubs=stubs,
        trigger=trigger,
        params=_pairs(param, "--param", nested=True),
    )
    if sys.stdin.isatty():
        lines = lines_from(lambda: console.input("[bold green]you [/]") + "\n")
        run(simulation, lines, echo=False)
    else:
        run(simulation, lines_from(sys.stdin.readline), echo=True)


# ---------------------------------------------------------------- schema


def schema_text() -> str:
    schema = {"$schema": SCHEMA_DIALECT, **f.FlowFile.model_json_schema(by_alias=True)}
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


@flows_app.command("schema")
def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write it to this file")
    ] = None,
) -> None:
    """Print the JSON Schema of the flow file format (for editors and CI)."""
    text = schema_text()
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}", err=True)
