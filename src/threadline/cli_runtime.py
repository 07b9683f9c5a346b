"""CLI commands for channels and the long-running processes: worker and emulator."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from threadline import pricing
from threadline.channels import service as channels
from threadline.channels.kinds import Channel
from threadline.config import Settings
from threadline.kit.clock import SystemClock
from threadline.kit.db import make_engine, make_sessionmaker
from threadline.kit.logs import configure_logging
from threadline.worker.settings import dispatch_config
from threadline.workspaces import service as workspaces

channels_app = typer.Typer(
    help="Sending identities: WhatsApp numbers, Messenger pages, Instagram accounts, SMS "
    "numbers, email senders, Apple Messages for Business accounts."
)

# The options each kind cannot do without.
_REQUIRED = {
    "whatsapp": ("phone_number_id", "waba_id", "token", "app_secret", "verify_token"),
    "messenger": ("page_id", "token", "app_secret", "verify_token"),
    "instagram": ("account_id", "page_id", "token", "app_secret", "verify_token"),
    "sms": ("account_sid", "auth_token", "from_"),
    "email": ("from_", "smtp_url"),
    "apple": ("business_id", "msp_id", "secret"),
}
# The options only some kinds take (the others refuse them rather than ignore them).
_ONLY_FOR = {
    "display_number": ("whatsapp",),
    "pool": ("sms",),
    "provider_opt_out": ("sms",),
    "postal_address": ("email",),
    "from_name": ("email",),
    "dkim_selector": ("email",),
    "dkim_key_file": ("email",),
    "public_url": ("sms", "email"),
}


def _option(name: str) -> str:
    return "--" + name.rstrip("_").replace("_", "-")


def _meta_spec(kind: str, given: dict[str, Any], common: dict[str, Any]) -> channels.NewChannel:
    meta = {
        "access_token": given["token"],
        "app_secret": given["app_secret"],
        "verify_token": given["verify_token"],
        "graph_url": given["api_url"] or channels.DEFAULT_GRAPH_URL,
        "api_version": given["api_version"] or channels.DEFAULT_API_VERSION,
        **common,
    }
    if kind == "whatsapp":
        if given["display_number"]:
            meta["display_number"] = given["display_number"]
        return channels.whatsapp_number(given["phone_number_id"], given["waba_id"], **meta)
    if kind == "messenger":
        return channels.messenger_page(given["page_id"], **meta)
    return channels.instagram_account(given["account_id"], given["page_id"], **meta)


def _sms_spec(given: dict[str, Any], common: dict[str, Any]) -> channels.NewChannel:
    config = {key: given[key] for key in ("pool", "provider_opt_out", "public_url") if given[key]}
    return channels.sms_number(
        given["from_"],
        given["account_sid"],
        auth_token=given["auth_token"],
        api_url=given["api_url"] or channels.DEFAULT_SMS_API_URL,
        **common,
        **config,
    )


def _email_spec(given: dict[str, Any], common: dict[str, Any]) -> channels.NewChannel:
    from threadline.cli import fail

    key = ""
    if given["dkim_key_file"]:
        try:
            key = Path(given["dkim_key_file"]).read_text()
        except OSError as exc:
            raise fail(f"--dkim-key-file: cannot read it ({exc.strerror})") from None
    config = {
        name: given[name]
        for name in ("postal_address", "from_name", "dkim_selector", "public_url")
        if given[name]
    }
    return channels.email_sender(
        given["from_"],
        smtp_url=given["smtp_url"],
        smtp_password=given["smtp_password"] or "",
        dkim_key=key,
        **common,
        **config,
    )


def _apple_spec(given: dict[str, Any], common: dict[str, Any]) -> channels.NewChannel:
    return channels.apple_business(
        given["business_id"],
        given["msp_id"],
        secret=given["secret"],
        gateway_url=given["api_url"] or channels.DEFAULT_APPLE_GATEWAY,
        **common,
    )


def _spec(kind: str, given: dict[str, Any]) -> channels.NewChannel:
    """The registration for `kind`, or exit 2 naming the option that is missing or
    does not belong."""
    from threadline.cli import fail

    if kind not in _REQUIRED:
        raise fail(f"unknown channel kind '{kind}' (supported: {', '.join(_REQUIRED)})")
    missing = [name for name in _REQUIRED[kind] if not given.get(name)]
    if missing:
        raise fail(f"{kind} needs {', '.join(_option(name) for name in missing)}")
    for name, kinds in _ONLY_FOR.items():
        if given.get(name) and kind not in kinds:
            raise fail(f"{_option(name)} is for {' and '.join(kinds)} channels only")
    common: dict[str, Any] = {"throughput_mps": given["mps"]}
    if kind == "sms":
        return _sms_spec(given, common)
    if kind == "email":
        return _email_spec(given, common)
    if kind == "apple":
        return _apple_spec(given, common)
    return _meta_spec(kind, given, common)


_Opt = Annotated[str | None, typer.Option()]


@channels_app.command("add")
def channels_add(
    kind: Annotated[
        str,
        typer.Argument(help="Channel kind: whatsapp, messenger, instagram, sms, email, apple"),
    ],
    workspace: Annotated[str, typer.Option("--workspace", "-w")],
    token: Annotated[str | None, typer.Option(help="Meta access token (stored encrypted)")] = None,
    app_secret: Annotated[str | None, typer.Option(help="Meta app secret (encrypted)")] = None,
    verify_token: _Opt = None,
    phone_number_id: _Opt = None,
    waba_id: _Opt = None,
    page_id: _Opt = None,
    account_id: Annotated[
        str | None, typer.Option(help="Instagram professional account id")
    ] = None,
    display_number: _Opt = None,
    account_sid: Annotated[str | None, typer.Option(help="SMS provider Account SID")] = None,
    auth_token: Annotated[
        str | None, typer.Option(help="SMS provider auth token (encrypted)")
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="SMS: the E.164 number; email: the address")
    ] = None,
    pool: Annotated[
        str | None, typer.Option(help="SMS sender pool: transactional, marketing, mixed")
    ] = None,
    provider_opt_out: Annotated[
        bool, typer.Option(help="SMS: the provider answers STOP/HELP itself and blocks")
    ] = False,
    smtp_url: Annotated[str | None, typer.Option(help="Email: smtp[s]://user@host:port")] = None,
    smtp_password: Annotated[str | None, typer.Option(help="Email: SMTP password")] = None,
    from_name: _Opt = None,
    postal_address: Annotated[
        str | None, typer.Option(help="Email: the sender's postal address (marketing)")
    ] = None,
    dkim_selector: _Opt = None,
    dkim_key_file: Annotated[str | None, typer.Option(help="Email: DKIM key (PEM)")] = None,
    business_id: Annotated[str | None, typer.Option(help="Apple business id")] = None,
    msp_id: Annotated[str | None, typer.Option(help="Apple MSP id")] = None,
    secret: Annotated[str | None, typer.Option(help="Apple MSP secret, Base64")] = None,
    public_url: Annotated[
        str | None, typer.Option(help="Threadline's public URL (callbacks, unsubscribe links)")
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option("--api-url", "--graph-url", help="The platform API's root URL"),
    ] = None,
    api_version: _Opt = None,
    mps: Annotated[
        int | None, typer.Option("--mps", help="Throughput limit, messages/second")
    ] = None,
) -> None:
    """Register a sending identity of any channel type for a workspace."""
    given = {k: v for k, v in locals().items() if k not in ("kind", "workspace")}
    from threadline.cli import _run

    spec = _spec(kind, given)
    settings = Settings.from_env()
    box = settings.secret_box()
    now = SystemClock().now()

    async def work(session: AsyncSession) -> str:
        ws = await workspaces.find_workspace(session, workspace)
        channel = await channels.add(session, ws.id, spec, box, now)
        return channel.id

    typer.echo(_run(work, settings))
    if spec.kind is Channel.EMAIL:
        # Made here and sealed: the relay that posts inbound mail needs it, so it is shown once.
        typer.echo(
            f"inbound mail: POST /webhooks/email signed with X-Threadline-Signature, secret "
            f"{spec.app_secret} (shown once)",
            err=True,
        )


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
