"""`threadline calendar`: the content calendar, a Rich table per day, then the segments
whose members the broadcasts would push past a frequency cap."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.calendar import service
from threadline.calendar.span import span_for
from threadline.cli_kit import fail, run, settings
from threadline.kit.clock import SystemClock
from threadline.workspaces import service as workspaces
from threadline.workspaces.service import settings_of

calendar_app = typer.Typer(help="The content calendar: broadcasts and automations per day.")


def _date(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"--{name} must be a date, YYYY-MM-DD (got '{value}')") from None


@calendar_app.callback(invoke_without_command=True)
def calendar_command(
    workspace: Annotated[str, typer.Option("--workspace", "-w")],
    first: Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD; default: 1st")] = None,
    last: Annotated[str | None, typer.Option("--to", help="YYYY-MM-DD, included")] = None,
    zone: Annotated[str | None, typer.Option("--zone", help="default: the workspace's")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Broadcasts and automation volume per day and channel, with frequency pressure."""
    start, end = _date(first, "from"), _date(last, "to")
    now = SystemClock().now()

    async def work(session: AsyncSession) -> dict[str, Any]:
        ws = await workspaces.find_workspace(session, workspace)
        span = span_for(start, end, zone or settings_of(ws).default_timezone, now)
        return (await service.calendar(session, ws, span, now)).as_dict()

    found = run(work, settings())
    if as_json:
        typer.echo(json.dumps(found, indent=2, default=_jsonable))
        return
    show(found, Console())


def _jsonable(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def show(found: dict[str, Any], console: Console) -> None:
    console.print(f"[bold]{found['from']} – {found['to']}[/] ({escape(found['zone'])})")
    for day in found["days"]:
        if day["broadcasts"] or day["totals"]:
            console.print(_day_table(day))
    for segment in found["segments"]:
        for warning in segment["warnings"]:
            style = "bold red" if segment["over_cap"] else "yellow"
            console.print(f"[{style}]{escape(warning)}[/]")


def _day_table(day: dict[str, Any]) -> Table:
    table = Table(title=f"{day['weekday']} {day['date']}", title_justify="left")
    table.add_column("time")
    table.add_column("what")
    table.add_column("status")
    table.add_column("by channel")
    for item in day["broadcasts"]:
        when = f"{item['time']} local" if item["local_time"] else item["time"]
        basis = "~" if item["recipients_basis"] == "estimate" else ""
        table.add_row(
            when, escape(item["name"]), item["status"], _by_channel(item["recipients"], basis)
        )
    if day["automations"]:
        basis = "~" if day["automations_basis"] == "projected" else ""
        table.add_row(
            "", "automations", day["automations_basis"], _by_channel(day["automations"], basis)
        )
    table.add_row("", "[bold]total[/]", "", _by_channel(day["totals"], ""))
    return table


def _by_channel(counts: dict[str, Any], prefix: str) -> str:
    """'~' marks an estimate or a projection."""
    return ", ".join(f"{kind} {prefix}{n}" for kind, n in counts.items()) or "–"
