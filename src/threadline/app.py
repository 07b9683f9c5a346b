"""ASGI application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from threadline import __version__, pricing
from threadline.api.deps import AppState
from threadline.api.errors import install_error_handlers
from threadline.broadcasts.endpoints import router as broadcasts_router
from threadline.calendar.endpoints import router as calendar_router
from threadline.channels.directory import ChannelDirectory
from threadline.channels.endpoints import router as channels_router
from threadline.channels.webhooks import ROUTERS as webhook_routers
from threadline.commerce.endpoints import router as commerce_router
from threadline.commerce.endpoints import webhooks as payment_webhooks
from threadline.config import Settings
from threadline.consent.endpoints import router as consent_router
from threadline.contacts.endpoints import router as contacts_router
from threadline.conversations.endpoints import router as conversations_router
from threadline.flows.endpoints import router as flows_router
from threadline.growth.endpoints import router as growth_router
from threadline.growth.public import router as join_router
from threadline.inbox.group_commit import GroupCommit
from threadline.kit.clock import Clock, SystemClock
from threadline.kit.db import make_engine, make_sessionmaker
from threadline.messages.endpoints import router as messages_router
from threadline.policy.endpoints import router as policy_router
from threadline.reports.endpoints import router as reports_router
from threadline.secrets.endpoints import router as secrets_router
from threadline.segments.endpoints import router as segments_router
from threadline.templates.endpoints import router as templates_router
from threadline.tickets.endpoints import router as tickets_router
from threadline.worker.loop import run_worker
from threadline.worker.settings import dispatch_config
from threadline.workspaces.endpoints import router as workspace_router


def _build_state(settings: Settings, clock: Clock | None) -> AppState:
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    return AppState(
        settings=settings,
        engine=engine,
        sessions=sessions,
        clock=clock or SystemClock(),
        box=settings.secret_box(),
        channels=ChannelDirectory(settings.secret_box()),
        ingest=GroupCommit(sessions),
    )


def _make_lifespan(
    state: AppState, with_worker: bool
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        worker = None
        if with_worker:
            worker = asyncio.create_task(
                run_worker(
                    state.sessions,
                    state.box,
                    state.clock,
                    stop,
                    dispatch_config(state.settings),
                    ingest_batch=state.settings.ingest_batch,
                )
            )
        yield
        stop.set()
        if worker is not None:
            await worker
        await state.ingest.aclose()
        await state.engine.dispose()

    return lifespan


def _install_healthz(app: FastAPI, engine: AsyncEngine) -> None:
    @app.get("/healthz", tags=["ops"])
    async def healthz() -> JSONResponse:
        """Liveness and database reachability; 503 when the database does not answer."""
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (OSError, SQLAlchemyError) as exc:
            return JSONResponse(
                {"status": "unavailable", "database": type(exc).__name__}, status_code=503
            )
        return JSONResponse({"status": "ok", "version": __version__, "database": "ok"})


def _include_routers(app: FastAPI) -> None:
    for router in (
        *webhook_routers,
        payment_webhooks,
        channels_router,
        messages_router,
        workspace_router,
        contacts_router,
        consent_router,
        conversations_router,
        policy_router,
        flows_router,
        tickets_router,
        reports_router,
        templates_router,
        secrets_router,
        segments_router,
        broadcasts_router,
        growth_router,
        join_router,
        commerce_router,
        calendar_router,
    ):
        app.include_router(router)


def create_app(
    settings: Settings, clock: Clock | None = None, *, with_worker: bool = False
) -> FastAPI:
    pricing.configure(settings.rate_card)
    state = _build_state(settings, clock)
    app = FastAPI(
        title="Threadline",
        version=__version__,
        summary="Conversational-messaging CRM that enforces each channel's rules",
        lifespan=_make_lifespan(state, with_worker),
    )
    app.state.threadline = state
    install_error_handlers(app)
    _install_healthz(app, state.engine)
    _include_routers(app)
    return app
