"""`threadline growth pages` (the sign-up pages and their addresses) and `threadline growth
report` (opt-ins, opt-outs and net growth per source and day)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.cli_kit import fail, run, settings
from threadline.growth import pages, report
from threadline.kit.clock import SystemClock
from threadline.workspaces import service as workspaces

growth_app = typer.Typer(help="Subscriber growth: sign-up pages and the growth report.")
WorkspaceOption = Annotated[str, typer.Option("--workspace", "-w", help="Workspace name or id")]


@growth_app.command("pages")
def pages_command(
    workspace: WorkspaceOption,
    base_url: Annotated[str, typer.Option(help="where the server answers")] = (
        "http://127.0.0.1:8000"
    ),
) -> None:
    """List the workspace's sign-up pages with their address and JOIN keyword."""

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        ws = await workspaces.find_workspace(session, workspace)
        slug = await pages.slug_of(session, ws.id) or ""
        base = base_url.rstrip("/")
        return [
            {
                "topic": page.topic,
                "title": page.title,
                "keyword": page.keyword.upper(),
                "version": page.version,
                "url": f"{base}/join/{slug}/{page.topic}",
            }
            for page in await pages.list_pages(session, ws.id)
        ]

    found = run(work, settings())
    table = Table(title="sign-up pages")
    for column in ("topic", "title", "keyword", "version", "url"):
        table.add_column(column)
    for row in found:
        table.add_row(*(str(row[c]) for c in ("topic", "title", "keyword", "version", "url")))
    Console().print(table)


@growth_app.command("report")
def report_command(
    workspace: WorkspaceOption,
    start: Annotated[str | None, typer.Option("--from", help="first day, YYYY-MM-DD")] = None,
    end: Annotated[str | None, typer.Option("--to", help="last day (included)")] = None,
    output: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
) -> None:
    """New opt-ins, opt-outs and net growth per source and day (the workspace's days)."""
    if output not in ("table", "csv", "json"):
        raise fail(f"--format must be table, csv or json, not {output!r}")
    try:
        first_given = date.fromisoformat(start) if start else None
        last_given = date.fromisoformat(end) if end else None
    except ValueError as exc:
        raise fail(f"dates are YYYY-MM-DD: {exc}") from None
    now = SystemClock().now()

    async def work(session: AsyncSession) -> report.GrowthReport:
        ws = await workspaces.find_workspace(session, workspace)
        zone = workspaces.settings_of(ws).default_timezone
        last = last_given or now.astimezone(ZoneInfo(zone)).date()
        first = first_given or last - timedelta(days=29)
        if first > last:
            raise fail("--from must not be after --to")
        return await report.growth_report(session, ws.id, start=first, end=last, zone=zone)

    found = run(work, settings())
    if output == "csv":
        typer.echo(report.to_csv(found), nl=False)
        return
    if output == "json":
        typer.echo(json.dumps(found.as_dict(), indent=2))
        return
    table = Table(title=f"growth {found.start} to {found.end} ({found.timezone})")
    for column in report.CSV_COLUMNS:
        table.add_column(
            column, justify="right" if column in ("opt_ins", "opt_outs", "net") else "left"
        )
    for row in found.rows:
        table.add_row(*(str(row[c] if row[c] is not None else "") for c in report.CSV_COLUMNS))
    total = found.as_dict()["total"]
    table.add_row("total", "", "", str(total["opt_ins"]), str(total["opt_outs"]), str(total["net"]))
    Console().print(table)
