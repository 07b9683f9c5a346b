"""Flow analytics (being written)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.flows.models import FlowVersion


async def report(
    session: AsyncSession, workspace_id: str, version: FlowVersion, conversion: str, now: datetime
) -> dict[str, Any]:
    raise NotImplementedError


def to_csv(report: dict[str, Any]) -> str:
    raise NotImplementedError
