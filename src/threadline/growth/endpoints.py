"""/api/v1/growth (opt-in pages, their links, checkout opt-ins) and /api/v1/reports/growth."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import PlainTextResponse

from threadline.api.deps import CurrentWorkspace, Now, Session
from threadline.growth import checkout, links, pages, report
from threadline.growth.models import GrowthLink, OptInPage
from threadline.growth.schemas import (
    CheckoutOptInIn,
    CheckoutOptInOut,
    DisclosureOut,
    JoinedOut,
    LinkIn,
    LinkOut,
    PageIn,
    PageOut,
    PagePatch,
)
from threadline.kit.errors import InvalidInput
from threadline.workspaces.service import settings_of

router = APIRouter(prefix="/api/v1", tags=["growth"])
MAX_REPORT_DAYS = 366


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def _page_out(session: Session, request: Request, page: OptInPage) -> PageOut:
    slug = await pages.slug_of(session, page.workspace_id) or ""
    return PageOut(
        id=page.id,
        topic=page.topic,
        title=page.title,
        slug=slug,
        keyword=page.keyword.upper(),
        channels=page.channels,
        disclosure=DisclosureOut(
            text=await pages.disclosure(session, page), version=pages.disclosure_version(page)
        ),
        version=page.version,
        confirmation_text=page.confirmation_text,
        confirmation_template=page.confirmation_template,
        confirm_within_hours=page.confirm_within_hours,
        urls=await links.urls(session, _base(request), slug, page),
        created_at=page.created_at,
        updated_at=page.updated_at,
    )


async def _link_out(
    session: Session, request: Request, page: OptInPage, link: GrowthLink
) -> LinkOut:
    slug = await pages.slug_of(session, page.workspace_id) or ""
    return LinkOut(
        id=link.id,
        page_id=page.id,
        ref=link.ref,
        source=link.source,
        label=link.label,
        urls=await links.urls(session, _base(request), slug, page, link),
        created_at=link.created_at,
    )


@router.get("/growth/pages")
async def list_pages(
    request: Request, session: Session, workspace: CurrentWorkspace
) -> list[PageOut]:
    return [
        await _page_out(session, request, p) for p in await pages.list_pages(session, workspace.id)
    ]


@router.post("/growth/pages", status_code=status.HTTP_201_CREATED)
async def create_page(
    body: PageIn, request: Request, session: Session, workspace: CurrentWorkspace, now: Now
) -> PageOut:
    """A hosted sign-up page for a topic, its JOIN keyword and the first disclosure version."""
    spec = pages.PageSpec(**body.model_dump(exclude={"slug"}))
    page = await pages.create_page(session, workspace, spec, body.slug, now)
    return await _page_out(session, request, page)


@router.get("/growth/pages/{page_id}")
async def get_page(
    page_id: str, request: Request, session: Session, workspace: CurrentWorkspace
) -> PageOut:
    return await _page_out(session, request, await pages.get_page(session, workspace.id, page_id))


@router.patch("/growth/pages/{page_id}")
async def update_page(
    page_id: str,
    body: PagePatch,
    request: Request,
    session: Session,
    workspace: CurrentWorkspace,
    now: Now,
) -> PageOut:
    """Change a page; new disclosure words become a new version (grants keep theirs)."""
    page = await pages.get_page(session, workspace.id, page_id)
    spec = pages.PageSpec(**body.model_dump(exclude={"slug"}, exclude_none=True))
    page = await pages.update_page(session, workspace, page, spec, body.slug, now)
    return await _page_out(session, request, page)


@router.delete("/growth/pages/{page_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_page(page_id: str, session: Session, workspace: CurrentWorkspace) -> Response:
    page = await pages.get_page(session, workspace.id, page_id)
    await pages.delete_page(session, workspace.id, page)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/growth/pages/{page_id}/links")
async def list_links(
    page_id: str, request: Request, session: Session, workspace: CurrentWorkspace
) -> list[LinkOut]:
    page = await pages.get_page(session, workspace.id, page_id)
    return [
        await _link_out(session, request, page, link)
        for link in await pages.list_links(session, workspace.id, page.id)
    ]


@router.post("/growth/pages/{page_id}/links", status_code=status.HTTP_201_CREATED)
async def create_link(
    page_id: str,
    body: LinkIn,
    request: Request,
    session: Session,
    workspace: CurrentWorkspace,
    now: Now,
) -> LinkOut:
    """A tracked way in (a poster, a bio link, an ad): its page URL, QR codes, wa.me and m.me
    links carry the ref, and the grant records it with the source."""
    page = await pages.get_page(session, workspace.id, page_id)
    link = await pages.create_link(
        session, page, ref=body.ref, source=body.source, label=body.label, now=now
    )
    return await _link_out(session, request, page, link)


@router.post("/growth/checkout-optins", status_code=status.HTTP_201_CREATED)
async def checkout_optin(
    body: CheckoutOptInIn, session: Session, workspace: CurrentWorkspace, now: Now
) -> CheckoutOptInOut:
    """The opt-in checkbox of a checkout: a grant with the checkout's evidence, or 422 when
    the box was left unticked (nothing is granted)."""
    occurred_at = body.occurred_at or now
    if occurred_at.tzinfo is None:
        raise InvalidInput("occurred_at needs a time zone offset (e.g. Z)", where="occurred_at")
    result = await checkout.record(
        session,
        workspace,
        checkout.CheckoutOptIn(**{**body.model_dump(), "occurred_at": occurred_at}),
        now,
    )
    return CheckoutOptInOut(
        granted=[
            JoinedOut(channel=j.channel, contact_id=j.contact_id, consent_event_id=j.event.id)
            for j in result.joined
        ],
        confirmations=[c.as_dict() for c in result.confirmations],
    )


@router.get("/reports/growth", response_model=None)
async def growth_report(
    session: Session,
    workspace: CurrentWorkspace,
    now: Now,
    start: Annotated[
        date | None, Query(alias="from", description="first day; default 30 days ago")
    ] = None,
    end: Annotated[
        date | None, Query(alias="to", description="last day (included); default today")
    ] = None,
    channel: str | None = None,
    topic: str | None = None,
    output: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> dict[str, Any] | PlainTextResponse:
    """New opt-ins, opt-outs and net growth per source (and tracked ref) and day, in the
    workspace's time zone."""
    zone = settings_of(workspace).default_timezone
    last = end or now.astimezone(ZoneInfo(zone)).date()
    first = start or last - timedelta(days=29)
    if first > last:
        raise InvalidInput("from must not be after to", where="from")
    if (last - first).days >= MAX_REPORT_DAYS:
        raise InvalidInput(f"a report covers at most {MAX_REPORT_DAYS} days", where="from")
    found = await report.growth_report(
        session, workspace.id, start=first, end=last, zone=zone, channel=channel, topic=topic
    )
    if output == "csv":
        return PlainTextResponse(report.to_csv(found), media_type="text/csv")
    return found.as_dict()
