"""CLI commands for channels and the long-running processes: worker and emulator."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from threadline import pricing
from threadline.channels import service as channels
from threadline.config import Settings
from threadline.kit.clock import SystemClock
from threadline.kit.db import make_engine, make_sessionmaker
from threadline.kit.logs import configure_logging
from threadline.worker.settings import dispatch_config
from threadline.workspaces import service as workspaces

channels_app = typer.Typer(help="Sending identities: WhatsApp numbers, Messenger pages, Instagram.")

_REQUIRED = {
    "whatsapp": ("phone_number_id", "waba_id"),
    "messenger": ("page_id",),
    "instagram": ("account_id", "page_id"),
}


def _spec(kind: str, ids: dict[str, str | None], **common: Any) -> channels.NewChannel:
    """The registration for `kind`, or exit 2 naming the option that is missing."""
    from threadline.cli import fail

    if kind not in _REQUIRED:
        raise fail(f"unknown channel kind '{kind}' (supported: {', '.join(_REQUIRED)})")
    missing = [name for name in _REQUIRED[kind] if not ids.get(name)]
    if missing:
        options = ", ".join("--" + name.replace("_", "-") for name in missing)
        raise fail(f"{kind} needs {options}")
    if kind == "whatsapp":
        return channels.whatsapp_number(str(ids["phone_number_id"]), str(ids["waba_id"]), **common)
    display = common.pop("display_number", "")
    if display:
        raise fail("--display-number is for WhatsApp numbers only")
    if kind == "messenger":
        return channels.messenger_page(str(ids["page_id"]), **common)
    return channels.instagram_account(str(ids["account_id"]), str(ids["page_id"]), **common)


@channels_app.command("add")
def channels_add(
    kind: Annotated[str, typer.Argument(help="Channel kind: whatsapp, messenger, instagram")],
    token: Annotated[str, typer.Option("--token", help="Access token (stored encrypted)")],
    app_secret: Annotated[str, typer.Option("--app-secret", help="App secret (stored encrypted)")],
    verify_token: Annotated[str, typer.Option("--verify-token")],
    workspace: Annotated[str, typer.Option("--workspace", "-w")],
    phone_number_id: Annotated[str | None, typer.Option("--phone-number-id")] = None,
    waba_id: Annotated[str | None, typer.Option("--waba-id")] = None,
    page_id: Annotated[str | None, typer.Option("--page-id")] = None,
    account_id: Annotated[
        str | None, typer.Option("--account-id", help="Instagram professional account id")
    ] = None,
    graph_url: Annotated[str, typer.Option("--graph-url")] = channels.DEFAULT_GRAPH_URL,
    api_version: Annotated[str, typer.Option("--api-version")] = channels.DEFAULT_API_VERSION,
    display_number: Annotated[str, typer.Option("--display-number")] = "",
    mps: Annotated[
        int | None, typer.Option("--mps", help="Throughput limit, messages/second")
    ] = None,
) -> None:
    """Register a WhatsApp number, a Messenger page or an Instagram account for a workspace."""
    from threadline.cli import _run

    common: dict[str, Any] = {
        "access_token": token,
        "app_secret": app_secret,
        "verify_token": verify_token,
        "graph_url": graph_url,
        "api_version": api_version,
        "throughput_mps": mps,
    }
    if display_number:
        common["display_number"] = display_number
    ids = {
        "phone_number_id": phone_number_id,
        "waba_id": waba_id,
        "page_id": page_id,
        "account_id": account_id,
    }
    spec = _spec(kind, ids, **common)
    settings = Settings.from_env()
    box = settings.secret_box()
    now = SystemClock().now()

    async def work(session: AsyncSession) -> str:
        ws = await workspaces.find_workspace(session, workspace)
        channel = await channels.add(session, ws.id, spec, box, now)
        return channel.id

    typer.echo(_run(work, settings))


def _until_signalled(main: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, main.set)


def worker(
    role: Annotated[
        str,
        typer.Option(help="all, ingest (events and flow timers) or dispatch (the outbox)"),
    ] = "all",
) -> None:
    """Run the worker: ingest platform events and dispatch the outbox until Ctrl-C."""
    from threadline.worker.loop import Role, run_worker

    try:
        chosen = Role(role)
    except ValueError:
        raise typer.BadParameter(
            f"--role must be one of {', '.join(r.value for r in Role)}, not {role!r}"
        ) from None

    settings = Settings.from_env()
    configure_logging(settings.log_level)
    pricing.configure(settings.rate_card)

    async def main() -> None:
        engine = make_engine(settings.database_url)
        stop = asyncio.Event()
        _until_signalled(stop)
        try:
            await run_worker(
                make_sessionmaker(engine),
                settings.secret_box(),
                SystemClock(),
                stop,
                dispatch_config(settings),
                chosen,
                settings.ingest_batch,
            )
        finally:
            await engine.dispose()

    asyncio.run(main())


def emulator(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8900,
    seed: Annotated[int, typer.Option(help="Seed for simulated users' behaviour")] = 0,
) -> None:
    """Run the WhatsApp Cloud API emulator."""
    import uvicorn

    from threadline.emulator.app import create_emulator

    uvicorn.run(create_emulator(seed), host=host, port=port, log_level="warning")
