"""`threadline commerce products import FILE | list | delete SKU`: the workspace's catalog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.cli_kit import fail, run, settings
from threadline.commerce import catalog
from threadline.commerce.schemas import ImportOut, ProductOut
from threadline.kit.clock import SystemClock
from threadline.workspaces import service as workspaces

commerce_app = typer.Typer(help="Commerce: the product catalog.")
products_app = typer.Typer(help="Products of the workspace's catalog.")
commerce_app.add_typer(products_app, name="products")
Workspace = Annotated[str, typer.Option("--workspace", "-w", help="Workspace name or id")]


@products_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="CSV (ours or a Meta Commerce feed) or JSON")],
    workspace: Workspace,
) -> None:
    """Create or replace the file's products by retailer id; a bad row imports nothing."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror}") from None
    now = SystemClock().now()

    async def work(session: AsyncSession) -> ImportOut:
        ws = await workspaces.find_workspace(session, workspace)
        return await catalog.upsert(session, ws.id, catalog.parse_file(file.name, data), now)

    done = run(work, settings())
    typer.echo(f"{done.created} created, {done.updated} updated")


@products_app.command("list")
def list_command(
    workspace: Workspace, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """The catalog in retailer-id order (the first 500)."""

    async def work(session: AsyncSession) -> list[ProductOut]:
        ws = await workspaces.find_workspace(session, workspace)
        rows, _ = await catalog.list_products(session, ws.id, limit=catalog.LIST_LIMIT)
        return [catalog.product_out(row) for row in rows]

    found = run(work, settings())
    if as_json:
        typer.echo(json.dumps([p.model_dump(mode="json") for p in found], indent=2))
        return
    table = Table()
    for column in ("retailer id", "name", "price", "availability"):
        table.add_column(column)
    for p in found:
        table.add_row(p.retailer_id, p.name, f"{p.price} {p.currency}", p.availability)
    Console().print(table)


@products_app.command("delete")
def delete_command(
    retailer_id: Annotated[str, typer.Argument(help="the product's retailer id (SKU)")],
    workspace: Workspace,
) -> None:
    async def work(session: AsyncSession) -> None:
        ws = await workspaces.find_workspace(session, workspace)
        await catalog.delete(session, ws.id, retailer_id)

    run(work, settings())
    typer.echo(f"deleted {retailer_id}")
