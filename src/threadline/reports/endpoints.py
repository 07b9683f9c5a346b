"""/api/v1/reports."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from threadline.api.deps import CurrentWorkspace, Now, Session
from threadline.kit.errors import InvalidInput
from threadline.reports.cost import GroupBy, cost_report, to_csv

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


@router.get("/cost", response_model=None)
async def cost(
    session: Session,
    workspace: CurrentWorkspace,
    now: Now,
    group_by: GroupBy = "category",
    since: Annotated[datetime | None, Query(description="default: 30 days ago")] = None,
    until: Annotated[datetime | None, Query(description="default: now")] = None,
    output: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> dict[str, Any] | PlainTextResponse:
    """Messaging cost by category, market, template, campaign or day: the rate card's
    estimate before sending and the actual cost from the platform's pricing."""
    end = until or now
    start = since or end - timedelta(days=30)
    for name, value in (("since", start), ("until", end)):
        if value.tzinfo is None:
            raise InvalidInput(f"{name} needs a time zone offset (e.g. Z)", where=name)
    if start >= end:
        raise InvalidInput("since must be before until", where="since")
    report = await cost_report(session, workspace.id, group_by=group_by, since=start, until=end)
    if output == "csv":
        return PlainTextResponse(to_csv(report), media_type="text/csv")
    return report.as_dict()
