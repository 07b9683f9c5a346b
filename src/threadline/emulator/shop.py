"""`/_emulator/shop/...`: a stand-in for the business's own order system, so that flows'
webhook nodes (order status lookups) have something real to call in the demo and tests."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import date, timedelta
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

router = APIRouter(prefix="/_emulator/shop", tags=["emulator shop"])
ORDER_ID = re.compile(r"^[A-Za-z]{0,3}-?\d{3,12}$")
STATUSES = ("processing", "shipped", "delivered", "delayed")


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ORDER_ID.pattern)
    status: Literal["processing", "shipped", "delivered", "delayed", "cancelled"]
    eta: str | None = None
    items: list[str] = Field(default_factory=list)
    delay_seconds: float = Field(default=0, ge=0, le=60, description="answer this slowly")


def _orders(request: Request) -> dict[str, OrderIn]:
    store: dict[str, OrderIn] = request.app.state.__dict__.setdefault("shop_orders", {})
    return store


def _derived(order_id: str, today: date) -> dict[str, Any]:
    """Orders nobody registered still answer, the same way every time (demo data)."""
    digest = int(hashlib.sha256(order_id.encode()).hexdigest()[:8], 16)
    status = STATUSES[digest % len(STATUSES)]
    eta = (today + timedelta(days=1 + digest % 5)).isoformat() if status != "delivered" else None
    return {"id": order_id, "status": status, "eta": eta, "items": ["Item"]}


@router.post("/orders", status_code=201)
async def add_order(body: OrderIn, request: Request) -> dict[str, Any]:
    _orders(request)[body.id.upper()] = body
    return body.model_dump()


def _seen(request: Request) -> list[dict[str, Any]]:
    log: list[dict[str, Any]] = request.app.state.__dict__.setdefault("shop_requests", [])
    return log


@router.get("/requests")
async def requests_seen(request: Request) -> list[dict[str, Any]]:
    """What the shop was asked, with the Authorization header it got (to test credentials)."""
    return _seen(request)


@router.get("/orders/{order_id}")
async def get_order(order_id: str, request: Request) -> dict[str, Any]:
    _seen(request).append(
        {"path": request.url.path, "authorization": request.headers.get("authorization")}
    )
    if not ORDER_ID.match(order_id) or order_id.startswith("000"):
        raise HTTPException(404, detail=f"no order {order_id}")
    known = _orders(request).get(order_id.upper())
    if known is None:
        return _derived(order_id.upper(), date.today())
    if known.delay_seconds:
        await asyncio.sleep(known.delay_seconds)
    return known.model_dump(exclude={"delay_seconds"})
