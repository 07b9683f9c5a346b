"""`threadline broadcasts`: create from a JSON file, estimate, send with a progress bar,
show, pause, resume, cancel."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from threadline.broadcasts import service
from threadline.broadcasts.progress import progress_of
from threadline.broadcasts.runner import BroadcastWorker, begin
from threadline.broadcasts.spec import BroadcastSpec
from threadline.broadcasts.states import BroadcastState
from threadline.cli_kit import fail, run, run_sessions, settings
from threadline.kit.clock import SystemClock
from threadline.kit.db import transaction
from threadline.workspaces import service as workspaces

broadcasts_app = typer.Typer(help="Broadcasts: one message to a segment, with its estimate.")
Workspace = Annotated[str, typer.Option("--workspace", "-w")]
Id = Annotated[str, typer.Argument(help="the broadcast's id")]
AsJson = Annotated[bool, typer.Option("--json")]


def _spec(path: Path) -> BroadcastSpec:
    try:
        return BroadcastSpec.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise fail(f"{path}: {where}: {first['msg']}") from None


@broadcasts_app.command("create")
def create_command(
    spec_file: Annotated[Path, typer.Argument(help="the broadcast as JSON (docs/broadcasts.md)")],
    workspace: Workspace,
) -> None:
    """Create a draft; prints its id."""
    spec = _spec(spec_file)
    now = SystemClock().now()

    async def work(session: AsyncSession) -> str:
        ws = await workspaces.find_workspace(session, workspace)
        return (await service.create(session, ws, spec, now)).id

    typer.echo(run(work, settings()))


@broadcasts_app.command("estimate")
def estimate_command(broadcast_id: Id, workspace: Workspace, as_json: AsJson = False) -> None:
    """Who it would reach on which channel, who not and why, and the cost."""
    now = SystemClock().now()

    async def work(session: AsyncSession) -> dict[str, Any]:
        ws = await workspaces.find_workspace(session, workspace)
        return await service.estimate(
            session, ws, await service.get(session, ws.id, broadcast_id), now
        )

    found = run(work, settings())
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    console = Console()
    console.print(f"[bold]{found['total']}[/] in the audience, {found['eligible']} would get it")
    table = Table()
    table.add_column("outcome")
    table.add_column("contacts", justify="right")
    for kind, n in found["eligible_by_channel"].items():
        table.add_row(f"sent on {kind}", str(n))
    for reason, n in found["suppressed"].items():
        table.add_row(reason, str(n))
    console.print(table)
    console.print(f"estimated cost: {found['estimated_cost']}")


@broadcasts_app.command("send")
def send_command(broadcast_id: Id, workspace: Workspace) -> None:
    """Send it: a broadcast due now is fanned out here, with a progress bar (the worker
    dispatches the messages); a scheduled one is left to the worker at its time."""
    clock = SystemClock()

    async def work(sessions: async_sessionmaker[AsyncSession]) -> tuple[str, int | None]:
        async with transaction(sessions) as session:
            ws = await workspaces.find_workspace(session, workspace)
            broadcast = await service.get(session, ws.id, broadcast_id)
            if broadcast.status == BroadcastState.DRAFT:
                await service.send(session, broadcast, clock.now())
            due = broadcast.next_run_at is not None and broadcast.next_run_at <= clock.now()
            if broadcast.status == BroadcastState.SCHEDULED and due:
                await begin(session, broadcast, clock.now())
            total = broadcast.audience_total
            if broadcast.status != BroadcastState.SENDING:
                return broadcast.status, None
        await _fan_out_with_bar(BroadcastWorker(sessions, clock), broadcast_id, total or 0)
        return BroadcastState.SENDING, total

    state, total = run_sessions(work, settings())
    if total is None:
        typer.echo(f"{broadcast_id} is {state}; the worker sends it when it is due")
        return
    _show(broadcast_id, workspace)


async def _fan_out_with_bar(worker: BroadcastWorker, broadcast_id: str, total: int) -> None:
    columns = (TextColumn("fan-out"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("fan-out", total=total)
        await worker.fan_out(broadcast_id, on_batch=lambda n: bar.advance(task, n))
        bar.update(task, completed=total)


def _show(broadcast_id: str, workspace: str, as_json: bool = False) -> None:
    async def work(session: AsyncSession) -> dict[str, Any]:
        ws = await workspaces.find_workspace(session, workspace)
        broadcast = await service.get(session, ws.id, broadcast_id)
        shown = (await progress_of(session, broadcast)).as_dict()
        return {"status": broadcast.status, "pause_reason": broadcast.pause_reason, **shown}

    found = run(work, settings())
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    console = Console()
    console.print(f"{broadcast_id}: [bold]{found['status']}[/]")
    if found["pause_reason"]:
        console.print(f"paused: {found['pause_reason']}")
    table = Table()
    table.add_column("")
    table.add_column("messages", justify="right")
    for key in ("audience", "queued", "sent", "delivered", "read", "failed", "suppressed"):
        table.add_row(key, str(found[key]))
    for reason, n in found["suppressed_by_reason"].items():
        table.add_row(f"  {reason}", str(n))
    for reason, n in found["deferred_by_reason"].items():
        table.add_row(f"deferred: {reason}", str(n))
    console.print(table)


@broadcasts_app.command("show")
def show_command(broadcast_id: Id, workspace: Workspace, as_json: AsJson = False) -> None:
    """Its state and progress."""
    _show(broadcast_id, workspace, as_json)


def _act(broadcast_id: str, workspace: str, action: str, reason: str = "") -> None:
    now = SystemClock().now()

    async def work(session: AsyncSession) -> str:
        ws = await workspaces.find_workspace(session, workspace)
        broadcast = await service.get(session, ws.id, broadcast_id)
        if action == "pause":
            changed = await service.pause(session, broadcast, reason, now)
        elif action == "resume":
            changed = await service.resume(session, broadcast, now)
        else:
            changed = await service.cancel(session, broadcast, now)
        return f"{broadcast_id} is {broadcast.status} ({changed} messages changed)"

    typer.echo(run(work, settings()))


@broadcasts_app.command("pause")
def pause_command(
    broadcast_id: Id,
    workspace: Workspace,
    reason: Annotated[str, typer.Option()] = "paused from the command line",
) -> None:
    """Pause: unsent messages are held until it is resumed."""
    _act(broadcast_id, workspace, "pause", reason)


@broadcasts_app.command("resume")
def resume_command(broadcast_id: Id, workspace: Workspace) -> None:
    _act(broadcast_id, workspace, "resume")


@broadcasts_app.command("cancel")
def cancel_command(broadcast_id: Id, workspace: Workspace) -> None:
    """Cancel: unsent messages are withdrawn (kept in the history as not sent)."""
    _act(broadcast_id, workspace, "cancel")
