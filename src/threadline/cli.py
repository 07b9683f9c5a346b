"""The `threadline` command."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from threadline import cli_kit
from threadline.broadcasts.cli import broadcasts_app
from threadline.calendar.cli import calendar_app
from threadline.cli_runtime import channels_app, emulator, worker
from threadline.commerce.cli import commerce_app
from threadline.config import Settings
from threadline.contacts import csv_io
from threadline.flows import service as flow_service
from threadline.flows.cli import flows_app
from threadline.flows.loader import FlowError, bundle_from_path, flow_files
from threadline.growth.cli import growth_app
from threadline.kit.clock import SystemClock
from threadline.kit.logs import configure_logging, redact
from threadline.kit.migrate import is_up_to_date, upgrade
from threadline.reports import cost as cost_reports
from threadline.segments.cli import segments_app
from threadline.templates.cli import templates_app
from threadline.workspaces import service as workspaces

app = typer.Typer(
    help="Threadline: conversational messaging that keeps each channel's rules.",
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.")
contacts_app = typer.Typer(help="Contacts: import and export.")
report_app = typer.Typer(help="Reports: what messaging cost.")
keys_app = typer.Typer(help="API keys.")
users_app = typer.Typer(help="Users of a workspace.")
app.add_typer(db_app, name="db")
app.add_typer(contacts_app, name="contacts")
app.add_typer(keys_app, name="apikeys")
app.add_typer(users_app, name="users")
app.add_typer(channels_app, name="channels")
app.add_typer(flows_app, name="flows")
app.add_typer(templates_app, name="templates")
app.add_typer(report_app, name="report")
app.add_typer(segments_app, name="segments")
app.add_typer(broadcasts_app, name="broadcasts")
app.add_typer(commerce_app, name="commerce")
app.add_typer(growth_app, name="growth")
app.add_typer(calendar_app, name="calendar")
app.command()(worker)
app.command()(emulator)

T = TypeVar("T")

WorkspaceOption = Annotated[str, typer.Option("--workspace", "-w", help="Workspace name or id")]
_settings = cli_kit.settings
fail = cli_kit.fail
_run = cli_kit.run
err = cli_kit.err


def _migrate(settings: Settings) -> None:
    upgrade(settings.database_url)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the latest schema."""
    settings = _settings()
    _migrate(settings)
    err.print("database is up to date")


@app.command()
def init(
    workspace: Annotated[str, typer.Option("--workspace", "-w", help="Name of the business")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Create a workspace (migrating the database first) and print its first API key."""
    settings = _settings()
    _migrate(settings)
    now = SystemClock().now()
    created = _run(lambda s: workspaces.create_workspace(s, workspace, now), settings)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "workspace_id": created.workspace.id,
                    "workspace": created.workspace.name,
                    "api_key": created.api_key,
                }
            )
        )
        return
    typer.echo(f"workspace {created.workspace.name} ({created.workspace.id})")
    typer.echo(f"API key (shown once): {created.api_key}")


@keys_app.command("create")
def apikeys_create(
    workspace: WorkspaceOption,
    name: Annotated[str, typer.Option(help="What the key is for")] = "cli",
) -> None:
    """Create an API key; it is printed once and stored hashed."""
    settings = _settings()
    now = SystemClock().now()

    async def work(session: AsyncSession) -> str:
        ws = await workspaces.find_workspace(session, workspace)
        return await workspaces.create_api_key(session, ws.id, name, now)

    typer.echo(_run(work, settings))


@users_app.command("add")
def users_add(
    workspace: WorkspaceOption,
    email: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option(help="owner, admin, agent or analyst")] = "agent",
    name: Annotated[str, typer.Option()] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
) -> None:
    """Add a user; the password is stored as an argon2 hash."""
    settings = _settings()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    now = SystemClock().now()

    async def work(session: AsyncSession) -> str:
        ws = await workspaces.find_workspace(session, workspace)
        user = await workspaces.create_user(
            session, ws.id, email=email, password=password, role=role, name=name, now=now
        )
        return user.id

    typer.echo(_run(work, settings))


@contacts_app.command("import")
def contacts_import(
    file: Annotated[Path, typer.Argument(help="CSV file with a header row")],
    workspace: WorkspaceOption,
) -> None:
    """Import contacts from CSV. Every row is checked first; if any is wrong, nothing is
    written and each problem is listed with its row and column."""
    settings = _settings()
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {file}: {exc}") from None
    total = csv_io.count_rows(text)
    now = SystemClock().now()
    progress = Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )

    async def work(session: AsyncSession) -> csv_io.ImportReport:
        ws = await workspaces.find_workspace(session, workspace)
        region = workspaces.settings_of(ws).default_country or settings.default_country
        task = progress.add_task("import", total=total)
        with progress:
            report = await csv_io.import_contacts(
                session,
                ws.id,
                text,
                now=now,
                default_region=region,
                on_progress=lambda done: progress.update(task, completed=done),
            )
        if not report.ok:
            # Raising rolls the transaction back: an import is whole or not at all.
            raise _ImportRejected(report)
        return report

    try:
        report = _run(work, settings)
    except _ImportRejected as rejected:
        bad = rejected.report
        for problem in bad.errors[:200]:
            err.print(f"{file}: {problem}", highlight=False, markup=False)
        if len(bad.errors) > 200:
            err.print(f"... and {len(bad.errors) - 200} more problems")
        raise fail(f"{len(bad.errors)} problem(s) in {bad.rows} rows; nothing imported") from None
    typer.echo(
        f"imported {report.rows} rows: {report.created} created, {report.updated} updated, "
        f"{report.consents} opt-ins recorded"
    )


class _ImportRejected(Exception):
    def __init__(self, report: csv_io.ImportReport) -> None:
        super().__init__("import rejected")
        self.report = report


@flows_app.command("upload")
def flows_upload(
    path: Annotated[Path, typer.Argument(help="A flow file, or a directory of them")],
    workspace: WorkspaceOption,
) -> None:
    """Upload flows to a workspace (with their subflows and catalogs): a new version for each
    changed file, nothing for unchanged ones. Any problem uploads nothing."""
    settings = _settings()
    try:
        bundles = [bundle_from_path(p) for p in flow_files(path)]
    except (OSError, FlowError) as exc:
        raise fail(str(exc)) from None
    if not bundles:
        raise fail(f"no flow files under {path}")
    now = SystemClock().now()

    async def work(session: AsyncSession) -> list[tuple[str, int, bool]]:
        ws = await workspaces.find_workspace(session, workspace)
        done = []
        for bundle in bundles:
            row, created = await flow_service.upload(session, ws.id, bundle, now)
            done.append((row.key, row.version, created))
        return done

    for key, version, created in _run(work, settings):
        typer.echo(f"{key} v{version} {'uploaded' if created else 'unchanged'}")


@report_app.command("cost")
def report_cost(
    workspace: WorkspaceOption,
    group_by: Annotated[
        str, typer.Option(help="category, market, template, campaign or day")
    ] = "category",
    days: Annotated[int, typer.Option(min=1, max=3660, help="the last N days")] = 30,
    output: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
) -> None:
    """Messaging cost: the rate card's estimate before sending, the platform's actual cost."""
    if group_by not in cost_reports.GROUPS:
        raise fail(f"--group-by must be one of {', '.join(cost_reports.GROUPS)}, not {group_by!r}")
    if output not in ("table", "csv", "json"):
        raise fail(f"--format must be table, csv or json, not {output!r}")
    now = SystemClock().now()

    async def work(session: AsyncSession) -> cost_reports.CostReport:
        ws = await workspaces.find_workspace(session, workspace)
        return await cost_reports.cost_report(
            session,
            ws.id,
            group_by=group_by,  # narrowed by the GROUPS check above
            since=now - timedelta(days=days),
            until=now,
        )

    report = _run(work, _settings())
    if output == "csv":
        typer.echo(cost_reports.to_csv(report), nl=False)
        return
    if output == "json":
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    table = Table(title=f"cost by {group_by}, last {days} days (USD)")
    for column in (group_by, "messages", "billable", "estimated", "actual"):
        table.add_column(column, justify="left" if column == group_by else "right")
    for line in [*report.lines, report.total]:
        table.add_row(
            line.key,
            str(line.messages),
            str(line.billable),
            f"{line.estimated:.4f}",
            f"{line.actual:.4f}",
        )
    Console().print(table)


@contacts_app.command("export")
def contacts_export(
    file: Annotated[Path, typer.Argument(help="Where to write the CSV ('-' for stdout)")],
    workspace: WorkspaceOption,
) -> None:
    """Export every contact of the workspace as CSV."""
    settings = _settings()
    buffer = io.StringIO()

    async def work(session: AsyncSession) -> int:
        ws = await workspaces.find_workspace(session, workspace)
        return await csv_io.export_contacts(session, ws.id, buffer)

    count = _run(work, settings)
    if str(file) == "-":
        sys.stdout.write(buffer.getvalue())
    else:
        file.write_text(buffer.getvalue(), encoding="utf-8")
        err.print(f"exported {count} contacts to {file}", markup=False, highlight=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    with_worker: Annotated[
        bool, typer.Option("--with-worker", help="Also run the worker in this process")
    ] = False,
) -> None:
    """Run the API server (and the webhook receivers)."""
    import uvicorn

    from threadline.app import create_app

    settings = _settings()
    configure_logging(settings.log_level)
    if not asyncio.run(is_up_to_date(settings.database_url)):
        raise fail("the database schema is not up to date: run 'threadline db upgrade'")
    uvicorn.run(
        create_app(settings, with_worker=with_worker), host=host, port=port, log_config=None
    )


@app.command()
def demo(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    emulator_port: Annotated[int, typer.Option()] = 8900,
    contacts: Annotated[int, typer.Option(help="Simulated contacts to seed")] = 300,
) -> None:
    """The platform with its emulator and a crowd of simulated users, on a seeded workspace."""
    from threadline.demo_runner import run_demo

    settings = _settings()
    configure_logging(settings.log_level)
    _migrate(settings)
    run_demo(settings, host=host, port=port, emulator_port=emulator_port, contacts=contacts)


def main() -> None:
    try:
        app()
    except Exception as exc:  # a readable line, not a traceback, for anything unforeseen
        if os.environ.get("THREADLINE_DEBUG"):
            raise
        # Some exceptions (e.g. TimeoutError from a silent database host) have no message.
        first_line = next(iter(redact(str(exc)).splitlines()), "")
        err.print(
            f"[bold red]error:[/] {type(exc).__name__}: {escape(first_line)}"
            " (set THREADLINE_DEBUG=1 for the traceback)",
            highlight=False,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
