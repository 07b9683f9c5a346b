"""/api/v1/calendar: the content calendar."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from threadline.api.deps import CurrentWorkspace, Now, Session
from threadline.calendar import service
from threadline.calendar.span import span_for
from threadline.workspaces.service import settings_of

router = APIRouter(prefix="/api/v1/calendar", tags=["calendar"])


@router.get("", response_model=None)
async def get_calendar(
    session: Session,
    workspace: CurrentWorkspace,
    now: Now,
    first: Annotated[
        date | None, Query(alias="from", description="default: 1st of this month")
    ] = None,
    last: Annotated[
        date | None, Query(alias="to", description="included; default: month end")
    ] = None,
    zone: Annotated[str | None, Query(description="IANA zone; default: the workspace's")] = None,
    output: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> dict[str, Any] | PlainTextResponse:
    """Per day and channel type: the broadcasts that go out (recipients counted once sent,
    estimated before), the automations' messages (counted, or projected from the same
    weekday of the last 4 weeks) and the totals; per segment the broadcasts address, its
    members' busiest window against each frequency cap. At most 92 days."""
    span = span_for(first, last, zone or settings_of(workspace).default_timezone, now)
    found = await service.calendar(session, workspace, span, now)
    if output == "csv":
        return PlainTextResponse(service.to_csv(found), media_type="text/csv")
    return found.as_dict()
