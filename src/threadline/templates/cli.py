"""`threadline templates ...`: check template files before they are submitted. Nothing here
needs a database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from threadline.templates.definition import TemplateDefinition
from threadline.templates.lint import Finding, lint
from threadline.templates.parsing import TemplateFileError, load_file

templates_app = typer.Typer(
    help="Message templates: check files before submitting them.", no_args_is_help=True
)


@templates_app.callback()
def _group() -> None:
    """Message templates: check files before submitting them."""
    # A callback keeps `lint` a subcommand while it is the only one.


def template_files(path: Path) -> list[Path]:
    """A file as given; a directory's YAML files, searched recursively."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in {".yaml", ".yml"})
    return [path]


def format_finding(defn: TemplateDefinition, finding: Finding) -> str:
    line = defn.line_of(finding.where)
    where = defn.origin + (f":{line}" if line else "")
    return f"{where}: template {defn.name}: [{finding.severity}] {finding.rule}: {finding.message}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@templates_app.command("lint")
def lint_command(
    paths: Annotated[
        list[Path], typer.Argument(help="Template files, or directories searched recursively")
    ],
    require_opt_out: Annotated[
        bool,
        typer.Option(
            "--require-opt-out", help="MARKETING templates must tell people how to opt out"
        ),
    ] = False,
) -> None:
    """Check template files against the platform's limits and review rules.

    Prints one line per finding (file:line, template, severity, rule id, message), then a
    summary. Exit status 1 if any file cannot be read or any finding is an error; warnings
    alone exit 0."""
    files = [f for path in paths for f in template_files(path)]
    if not files:
        typer.echo(f"{', '.join(map(str, paths))}: no template files (*.yaml, *.yml)")
        raise typer.Exit(1)
    errors = warnings = templates = broken = 0
    for file in files:
        try:
            definitions = load_file(file)
        except TemplateFileError as exc:
            broken += 1
            for problem in exc.problems:
                typer.echo(str(problem))
            continue
        for defn in definitions:
            templates += 1
            findings = lint(defn, require_opt_out_text=require_opt_out)
            findings.sort(key=lambda f: defn.line_of(f.where) or 0)
            for finding in findings:
                typer.echo(format_finding(defn, finding))
            errors += sum(1 for f in findings if f.is_error)
            warnings += sum(1 for f in findings if not f.is_error)
    summary = (
        f"{_plural(templates, 'template')} in {_plural(len(files), 'file')}: "
        f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
    )
    if broken:
        summary += f", {_plural(broken, 'file')} not readable as templates"
    typer.echo(summary)
    if errors or broken:
        raise typer.Exit(1)
