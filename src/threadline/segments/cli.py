"""`threadline segments count "QUERY"`: the total, the reachable per channel and, for a send,
the suppression breakdown by policy reason."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels.kinds import Channel
from threadline.cli_kit import fail, run, settings
from threadline.kit.clock import SystemClock
from threadline.policy.types import Purpose
from threadline.segments import service
from threadline.workspaces import service as workspaces

segments_app = typer.Typer(help="Segments: who a query matches and what a send would do.")


def _choice(kind: type[Channel] | type[Purpose], value: str, option: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(k.value for k in kind)
        raise fail(f"{option} must be one of {known}, not {value!r}") from None


@segments_app.command("count")
def count_command(
    query: Annotated[str, typer.Argument(help="e.g. purchases.count(30d) >= 2 and has(sms)")],
    workspace: Annotated[str, typer.Option("--workspace", "-w")],
    channel: Annotated[str, typer.Option(help="estimate a send on this channel")] = "whatsapp",
    purpose: Annotated[str, typer.Option(help="service, utility, authentication, marketing")] = (
        "marketing"
    ),
    topic: Annotated[str, typer.Option()] = "marketing",
    template: Annotated[str | None, typer.Option(help="an approved template's name")] = None,
    holdout: Annotated[float, typer.Option(min=0, max=50, help="holdout %")] = 0.0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Count a segment and estimate a send to it; exit 1 with the error's column on a bad query."""
    send = service.Send(
        channel=_choice(Channel, channel, "--channel"),
        purpose=_choice(Purpose, purpose, "--purpose"),
        topic=topic,
        template=template,
        holdout_percent=holdout,
    )
    now = SystemClock().now()

    async def work(session: AsyncSession) -> service.Estimate:
        ws = await workspaces.find_workspace(session, workspace)
        return await service.estimate(session, ws, query, send, now)

    found = run(work, settings())
    if as_json:
        typer.echo(json.dumps(found.as_dict(), indent=2))
        return
    _print(found, send)


def _print(found: service.Estimate, send: service.Send) -> None:
    console = Console()
    console.print(f"[bold]{found.total}[/] contacts match")
    reach = ", ".join(f"{kind} {n}" for kind, n in found.reachable.items() if n)
    console.print(f"reachable: {reach or 'nobody'}")
    table = Table(title=f"{send.purpose.value} on {send.channel.value}")
    table.add_column("outcome")
    table.add_column("contacts", justify="right")
    table.add_row("would be sent", str(found.eligible))
    for reason, n in found.suppressed.most_common():
        table.add_row(reason, str(n))
    console.print(table)
    console.print(f"estimated cost: {found.cost} USD")
    if found.minimum_detectable_lift is not None:
        console.print(f"minimum detectable lift: {found.minimum_detectable_lift:.2%} (absolute)")
