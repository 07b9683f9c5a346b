"""HTTP API tests: every request goes through the ASGI app, as a client would send it.

`release_app_engine` is imported by each test module (autouse). httpx's ASGITransport never
runs the app's lifespan, so the engine the app builds is never disposed: on PostgreSQL every
test would leave its pooled connections open until the server refuses new clients. Closing
the pool after each test keeps the suite runnable on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest


@pytest.fixture(autouse=True)
async def release_app_engine(app_client: httpx.AsyncClient) -> AsyncIterator[None]:
    yield
    transport = app_client._transport
    assert isinstance(transport, httpx.ASGITransport)
    await transport.app.state.threadline.engine.dispose()  # type: ignore[attr-defined]
