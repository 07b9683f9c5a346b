"""The emulator's ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from threadline.emulator.apple import router as apple_router
from threadline.emulator.catalogs import router as catalogs_router
from threadline.emulator.control import router as control_router
from threadline.emulator.graph import router as graph_router
from threadline.emulator.hooks import WebhookSender
from threadline.emulator.mail_control import router as mail_control_router
from threadline.emulator.meta_control import router as meta_control_router
from threadline.emulator.meta_send import router as meta_send_router
from threadline.emulator.pay import router as pay_router
from threadline.emulator.runtime import Runtime
from threadline.emulator.shop import router as shop_router
from threadline.emulator.sms_api import router as sms_api_router
from threadline.emulator.sms_control import router as sms_control_router
from threadline.emulator.state import EmulatorState


def create_emulator(seed: int = 0, throttle_http_status: int = 429) -> FastAPI:
    http = httpx.AsyncClient(timeout=10)
    rt = Runtime(state=EmulatorState(seed, throttle_http_status), hooks=WebhookSender(http))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        rt.hooks.start()
        yield
        await rt.hooks.stop()
        await http.aclose()

    app = FastAPI(
        title="Threadline platform emulator (WhatsApp, Messenger, Instagram, SMS, Apple)",
        lifespan=lifespan,
    )
    app.state.emulator = rt
    # Control routes first: "/_emulator/x" would otherwise match "/{version}/{object_id}".
    app.include_router(control_router)
    app.include_router(meta_control_router)
    app.include_router(shop_router)
    app.include_router(catalogs_router)
    app.include_router(pay_router)  # a payment provider with hosted links
    # The SMTP relay and its mailboxes; its router's lifespan runs the SMTP server.
    app.include_router(mail_control_router)
    app.include_router(sms_control_router)
    # Twilio's REST paths; its router's lifespan runs the SMS callback sender.
    app.include_router(sms_api_router)
    # Apple's MSP gateway: "/v1/message" must come before "/{version}/{template_id}".
    app.include_router(apple_router)
    # "/{v}/me/messages" (Messenger, Instagram) before "/{v}/{phone_number_id}/messages".
    app.include_router(meta_send_router)
    app.include_router(graph_router)
    return app
